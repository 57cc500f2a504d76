"""Table tests for onlook.query.parse: questions, temporal cues, colours, regions, words."""

from __future__ import annotations

import pytest

from onlook.perception.color import COLOR_NAMES
from onlook.perception.motion import REGIONS
from onlook.query.parse import (
    SUBJECTS,
    Intent,
    TimeScope,
    parse_colors,
    parse_question,
    parse_region,
    parse_time_scope,
    quoted_words,
)

# --- time scope ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "kind", "seconds"),
    [
        ("how many people now?", "now", None),
        ("How many people are there right now?", "now", None),
        ("is anyone there at the moment", "now", None),
        ("how many people are visible", "now", None),
        ("is there a person?", "now", None),
        ("how many people entered so far?", "all", None),
        ("have you seen anyone so far?", "all", None),
        ("did you see anyone in view earlier", "all", None),  # 'earlier' beats 'in view'
        ("what happened", "all", None),
        ("how many people in the last 2 minutes?", "window", 120.0),
        ("what moved in the past 30 seconds", "window", 30.0),
        ("anyone in the previous 45 s", "window", 45.0),
        ("in the last few minutes", "window", 180.0),
        ("in the past minute", "window", 60.0),
        ("in the last 1.5 hours", "window", 5400.0),
        ("in the last ten secs", "window", 10.0),
        ("what happened at the start?", "start", None),
        ("at the very beginning", "start", None),
        ("who was there when the video started", "start", None),
        ("what did you see initially", "start", None),
        ("who appeared in the first 10 seconds", "start", 10.0),
        ("in the opening 2 minutes", "start", 120.0),
        ("what was on screen at 01:05", "point", 65.0),
        ("at 1:05?", "point", 65.0),
        ("how many people at 35 s", "point", 35.0),
        ("how many people at 12.5 seconds", "point", 12.5),
        ("  HOW   MANY   PEOPLE   NOW  ", "now", None),  # case and spacing
    ],
)
def test_parse_time_scope(text: str, kind: str, seconds: float | None) -> None:
    scope = parse_time_scope(text)
    assert scope.kind == kind
    assert scope.seconds == (pytest.approx(seconds) if seconds is not None else None)


@pytest.mark.parametrize("text", [
    "what were the last words on the sign?",
    "when did the last visitors leave?",
    "how many people walked past lots of shops",
])
def test_parse_time_scope_plural_after_last_is_not_a_window(text: str) -> None:
    assert parse_time_scope(text).kind == "all"


@pytest.mark.parametrize(
    ("scope", "at", "expected"),
    [
        (TimeScope("now"), 100.0, (99.0, 100.0)),
        (TimeScope("now"), 0.5, (0.0, 0.5)),
        (TimeScope("all"), 100.0, (0.0, 100.0)),
        (TimeScope("window", 30.0), 100.0, (70.0, 100.0)),
        (TimeScope("window", 300.0), 100.0, (0.0, 100.0)),  # clipped at 0
        (TimeScope("start"), 100.0, (0.0, 10.0)),  # default start_s
        (TimeScope("start"), 4.0, (0.0, 4.0)),  # never past `at`
        (TimeScope("start", 5.0), 100.0, (0.0, 5.0)),
        (TimeScope("point", 65.0), 100.0, (64.0, 65.0)),
        (TimeScope("point", 500.0), 100.0, (99.0, 100.0)),  # a future point is clamped to `at`
        (TimeScope("point", 0.5), 100.0, (0.0, 0.5)),
    ],
)
def test_time_scope_bounds(scope: TimeScope, at: float, expected: tuple[float, float]) -> None:
    assert scope.bounds(at) == pytest.approx(expected)


def test_time_scope_bounds_custom_start() -> None:
    assert TimeScope("start").bounds(100.0, start_s=20.0) == (0.0, 20.0)


@pytest.mark.parametrize("scope", [TimeScope(k, s) for k, s in
                                   [("now", None), ("all", None), ("window", 10.0), ("start", None),
                                    ("point", 3.0), ("point", 1e9)]])
@pytest.mark.parametrize("at", [0.0, 2.0, 1000.0])
def test_time_scope_bounds_are_causal(scope: TimeScope, at: float) -> None:
    since, until = scope.bounds(at)
    assert 0.0 <= since <= until <= at


# --- colours, regions, words -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("someone in red", ("red",)),
        ("a grey coat", ("gray",)),
        ("a gray coat", ("gray",)),
        ("navy and red", ("blue", "red")),
        ("Red, RED and maroon", ("red",)),  # deduplicated, canonical
        ("crimson scarlet silver golden violet", ("red", "gray", "yellow", "purple")),
        ("a beige or tan or khaki jacket", ("brown",)),
        ("cyan turquoise magenta", ("blue", "pink")),
        ("black and white", ("black", "white")),
        ("the sky is clear", ()),
        ("", ()),
        ("reddish", ()),  # whole words only
    ],
)
def test_parse_colors(text: str, expected: tuple[str, ...]) -> None:
    assert parse_colors(text) == expected


def test_parse_colors_only_returns_known_names() -> None:
    assert set(parse_colors(" ".join(COLOR_NAMES) + " grey navy gold")) <= set(COLOR_NAMES)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("motion in the lower left", "lower left"),
        ("bottom right", "lower right"),
        ("top", "upper centre"),
        ("top left", "upper left"),
        ("upper right corner", "upper right"),
        ("at the bottom", "lower centre"),
        ("in the centre", "centre"),
        ("in the center", "centre"),
        ("in the middle", "centre"),
        ("on the left", "middle left"),
        ("to the far right", "middle right"),
        ("someone left the room", None),  # 'left' as a verb
        ("the center", None),
        ("nothing here", None),
        ("", None),
    ],
)
def test_parse_region(text: str, expected: str | None) -> None:
    assert parse_region(text) == expected
    if expected is not None and expected != "centre" and not expected.startswith("middle"):
        assert expected in REGIONS


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('when does the word "Taxi" appear?', ("taxi",)),
        ("when does the word TAXI appear?", ("taxi",)),
        ("the sign 'Open Now'", ("open", "now")),
        ("read “No Entry”", ("no", "entry")),
        ("HELLO WORLD", ("hello", "world")),
        ("a B2 bomber", ("b2",)),
        ('"stop" then STOP again', ("stop",)),  # deduplicated
        ("I saw A sign", ()),  # single capitals are not words to find
        ("no quotes here", ()),
        ("", ()),
    ],
)
def test_quoted_words(text: str, expected: tuple[str, ...]) -> None:
    assert quoted_words(text) == expected


@pytest.mark.parametrize("text", ["What's the man's jacket colour?", "don't and can't"])
def test_quoted_words_ignores_apostrophes(text: str) -> None:
    assert quoted_words(text) == ()


# --- questions -------------------------------------------------------------------------------

# question, kind, subject, action, colors, order, unknown, scope kind
QUESTIONS = [
    ("How many people are in view right now?", "count", "person", None, (), None, (), "now"),
    ("How many people entered so far?", "count", "person", "enter", (), None, (), "all"),
    ("How many people walked in during the last 2 minutes?", "count", "person", "enter", (), None, (), "window"),
    ("When did someone in red first enter?", "when", "person", "enter", ("red",), "first", (), "all"),
    ("When did the last person leave?", "when", "person", "exit", (), "last", (), "all"),
    ("When was the first scene change?", "when", "scene_cut", None, (), "first", (), "all"),
    ("How many scene changes were there?", "count", "scene_cut", None, (), None, (), "all"),
    ("What does the sign say?", "read", "text", None, (), None, (), "all"),
    ('When does the word "TAXI" appear?', "when", "text", "enter", (), None, (), "all"),
    ("What colour is the jacket of the person who entered?", "color", "person", "enter", (), None, (), "all"),
    ("What colors are in the scene?", "color", None, None, (), None, (), "now"),
    ("Is anyone there now?", "presence", "person", None, (), None, (), "now"),
    ("Did anyone wear blue so far?", "presence", "person", None, ("blue",), None, (), "all"),
    ("Is there a face visible?", "presence", "face", None, (), None, (), "now"),
    ("When did a face first appear?", "when", "face", "enter", (), "first", (), "all"),
    ("Was there any movement in the lower left?", "presence", "motion", None, (), None, (), "all"),
    ("What happened at the start?", "describe", None, None, (), None, (), "start"),
    ("Describe what is going on", "describe", None, None, (), None, (), "all"),
    ("What's going on right now?", "describe", None, None, (), None, (), "now"),
    ("What did you see in the past 30 seconds?", "describe", None, None, (), None, (), "window"),
    ("What is he carrying?", "unknown", "person", None, (), None, ("carrying",), "all"),
    ("Is the dog barking?", "presence", "object", None, (), None, ("barking",), "all"),
    ("How many cars passed?", "count", "object", None, (), None, (), "all"),
    ("When did the woman in the grey coat arrive?", "when", "person", "enter", ("gray",), None, (), "all"),
    ("Who is in the picture at 01:05?", "unknown", "person", None, (), None, (), "point"),
    ("What text was written at the beginning?", "read", "text", None, (), None, (), "start"),
    ("Is a navy car parked on the right?", "presence", "object", None, ("blue",), None, (), "all"),
    ("When did the most recent person exit?", "when", "person", "exit", (), "last", (), "all"),
    ("Did the man open the boot of the car?", "presence", "person", None, (), None, ("boot",), "all"),
]


@pytest.mark.parametrize(
    ("question", "kind", "subject", "action", "colors", "order", "unknown", "scope"),
    QUESTIONS,
    ids=[q[0] for q in QUESTIONS],
)
def test_parse_question(question: str, kind: str, subject: str | None, action: str | None,
                        colors: tuple[str, ...], order: str | None, unknown: tuple[str, ...],
                        scope: str) -> None:
    i = parse_question(question)
    assert isinstance(i, Intent)
    assert (i.kind, i.subject, i.action, i.colors, i.order, i.unknown, i.scope.kind) == (
        kind, subject, action, colors, order, unknown, scope)
    assert i.subject is None or i.subject in SUBJECTS


@pytest.mark.parametrize(
    ("question", "region", "words"),
    [
        ("Was there any movement in the lower left?", "lower left", ()),
        ("When did someone enter at the top right?", "upper right", ()),
        ('When does the word "TAXI" appear?', None, ("taxi",)),
        ("when did NO ENTRY show up", None, ("no", "entry")),
    ],
)
def test_parse_question_region_and_words(question: str, region: str | None, words: tuple[str, ...]) -> None:
    i = parse_question(question)
    assert (i.region, i.words) == (region, words)


def test_parse_question_window_scope_is_not_order_last() -> None:
    # 'last' in 'the last 2 minutes' is a window, not 'the most recent one'.
    i = parse_question("when did someone enter in the last 2 minutes?")
    assert i.order is None and i.scope == TimeScope("window", 120.0)


def test_parse_question_people_left_is_exit() -> None:
    assert parse_question("How many people left in the last 2 minutes?").action == "exit"
