"""End to end on a built scenario: every example the query-language issue lists, answered and checked.

Scenario, 0..90 s at 2 fps (observations as perception records them, no detectors):

* a person in red comes in from the right at 5 s, walks on the right, and leaves through the left at 30 s;
* a person in blue comes in from the left at 15 s and stays on the left to the end;
* a scene cut at 40 s;
* a person in green comes in from the right at 45 s and stays on the right;
* a person in yellow comes in from the left at 50 s, stands in the centre and leaves through the left at 70 s;
* a car stands parked at the bottom right the whole time; a red car drives across the top from 20 to 35 s.

So: 0 people before 5 s, 1 to 15 s, 2 to 30 s, 1 to 45 s, 2 to 50 s, 3 to 70 s, 2 after.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from onlook.answer.extractive import ExtractiveAnswerer
from onlook.memory import Memory, Store
from onlook.query.alerts import AlertBook
from onlook.query.search import MemoryView
from onlook.types import Analysis, Frame, Observation

END = 90.0
CUT = 40.0
# colour, entered at, edge in, left at (None: stays), edge out, box while in view
PEOPLE = [
    ("red", 5.0, "right", 30.0, "left", (0.70, 0.3, 0.85, 0.9)),
    ("blue", 15.0, "left", None, None, (0.05, 0.3, 0.20, 0.9)),
    ("green", 45.0, "right", None, None, (0.75, 0.3, 0.90, 0.9)),
    ("yellow", 50.0, "left", 70.0, "left", (0.42, 0.3, 0.58, 0.9)),
]
CAR_BOX = (0.80, 0.75, 0.98, 0.95)


def _in_view(t: float) -> list[tuple[int, str, tuple[float, float, float, float]]]:
    return [(i + 1, c, box) for i, (c, t0, _, t1, _, box) in enumerate(PEOPLE) if t0 <= t and (t1 is None or t < t1)]


def analyses(step: float = 0.5) -> list[Analysis]:
    out = []
    for k in range(int(END / step) + 1):
        t = round(k * step, 3)
        obs: list[Observation] = []
        for tid, colour, box in _in_view(t):
            obs.append(Observation(t, "person", "person", 0.9, box, tid, {"colors": [colour]}))
        for i, (colour, t0, e0, t1, e1, box) in enumerate(PEOPLE):
            if t == t0:
                obs.append(Observation(t, "enter", "person", 0.9, box, i + 1, {"edge": e0, "colors": [colour]}))
            if t1 is not None and t == t1:
                obs.append(Observation(t, "exit", "person", 0.9, box, i + 1, {"edge": e1, "colors": [colour]}))
        obs.append(Observation(t, "object", "car", 0.8, CAR_BOX, 100, {"stationary": True, "colors": ["white"],
                                                                       "since": 0.0}))
        if 20.0 <= t < 35.0:  # a second car drives across the top
            x = (t - 20.0) / 15.0 * 0.8
            obs.append(Observation(t, "object", "car", 0.8, (x, 0.05, x + 0.15, 0.2), 101,
                                   {"stationary": False, "colors": ["red"], "since": 20.0}))
        if _in_view(t):
            obs.append(Observation(t, "motion", "centre", 0.2, None, None, {"regions": ["centre"]}))
        if t == CUT:
            obs.append(Observation(t, "scene_cut", "scene change", 0.9))
        img = np.full((96, 128, 3), 60 if t < CUT else 160, np.uint8)
        img[:, int(t * 7) % 128] = 250  # every frame differs a little
        out.append(Analysis(Frame("cam", k, t, 1000.0 + t, img), obs, 1.0, len(_in_view(t))))
    return out


@pytest.fixture(scope="module")
def view(tmp_path_factory: pytest.TempPathFactory) -> MemoryView:
    store = Store(Path(tmp_path_factory.mktemp("issue")) / "store")
    mem = Memory(store, "cam", recent_window=16)
    for a in analyses():
        mem.add(a)
    yield MemoryView(store, live=mem, stream_id="cam")
    store.close()


def near(x: float, want: float, tol: float = 1.0) -> bool:
    return abs(float(x) - want) <= tol


# (question, asked at, check of the answer's value, what the text must contain or None)
QUESTIONS: list[tuple[str, float, Callable[[object], bool], str | None]] = [
    # presence and absence, now
    ("Is the place empty right now?", 20.0, lambda v: v is False, None),
    ("Are there no people in view?", 20.0, lambda v: v is False, None),
    ("Is the place empty right now?", 3.0, lambda v: v is True, None),
    # the region is applied, not dropped
    ("How many people are on the left right now?", 60.0, lambda v: v == 1, None),
    ("How many people are on the right right now?", 60.0, lambda v: v == 1, None),
    # time ranges, "ago", after an event, ordinals
    ("How many people entered between 0:10 and 0:40?", 85.0, lambda v: v == 1, None),
    # "a minute ago" is around then: a quarter of the distance either side (85 s: 10-40 s)
    ("How many people entered a minute ago?", 85.0, lambda v: v == 1, None),
    ("How many people entered after the first scene change?", 85.0, lambda v: v == 2, None),
    ("When did the second person enter?", 85.0, lambda v: near(v, 15.0), None),
    ("When did the last person come in?", 85.0, lambda v: near(v, 50.0), None),
    # clothing: "in the red shirt", "wearing red"; ALL CAPS is a question, not on-screen text
    ("When did the person in the red shirt leave?", 85.0, lambda v: near(v, 30.0), None),
    ("How many people wearing red came in?", 85.0, lambda v: v == 1, None),
    ("HOW MANY PEOPLE ARE HERE RIGHT NOW?", 60.0, lambda v: v == 3, None),
    ("headcount?", 60.0, lambda v: v == 3, None),
    ("Who came in first?", 85.0, lambda v: v is not None, "red"),
    # an aside about the parked cars restricts nothing; the current shot began at the cut
    ("How many people can you see right now, including anyone over by the parked cars?", 60.0,
     lambda v: v == 3, None),
    ("When did the current shot begin?", 85.0, lambda v: near(v, CUT), None),
    # the most at once, how long
    ("What is the most people you saw at once?", 85.0, lambda v: v == 3, None),
    # the parked/moving filter is applied, not dropped (two cars in view at 00:30, one of them parked)
    ("How many parked cars are there now?", 30.0, lambda v: v == 1, None),
    ("How many cars are there now?", 30.0, lambda v: v == 2, None),
    ("How many moving cars are there right now?", 30.0, lambda v: v == 1, None),
]


@pytest.mark.parametrize("question", ["How many large cars are there now?",  # no size is measured
                                      "When did a parked car leave?"])  # exits do not say "parked"
def test_filters_perception_cannot_apply_are_named(view: MemoryView, question: str) -> None:
    ans = ExtractiveAnswerer().answer(question, view, at=60.0)
    assert ans.abstained, ans.text


@pytest.mark.parametrize(("question", "at", "check", "text"), QUESTIONS,
                         ids=[f"{q[0]} @{q[1]:g}" for q in QUESTIONS])
def test_issue_question(view: MemoryView, question: str, at: float, check, text: str | None) -> None:
    ans = ExtractiveAnswerer().answer(question, view, at=at)
    assert not ans.abstained, ans.text
    assert check(ans.value), f"{question!r} @{at}: value {ans.value!r}; {ans.text}"
    if text:
        assert text in ans.text.lower(), ans.text


def test_constraints_are_said_in_the_answer(view: MemoryView) -> None:
    ans = ExtractiveAnswerer().answer("How many people are on the left right now?", view, at=60.0)
    assert "left" in ans.text and "01:00" in ans.text, ans.text  # "1 person on the left at 01:00"


def test_a_follow_up_moves_on_instead_of_repeating(view: MemoryView) -> None:
    a = ExtractiveAnswerer()
    first = a.answer("When did someone come in?", view, at=85.0)
    assert near(first.value, 5.0), first.text
    history = [{"question": "When did someone come in?", "answer": first.text, "span": first.span,
                "evidence": [e.t for e in first.evidence]}]
    then = a.answer("and after that?", view, at=85.0, history=history)
    assert near(then.value, 15.0) and then.text != first.text, then.text


def test_multiple_choice_with_an_unseeable_option(view: MemoryView) -> None:
    # The question is about a colour perception sees; an option about a hat is unknown, not fatal.
    ans = ExtractiveAnswerer().choose("What colour was the first person who came in wearing?",
                                      ["A. A blue hat", "B. Red", "C. Green"], view, at=85.0)
    assert ans.value == "B", ans.text


def _fired(query: str) -> list[float]:
    book = AlertBook("cam")
    book.add(query)
    return [al.t for a in analyses() for al in book.check(a)]


@pytest.mark.parametrize(("query", "times"), [
    ("when the room is not empty", [5.0]),  # fires as people arrive, not when it empties
    ("someone comes from the left", [15.0, 50.0]),  # entries from the left only
    ("3+ people visible", [50.0]),  # a count rule, not an entry rule
    ("a person is present", [5.0]),
    ("the number of people drops below 3", [0.0, 70.0]),  # true at the start, and again as yellow leaves
    ("someone in red leaves through the left", [30.0]),
    ("if more than 2 people are visible", [50.0]),
])
def test_issue_alert(query: str, times: list[float]) -> None:
    assert _fired(query) == times
