"""MemoryView is the read model answerers use: they never reach into the store's tables."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

import onlook
from onlook.answer.extractive import ExtractiveAnswerer
from onlook.memory import Store
from onlook.query.search import MemoryView
from onlook.types import SpeechSegment, Word


@pytest.fixture
def view(tmp_path: Path):
    st = Store(tmp_path / "st")
    for i in range(5):
        st.add_frame(float(i), i, 1000.0 + i, i % 3, 0.1, 1.0, [])
    words = tuple(Word(w, 2.0 + 0.3 * k, 2.3 + 0.3 * k, 0.9) for k, w in enumerate("the van is here".split()))
    st.add_speech(SpeechSegment("s", 2.0, 3.2, "the van is here", words, "en", 0.8))
    kf = st.save_keyframe(np.zeros((24, 32, 3), np.uint8), 1.0)
    yield MemoryView(st), kf
    st.close()


def test_the_view_reads_what_the_store_holds(view) -> None:
    v, kf = view
    assert [r["t"] for r in v.frames(1.0, 3.0)] == [1.0, 2.0, 3.0]
    assert [r["t"] for r in v.frames(newest_first=True, limit=2)] == [4.0, 3.0]
    assert [s.text for s in v.speech(0.0, 10.0)] == ["the van is here"]
    assert [s.text for s, _ in v.search_speech(["van"])] == ["the van is here"]
    assert v.search_speech(["bicycle"]) == []
    path = v.keyframe_path(kf)
    assert path is not None and path.is_file() and v.keyframe_path(None) is None
    assert v.store_path == v.store.path


def test_answers_come_through_the_view(view) -> None:
    v, _ = view
    a = ExtractiveAnswerer().answer("what was said?", v, at=5.0)
    assert "the van is here" in a.text


def test_no_answerer_reads_the_store_directly() -> None:
    """The answer package reads memory through MemoryView only (memory owns its tables)."""
    answer_dir = Path(onlook.__file__).parent / "answer"
    offenders = [f"{p.name}:{n}" for p in sorted(answer_dir.glob("*.py"))
                 for n, line in enumerate(p.read_text().splitlines(), 1)
                 if re.search(r"\bview\.store\b", line)]
    assert offenders == []
