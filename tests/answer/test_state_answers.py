"""Questions about face state, answered from a synthetic memory (no footage, no models).

Scenario, 0..10 s at 2 fps: one face read on every frame; its mouth is wide open at 2.0 s and again
from 6.0 to 7.0 s; its eyes are closed at 4.0-4.5 s; it faces the camera throughout.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from onlook.answer.extractive import ExtractiveAnswerer
from onlook.memory import Memory, Store
from onlook.query.search import MemoryView
from onlook.types import Analysis, Frame, Observation, ObservationKind

END = 10.0
OPEN = {2.0, 6.0, 6.5, 7.0}
SHUT = {4.0, 4.5}
BOX = (0.3, 0.2, 0.6, 0.7)


def _analyses() -> list[Analysis]:
    img = np.full((48, 64, 3), 80, np.uint8)
    out = []
    prev = {"mouth_open": False, "eyes_closed": False}
    for i in range(int(END / 0.5) + 1):
        t = round(i * 0.5, 3)
        now = {"mouth_open": t in OPEN, "eyes_closed": t in SHUT}
        obs = [Observation(t, ObservationKind.FACE, "face", 0.9, BOX),
               Observation(t, ObservationKind.FACE_STATE, "x", 0.9, BOX,
                           attrs={**now, "facing_camera": True, "face": 1})]
        for k, v in now.items():
            if v != prev[k]:
                obs.append(Observation(t, ObservationKind.FACE_STATE, k, 0.9, BOX,
                                       attrs={"change": k, "on": v, "face": 1, "since": t - 0.5}))
        prev = now
        out.append(Analysis(Frame("cam", i, t, 1000.0 + t, img), obs, 1.0, 1))
    return out


@pytest.fixture(scope="module")
def view(tmp_path_factory: pytest.TempPathFactory):
    store = Store(Path(tmp_path_factory.mktemp("states")) / "store")
    memory = Memory(store, "cam")
    for a in _analyses():
        memory.add(a)
    yield MemoryView(store, live=memory, stream_id="cam")
    store.close()


CASES = [
    # question, asked at, value, span or None
    ("When did the man first open his mouth wide?", END, 1.75, (1.75, 2.25)),
    ("When did he last open his mouth?", END, 5.75, (5.75, 7.25)),
    ("How many times did he open his mouth wide?", END, 2, None),
    ("How many times did he open his mouth in the last 5 seconds?", END, 1, None),
    ("When did she close her eyes?", END, 3.75, (3.75, 4.75)),
    ("Is his mouth open right now?", 6.5, True, None),
    ("Is his mouth open right now?", 8.0, False, None),
    ("Are his eyes closed now?", 4.0, True, None),
    ("Is he looking at the camera?", 5.0, True, None),
    ("Did he yawn?", 1.0, False, None),
]


@pytest.mark.parametrize(("question", "at", "value", "span"), CASES, ids=[f"{q} @{a}" for q, a, _, _ in CASES])
def test_state_questions(view: MemoryView, question: str, at: float, value, span) -> None:
    a = ExtractiveAnswerer().answer(question, view, at=at)
    assert not a.abstained, a.text
    assert a.value == value, a.text
    if span is not None:
        assert a.span == pytest.approx(span), a.text


def test_no_face_read_is_an_abstention(tmp_path: Path) -> None:
    store = Store(tmp_path / "store")
    memory = Memory(store, "cam")
    img = np.full((48, 64, 3), 80, np.uint8)
    for i in range(4):
        memory.add(Analysis(Frame("cam", i, i * 0.5, 0.0, img), [], 1.0, 0))
    a = ExtractiveAnswerer().answer("When did he open his mouth?", MemoryView(store, live=memory, stream_id="cam"))
    store.close()
    assert a.abstained and "no face" in a.text


@pytest.fixture(scope="module")
def hands_view(tmp_path_factory: pytest.TempPathFactory):
    """0..10 s at 2 fps: a hand in view from 3.0 to 8.0 s, raised at 6.0-6.5 s."""
    store = Store(Path(tmp_path_factory.mktemp("hands")) / "store")
    memory = Memory(store, "cam")
    img = np.full((48, 64, 3), 80, np.uint8)
    for i in range(21):
        t = i * 0.5
        obs = ([Observation(t, ObservationKind.HAND, "hand", 0.9, (0.4, 0.0, 0.6, 0.3),
                            attrs={"side": "left", "raised": 6.0 <= t <= 6.5})] if 3.0 <= t <= 8.0 else [])
        memory.add(Analysis(Frame("cam", i, t, 1000.0 + t, img), obs, 1.0, 0))
    yield MemoryView(store, live=memory, stream_id="cam")
    store.close()


HAND_CASES = [
    ("Is there a hand visible right now?", 4.0, True),
    ("Is there a hand visible right now?", 9.0, False),
    ("How many hands can you see?", 5.0, 1),
    ("When did a hand first appear?", 10.0, 3.0),
    ("Has anyone raised a hand?", 10.0, True),
    ("Has anyone raised a hand?", 5.0, False),
]


@pytest.mark.parametrize(("question", "at", "value"), HAND_CASES, ids=[f"{q} @{a}" for q, a, _ in HAND_CASES])
def test_hand_questions(hands_view: MemoryView, question: str, at: float, value) -> None:
    a = ExtractiveAnswerer().answer(question, hands_view, at=at)
    assert not a.abstained, a.text
    assert a.value == value, a.text


@pytest.fixture(scope="module")
def pose_view(tmp_path_factory: pytest.TempPathFactory):
    """0..10 s at 2 fps: one person (track 3) standing, sitting from 4.0 s, arm raised at 7.0-7.5 s."""
    store = Store(Path(tmp_path_factory.mktemp("pose")) / "store")
    memory = Memory(store, "cam")
    img = np.full((48, 64, 3), 80, np.uint8)
    prev: dict[str, bool] = {}
    for i in range(21):
        t = i * 0.5
        now = {"standing": t < 4.0, "sitting": t >= 4.0, "lying": False, "arm_raised": 7.0 <= t <= 7.5}
        obs = [Observation(t, ObservationKind.PERSON, "person", 0.9, BOX, 3),
               Observation(t, ObservationKind.POSE, "x", 0.9, BOX, 3, attrs={**now, "person": 3})]
        for k, v in now.items():
            if k in prev and prev[k] != v:
                obs.append(Observation(t, ObservationKind.POSE, k, 0.9, BOX, 3,
                                       attrs={"change": k, "on": v, "person": 3, "since": t - 0.5}))
        prev = now
        memory.add(Analysis(Frame("cam", i, t, 1000.0 + t, img), obs, 1.0, 1))
    yield MemoryView(store, live=memory, stream_id="cam")
    store.close()


POSE_CASES = [
    ("When did he sit down?", 10.0, 3.75),
    ("Is anyone sitting right now?", 2.0, False),
    ("Is anyone sitting right now?", 6.0, True),
    ("When did someone raise an arm?", 10.0, 6.75),
    ("Is the man standing?", 2.0, True),
]


@pytest.mark.parametrize(("question", "at", "value"), POSE_CASES, ids=[f"{q} @{a}" for q, a, _ in POSE_CASES])
def test_pose_questions(pose_view: MemoryView, question: str, at: float, value) -> None:
    a = ExtractiveAnswerer().answer(question, pose_view, at=at)
    assert not a.abstained, a.text
    assert a.value == value, a.text


def test_multiple_choice_checks_the_posture_an_option_names(pose_view: MemoryView) -> None:
    a = ExtractiveAnswerer().choose("Is the man sitting or standing?", ["A. Sitting", "B. Standing"], pose_view,
                                    at=6.0)
    assert a.value == "A", a.text
    a = ExtractiveAnswerer().choose("Is the man sitting or standing?", ["A. Sitting", "B. Standing"], pose_view,
                                    at=2.0)
    assert a.value == "B", a.text


@pytest.mark.parametrize(("question", "at", "said"), [
    ("What's his mouth doing right now?", 6.5, "The mouth is open wide at 00:06"),
    ("What's his mouth doing right now?", 8.0, "The mouth is not open wide at 00:08"),
    ("What are her eyes doing?", 4.0, "The eyes are closed at 00:04"),
    ("Where is he looking?", 5.0, "The face is turned to the camera at 00:05"),
])
def test_what_a_part_is_doing_is_its_state(view: MemoryView, question: str, at: float, said: str) -> None:
    a = ExtractiveAnswerer().answer(question, view, at=at)
    assert not a.abstained and a.text.startswith(said), a.text


@pytest.mark.parametrize(("question", "at", "options", "letter"), [
    ("What's his mouth doing right now?", 6.5, ["A. Closed", "B. Wide open, as if shouting", "C. Covered by a hand"],
     "B"),
    ("What's his mouth doing right now?", 8.0, ["A. Wide open", "B. A closed-lip smile", "C. Closed"], "C"),
    ("Is he looking into the camera or somewhere else?", 5.0,
     ["A. Out of the side window", "B. Into the camera", "C. He has his eyes closed"], "B"),
])
def test_bare_options_read_as_the_part_asked_about(view: MemoryView, question: str, at: float,
                                                   options: list[str], letter: str) -> None:
    a = ExtractiveAnswerer().choose(question, options, view, at=at)
    assert a.value == letter, a.text


def test_a_followed_face_counts_between_face_detections(remember) -> None:
    # Faces are detected at 0 s only; the face mesh follows the face on every frame after.
    def seen(t: float) -> tuple[list[Observation], int]:
        followed = [Observation(t, ObservationKind.FACE_STATE, "neutral", 0.9, BOX, attrs={"face": 1})]
        return followed + ([Observation(t, ObservationKind.FACE, "face", 0.9, BOX)] if t == 0 else []), 1

    a = ExtractiveAnswerer().answer("How many faces can you see?", remember([seen] * 5), at=2.0)
    assert a.value == 1 and "1 face in view at 00:02" in a.text, a.text
