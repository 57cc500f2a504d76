"""Extractive answers about speech: quotes with mm:ss times, causal, and search over what was said."""

from __future__ import annotations

from pathlib import Path

import pytest

from onlook.answer.context import build_context
from onlook.answer.extractive import ExtractiveAnswerer
from onlook.memory import Store
from onlook.query.search import MemoryView, search
from onlook.types import SpeechSegment, Word


def seg(start: float, text: str, step: float = 0.3) -> SpeechSegment:
    words = tuple(Word(w, start + i * step, start + (i + 1) * step, 0.9) for i, w in enumerate(text.split()))
    return SpeechSegment("s", start, words[-1].end, text, words, "en", 0.8)


@pytest.fixture
def view(tmp_path: Path):
    st = Store(tmp_path / "st")
    st.add_speech(seg(12.0, "the delivery will arrive at noon"))
    st.add_speech(seg(75.0, "please help me with the cover"))
    st.add_speech(seg(100.0, "help is on the way"))
    yield MemoryView(st)
    st.close()


@pytest.mark.parametrize("question, at, text_has, value", [
    ("what did he say just now?", 105.0, "01:40 “help is on the way”", "help is on the way"),
    ("what did he say just now?", 30.0, "00:12 “the delivery will arrive at noon”", "the delivery will arrive at noon"),
    ("did anyone mention the cover?", 90.0, "Yes: at 01:16", True),
    ("did anyone mention the cover?", 60.0, "No: nobody said “cover”", False),
    ("when was 'help' said?", 110.0, "At 01:15", 75.3),
    ("what was said in the last minute?", 110.0, "01:15 “please help me with the cover” 01:40", None),
    ("what was said?", 76.0, "01:15 “please help me”", None),   # cut at the question's time
])
def test_speech_answers(view: MemoryView, question: str, at: float, text_has: str, value) -> None:
    a = ExtractiveAnswerer().answer(question, view, at=at)
    assert text_has in a.text, a.text
    assert not a.abstained
    if value is not None:
        assert a.value == value
    assert all(e.t <= at for e in a.evidence)


def test_when_said_gives_the_word_span(view: MemoryView) -> None:
    a = ExtractiveAnswerer().answer("when was 'help' said?", view, at=110.0)
    assert a.span == (75.3, 75.6)
    assert "2 times in all: 01:15, 01:40" in a.text


def test_no_speech_heard_says_so(tmp_path: Path) -> None:
    with Store(tmp_path / "empty") as st:
        a = ExtractiveAnswerer().answer("what did he say just now?", MemoryView(st), at=10.0)
    assert "no speech" in a.text.lower()


def test_search_returns_the_spans_where_it_was_said(view: MemoryView) -> None:
    hits = search(view, "delivery")
    assert [(round(h.start, 2), round(h.end, 2)) for h in hits] == [(12.3, 12.6)]
    assert "said: “the delivery will arrive at noon”" == hits[0].description
    assert search(view, "help", until=80.0)[0].start == pytest.approx(75.3)
    assert len(search(view, "help", until=80.0)) == 1


def test_vlm_context_includes_the_transcript_of_its_window(view: MemoryView) -> None:
    ctx = build_context("what is going on?", view, at=110.0)
    assert "01:40 “help is on the way”" in ctx.speech
    assert "Speech heard" in ctx.text() and "01:15 “please help me with the cover”" in ctx.text()
    early = build_context("what is going on?", view, at=20.0)
    assert "help" not in early.speech and "delivery" in early.speech


def test_with_an_encoder_what_was_said_is_found_by_meaning_too(tmp_path: Path) -> None:
    from onlook.perception.encoder import FakeEncoder

    enc = FakeEncoder(dim=64)
    with Store(tmp_path / "emb") as st:
        st.add_speech(seg(5.0, "the parcel van is outside"), enc.encode_texts(["the parcel van is outside"])[0])
        # Said in French; the (fake) encoder embeds it as its meaning: no word in common with the query.
        st.add_speech(seg(40.0, "le déjeuner est prêt"), enc.encode_texts(["lunch is ready"])[0])
        view = MemoryView(st, encoder=enc)
        hits = search(view, "lunch ready")
        assert [(h.start, h.description) for h in hits] == [(40.0, "said: “le déjeuner est prêt”")]
        assert hits[0].score < 0.75  # below any match on the words themselves
        assert search(view, "parcel van")[0].start == pytest.approx(5.3)  # the words matched first
        assert search(view, "lunch ready", until=30.0) == []
        assert search(MemoryView(st), "lunch ready") == []  # no encoder: words only
