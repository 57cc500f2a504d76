"""Answers about holding over a built memory: a hand takes a cup, keeps it, lets go and goes."""

from __future__ import annotations

import numpy as np
import pytest

from onlook.answer.extractive import ExtractiveAnswerer
from onlook.memory import Memory, Store
from onlook.query.search import MemoryView
from onlook.types import Analysis, Frame, Observation

# 0..20 s at 2 fps. A person stands near the camera throughout; a blue cup stays on the table.
# No hand in view 0-4 s; a hand on the cup 4-10 s; the hand beside the cup 10-14 s; no hand 14-20 s.
CUP = (0.5, 0.5, 0.7, 0.8)
ON_CUP = (0.55, 0.45, 0.65, 0.6)
BESIDE = (0.1, 0.5, 0.2, 0.6)
END = 20.0


def _obs(t: float) -> list[Observation]:
    obs = [Observation(t, "person", "person", 0.9, (0.0, 0.0, 0.45, 1.0), 1, {"colors": ["gray"]}),
           Observation(t, "object", "cup", 0.7, CUP, 5, {"colors": ["blue"], "region": "centre"})]
    hand = ON_CUP if 4.0 <= t < 10.0 else BESIDE if 10.0 <= t < 14.0 else None
    if hand is not None:
        obs.append(Observation(t, "hand", "hand", 0.9, hand, None, {"side": "right"}))
    return obs


@pytest.fixture(scope="module")
def view(tmp_path_factory: pytest.TempPathFactory):
    store = Store(tmp_path_factory.mktemp("holding") / "store")
    memory = Memory(store, "cam")
    img = np.full((48, 64, 3), 90, np.uint8)
    for i in range(int(END * 2) + 1):
        t = i / 2
        memory.add(Analysis(Frame("cam", i, t, 1000.0 + t, img), _obs(t), 1.0, 1))
    yield MemoryView(store, live=memory, stream_id="cam")
    store.close()


CASES = [
    ("Is anyone holding the cup?", 6.0, True, "Yes: a hand on the cup at 00:06"),
    ("Is anyone holding the cup?", 12.0, False, "on no cup"),
    ("is the hand holding a cup right now?", 12.0, False, "on no cup"),
    ("What is the hand holding?", 6.0, ["cup"], "A hand is on: cup"),
    ("What colour is the cup the hand is holding?", 6.0, "blue", "blue (the cup with a hand on it"),
    ("What colour is the cup the hand is holding?", 16.0, None, "I see no cup with a hand on it at 00:16"),
    ("When did someone pick up the cup?", END, 4.0, "At 00:04: a hand on the cup (until 00:09"),
    ("Did the hand put the cup down?", 9.0, False, "a hand stayed on the cup from 00:04 to 00:09"),
    ("Did the hand put the cup down?", END, True, "at 00:10 the cup stayed in view with no hand on it"),
    ("When did the hand let go of the cup?", END, 10.0, "At 00:10"),
    ("Has the cup not been held by anyone so far?", END, False, "No: a hand on the cup at 00:04"),
    ("Did the hand pick up the cup in the first 3 seconds?", END, False, "No: no hand in view"),
]


@pytest.mark.parametrize(("question", "at", "value", "fragment"), CASES, ids=[f"{q}@{a:g}" for q, a, *_ in CASES])
def test_holding_answers(view: MemoryView, question: str, at: float, value: object, fragment: str) -> None:
    ans = ExtractiveAnswerer().answer(question, view, at=at)
    assert not ans.abstained and ans.value == value and fragment in ans.text, ans.text


@pytest.mark.parametrize(("question", "at", "why"), [
    ("is he holding a pen?", 6.0, "pen"),  # a pen is no perceived thing: the constraint is named
    ("Is anyone holding a cup?", 2.0, "saw no hands"),  # a person in view, no hand seen: no claim either way
    ("Did anyone pick up the cup in the first 3 seconds?", END, "saw no hands between 00:00 and 00:03"),
])
def test_holding_abstains_naming_why(view: MemoryView, question: str, at: float, why: str) -> None:
    ans = ExtractiveAnswerer().answer(question, view, at=at)
    assert ans.abstained and why in ans.text, ans.text


def test_a_long_range_is_read_from_its_latest_rows_and_says_so(view: MemoryView, monkeypatch) -> None:
    import onlook.answer.holding as holding
    monkeypatch.setattr(holding, "_ROWS", 12)  # the latest 6 s: 14.5-20 s
    ans = ExtractiveAnswerer().answer("Did the hand pick up the cup?", view, at=END)
    assert ans.value is False and "(I looked from 00:14 on)" in ans.text, ans.text


def test_most_people_reads_the_count_column(view: MemoryView) -> None:
    assert view.most_people(0.0, END) == (1, 0.0)
    assert view.most_people(30.0, 40.0) == (0, None)  # past the stored end
