"""Transcript segments in the store: word times, full-text search, causality, budget, reopening."""

from __future__ import annotations

from pathlib import Path

import pytest

from onlook.memory import Store
from onlook.memory.transcripts import fts_query
from onlook.types import SpeechSegment, Word


def seg(start: float, text: str, step: float = 0.3) -> SpeechSegment:
    words = tuple(Word(w, start + i * step, start + (i + 1) * step, 0.9) for i, w in enumerate(text.split()))
    return SpeechSegment("s", start, words[-1].end, text, words, "en", 0.8, wall=100.0 + start)


@pytest.mark.parametrize("words, phrase, expected", [
    (["delivery"], False, '"delivery"*'),
    (["van", "delivery"], False, '"van" OR "delivery"*'),
    (["the", "cover"], True, '"the cover"'),
    (["it's"], False, '"it\'s"*'),
    (["van"], False, '"van"'),
    (['"quote"'], False, '"quote"*'),
    ([], False, ""),
])
def test_fts_query(words: list[str], phrase: bool, expected: str) -> None:
    assert fts_query(words, phrase=phrase) == expected


def test_segments_round_trip_with_word_times(tmp_path: Path) -> None:
    with Store(tmp_path / "st") as st:
        sid = st.add_speech(seg(2.0, "the delivery will arrive at noon"))
        got = st.speech()
    assert len(got) == 1 and got[0].id == sid
    g = got[0]
    assert g.text == "the delivery will arrive at noon" and g.language == "en"
    assert [w.text for w in g.words][:2] == ["the", "delivery"]
    assert g.words[1].start == pytest.approx(2.3)


def test_search_finds_what_was_said_and_respects_until(tmp_path: Path) -> None:
    with Store(tmp_path / "st") as st:
        st.add_speech(seg(2.0, "the delivery will arrive at noon"))
        st.add_speech(seg(30.0, "please help me with the cover"))
        st.add_speech(seg(60.0, "deliveries come on mondays"))
        hits = [s.start for s, _ in st.search_speech(["delivery"])]
        assert sorted(hits) == [2.0]  # prefix: 'delivery*' does not match 'deliveries'
        assert sorted(s.start for s, _ in st.search_speech(["deliver"])) == [2.0, 60.0]
        assert st.search_speech(["cover"], until=20.0) == []
        assert [s.start for s, _ in st.search_speech(["help", "cover"], phrase=True)] == []
        assert [s.start for s, _ in st.search_speech(["the", "cover"], phrase=True)] == [30.0]
        assert [s.start for s in st.speech(25.0, 35.0)] == [30.0]


def test_speech_is_kept_across_reopening_and_read_only(tmp_path: Path) -> None:
    with Store(tmp_path / "st") as st:
        st.add_speech(seg(1.0, "first words"))
    with Store(tmp_path / "st") as st:
        st.add_speech(seg(9.0, "second words"))
        with Store(tmp_path / "st", readonly=True) as ro:
            assert [s.text for s in ro.speech()] == ["first words", "second words"]
            assert [s.text for s, _ in ro.search_speech(["second"])] == ["second words"]
        assert st.record(10, [])["speech"][-1].text == "second words"


def test_a_store_without_speech_reads_as_none(tmp_path: Path) -> None:
    import sqlite3

    from onlook.memory.store import _SCHEMA  # every table but speech's: a store from before speech

    (tmp_path / "old").mkdir()
    sqlite3.connect(tmp_path / "old" / "onlook.db").executescript(_SCHEMA)
    with Store(tmp_path / "old", readonly=True) as ro:
        assert ro.speech() == [] and ro.search_speech(["x"]) == []


def test_budget_evicts_old_speech_and_its_index(tmp_path: Path) -> None:
    with Store(tmp_path / "st", budget_bytes=10**9) as st:
        for i in range(40):
            st.add_speech(seg(i * 10.0, f"word{i} and more words spoken here"))
        st.budget_bytes = 1  # nothing else in the store: speech is what goes
        st.enforce_budget()
        left = st.speech()
        assert 0 < len(left) < 40
        assert all(s.start >= left[0].start for s in left)
        assert st.search_speech(["word0"]) == []  # the index forgot it too
        assert st.search_speech([left[-1].text.split()[0]])
