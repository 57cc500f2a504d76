"""Questions about objects, answered from a synthetic memory (no footage, no models).

Scenario, 0..40 s at 2 fps: a car (track 11, red) parked in the lower left the whole time; a dog
(track 12) appears at 10 s through the right edge and leaves at 20 s; a second car (track 13, white)
appears at 25 s and stays; a bicycle (track 14) is seen 30-32 s.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from onlook.answer.extractive import ExtractiveAnswerer
from onlook.memory import Memory, Store
from onlook.query.search import MemoryView, search
from onlook.types import Analysis, Frame, Observation, ObservationKind

END = 40.0
TRACKS = {11: ("car", 0.0, END, (0.05, 0.6, 0.35, 0.9), ["red"]),
          12: ("dog", 10.0, 20.0, (0.7, 0.5, 0.9, 0.8), ["brown"]),
          13: ("car", 25.0, END, (0.5, 0.6, 0.8, 0.9), ["white"]),
          14: ("bicycle", 30.0, 32.0, (0.4, 0.3, 0.5, 0.6), [])}
APPEARS = {10.0: (12, "right"), 25.0: (13, "inside")}
GONE = {20.5: (12, "right")}


def _analyses() -> list[Analysis]:
    img = np.full((48, 64, 3), 80, np.uint8)
    out = []
    for i in range(int(END / 0.5) + 1):
        t = round(i * 0.5, 3)
        obs = [Observation(t, ObservationKind.OBJECT, lab, 0.8, box, tid, {"colors": cols, "stationary": True})
               for tid, (lab, t0, t1, box, cols) in TRACKS.items() if t0 <= t <= t1]
        if t in APPEARS:
            tid, edge = APPEARS[t]
            lab, _, _, box, cols = TRACKS[tid]
            obs.append(Observation(t, ObservationKind.APPEAR, lab, 0.8, box, tid, {"edge": edge, "colors": cols}))
        if t in GONE:
            tid, edge = GONE[t]
            lab, _, _, box, cols = TRACKS[tid]
            obs.append(Observation(t, ObservationKind.DISAPPEAR, lab, 0.8, box, tid, {"edge": edge, "colors": cols}))
        out.append(Analysis(Frame("cam", i, t, 1000.0 + t, img), obs, 1.0, 0))
    return out


@pytest.fixture(scope="module")
def view(tmp_path_factory: pytest.TempPathFactory):
    store = Store(Path(tmp_path_factory.mktemp("objects")) / "store")
    memory = Memory(store, "cam")
    for a in _analyses():
        memory.add(a)
    yield MemoryView(store, live=memory, stream_id="cam")
    store.close()


CASES = [
    # question, asked at, value, text fragment
    ("How many cars are there now?", END, 2, "2 cars visible at 00:40"),
    ("How many cars are there now?", 15.0, 1, "1 car visible at 00:15"),
    ("how many vehicles are there?", 31.0, 3, "2 cars and 1 bicycle"),
    ("Is there a dog?", 15.0, True, "Yes"),
    ("Is there a dog?", 30.0, False, "No"),
    ("Was there a dog?", 30.0, True, "Yes"),
    ("Were there any bicycles?", 20.0, False, "No bicycles seen"),
    ("When did the dog appear?", END, 10.0, "At 00:10"),
    ("When did the dog leave?", END, 20.5, "At 00:20"),
    ("When was a bicycle first seen?", END, 30.0, "At 00:30"),
    ("How many cars did you see in total?", END, 2, "2 cars seen"),
    ("How many cars passed?", 20.0, 0, "0 cars seen moving"),  # the only car stood parked
    ("Did a car drive through?", 20.0, False, "No cars seen moving"),
    ("Is the car moving?", 15.0, False, "1 car visible at 00:15, standing still"),
    ("How many dogs arrived?", END, 1, "1 dog appeared"),
    ("What colour is the car?", 10.0, "red", "red"),
    # Region, absence, comparison and edge constraints are applied and said, never dropped.
    ("How many cars are on the left right now?", END, 1, "1 car on the left visible at 00:40"),
    ("How many cars are on the right right now?", END, 0, "0 cars on the right at 00:40 (2 cars elsewhere"),
    ("Are there no cars on the right side?", END, True, "Yes: 0 cars on the right"),
    ("Are there no cars on the left side?", END, False, "No: 1 car on the left"),
    ("Are there 2+ cars?", END, True, "Yes: 2 cars"),
    ("Are there 3+ cars?", END, False, "No: 2 cars"),
    ("Did a dog come in from the right?", END, True, "appeared through the right edge"),
    ("Did a dog come in from the left?", END, False, "No dogs appeared through the left edge"),
    ("Was there a dog on the right?", 30.0, True, "Yes"),
    ("Was there a dog on the left?", 30.0, False, "No dogs seen on the left"),
    ("What colour is the dog?", 30.0, "brown", "brown (none in view at 00:30; a dog seen from 00:10)"),
    # Listing: everything in view now, or seen over a range.
    ("What's in the picture now?", 15.0, ["car", "dog"], "At 00:15: 1 car and 1 dog."),
    ("What is there right now?", 31.0, ["bicycle", "car", "car"], "2 cars and 1 bicycle"),
    ("What vehicles did you see so far?", END, True, "2 cars and 1 bicycle seen up to 00:40"),
    ("What was visible in the last 10 seconds?", END, ["bicycle", "car", "car"], "Between 00:30 and 00:40"),
]


@pytest.mark.parametrize(("question", "at", "value", "fragment"), CASES, ids=[f"{c[0]}@{c[1]}" for c in CASES])
def test_object_answers(view: MemoryView, question: str, at: float, value, fragment: str) -> None:
    ans = ExtractiveAnswerer().answer(question, view, at=at)
    assert not ans.abstained, ans.text
    assert ans.value == value, ans.text
    assert fragment in ans.text


def test_answers_about_objects_are_causal(view: MemoryView) -> None:
    ans = ExtractiveAnswerer().answer("When did the dog appear?", view, at=5.0)
    assert ans.value is None and "No dogs seen" in ans.text


def test_search_finds_the_spans_of_a_class_and_its_group(view: MemoryView) -> None:
    hits = search(view, "bicycle")
    assert hits and all(h.start <= 32.0 and h.end >= 30.0 for h in hits[:1])
    assert search(view, "dog") and search(view, "vehicle")
    assert not search(view, "giraffe")


def test_a_multiple_choice_about_objects_is_checked_on_what_is_in_view(view: MemoryView) -> None:
    options = ["A. A dog and a bus", "B. Two cars", "C. No vehicles at all", "D. A bus driving along the road"]
    ans = ExtractiveAnswerer().choose("Which vehicles can you see right now?", options, view, at=END)
    assert ans.value == "B", ans.text
    ans = ExtractiveAnswerer().choose("Which animal can you see right now?", ["A. A cat", "B. A dog", "C. No animal"],
                                      view, at=15.0)
    assert ans.value == "B", ans.text
    ans = ExtractiveAnswerer().choose("Which animal can you see right now?", ["A. A cat", "B. A dog", "C. No animal"],
                                      view, at=30.0)
    assert ans.value == "C", ans.text


def test_the_only_thing_of_its_kind_in_view_is_answered_despite_an_unchecked_description(view: MemoryView):
    a = ExtractiveAnswerer()
    ans = a.answer("What colour is the dog near the car?", view, at=15.0)
    assert not ans.abstained and "brown" in ans.text
    assert "the only dog in view; not checked: car" in ans.text and ans.confidence < 0.5


@pytest.mark.parametrize(("question", "at"), [
    ("What colour is the car near the bench?", END),  # two cars in view: the description would decide which
    ("What colour is a dog near the car?", 15.0),  # not a definite one
    ("When did the dog near the car leave?", END),  # not about now: who was the only one then is not asked
])
def test_an_unchecked_description_still_abstains_when_it_could_matter(view: MemoryView, question: str, at: float):
    assert ExtractiveAnswerer().answer(question, view, at=at).abstained


def test_with_none_of_its_kind_in_view_the_description_does_not_matter(view: MemoryView):
    ans = ExtractiveAnswerer().answer("Is the dog near the car brown?", view, at=5.0)
    assert ans.value is False and "0 dogs" in ans.text and "the only" not in ans.text
