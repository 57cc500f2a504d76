"""Questions and alerts about what is said: pure parsing, and speech alerts with hysteresis."""

from __future__ import annotations

import pytest

from onlook.errors import UnsupportedQuery
from onlook.query.alerts import AlertBook, compile_alert
from onlook.query.speech import parse_speech_question, speech_alert_words, words_match
from onlook.types import SpeechSegment, Word


@pytest.mark.parametrize("question, kind, words, recent", [
    ("what did he say just now?", "said", (), True),
    ("What was said in the last minute?", "said", (), False),
    ("what are they talking about?", "said", (), False),
    ("did anyone mention the cover?", "mention", ("cover",), False),
    ('did someone say "help"?', "mention", ("help",), False),
    ("when was 'help' said?", "when", ("help",), False),
    ("when did someone mention the alarm?", "when", ("alarm",), False),
    ("what does the sign say?", None, None, None),          # on-screen text
    ("how many people entered so far?", None, None, None),
    ("when did someone first enter?", None, None, None),
    ("what is written on the screen?", None, None, None),
])
def test_parse_speech_question(question: str, kind: str | None, words: tuple | None, recent: bool | None) -> None:
    it = parse_speech_question(question)
    if kind is None:
        assert it is None
        return
    assert it is not None and (it.kind, it.words, it.recent) == (kind, words, recent)


def test_question_scope_is_parsed() -> None:
    it = parse_speech_question("what was said in the last minute?")
    assert it is not None and (it.scope.kind, it.scope.seconds) == ("window", 60.0)


@pytest.mark.parametrize("query, words", [
    ("someone says help", ("help",)),
    ("when someone mentions the alarm", ("alarm",)),
    ('someone shouts "fire"', ("fire",)),
    ("help is said", ("help",)),
    ("someone talks about the delivery van", ("delivery", "van")),
    ("the word TAXI appears", None),
    ("a sign saying EXIT appears", None),
    ("a person enters the view", None),
])
def test_speech_alert_words(query: str, words: tuple | None) -> None:
    assert speech_alert_words(query) == words


@pytest.mark.parametrize("wanted, heard, ok", [
    (("help",), "Please, help me!", True),
    (("alarm",), "The alarms went off", True),
    (("cover",), "We discovered it", False),
    (("van",), "a vanilla cake", False),
    (("delivery", "van"), "the van brings the delivery", True),
    (("delivery", "van"), "the delivery is late", False),
])
def test_words_match(wanted: tuple, heard: str, ok: bool) -> None:
    assert words_match(wanted, heard) is ok


def said(start: float, text: str) -> SpeechSegment:
    words = tuple(Word(w, start + i * 0.3, start + (i + 1) * 0.3) for i, w in enumerate(text.split()))
    return SpeechSegment("s", start, words[-1].end, text, words)


def test_speech_alert_fires_at_the_word_with_hysteresis() -> None:
    book = AlertBook("s", text_repeat_s=30.0)
    assert compile_alert("someone says help").kind == "speech"
    book.add("someone says help")
    first = book.check_speech(said(5.0, "please help me"), wall=1.0)
    assert [(a.query, round(a.t, 2)) for a in first] == [("someone says help", 5.3)]
    assert first[0].evidence[0].kind == "speech"
    assert book.check_speech(said(8.0, "help now"), wall=2.0) == []  # the same call for help, 3 s on
    assert book.check_speech(said(50.0, "nothing here"), wall=3.0) == []
    again = book.check_speech(said(60.0, "help again"), wall=4.0)  # 52 s later: a new call
    assert [round(a.t, 1) for a in again] == [60.0]


def test_speech_alerts_do_not_fire_on_frames_and_are_refused_without_speech() -> None:
    import numpy as np

    from onlook.types import Analysis, Frame

    book = AlertBook("s")
    book.add("someone says help")
    frame = Frame("s", 0, 1.0, 0.0, np.zeros((4, 4, 3), np.uint8))
    assert book.check(Analysis(frame, [])) == []
    deaf = AlertBook("s", hears=False)
    with pytest.raises(UnsupportedQuery, match="speech"):
        deaf.add("someone says help")
    deaf.add("a person enters the view")  # visual alerts are unaffected
