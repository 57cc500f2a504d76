"""Body pose: posture rules on hand-made points, the reader's changes (fake model), the shipped model on real
vtest.avi pedestrians (upright), and its manifest."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np
import pytest

from onlook import models
from onlook.config import Settings
from onlook.errors import ConfigError
from onlook.perception.pipeline import capabilities_for
from onlook.perception.pose import PoseLandmarks, PoseReader, posture
from onlook.types import Capability, Observation, ObservationKind
from onlook.vocabulary import BodyState

pytestmark = pytest.mark.timeout(120)


def body(*, thigh: str = "down", torso: str = "up", wrist_up: bool = False, legs: bool = True) -> np.ndarray:
    """33 pose points of a person in a 256-pixel crop."""
    p = np.zeros((33, 4), np.float32)
    p[:, 3] = 1.0
    if torso == "up":
        p[11, :2], p[12, :2], p[23, :2], p[24, :2] = (110, 80), (146, 80), (114, 140), (142, 140)
    else:  # lying: shoulders and hips side by side
        p[11, :2], p[12, :2], p[23, :2], p[24, :2] = (60, 120), (60, 140), (130, 122), (130, 142)
    hip = p[23, :2].copy()
    if thigh == "down":
        p[25, :2], p[26, :2] = hip + (0, 50), p[24, :2] + (0, 50)
    else:
        p[25, :2], p[26, :2] = hip + (50, 6), p[24, :2] + (50, 6)
    p[15, :2], p[16, :2] = (100, 130), (156, 130)
    if wrist_up:
        p[15, :2] = (95, 40)
    if not legs:
        p[[25, 26], 3] = 0.1
    return p


@pytest.mark.parametrize(("points", "expected"), [
    (body(), (BodyState.STANDING, False)),
    (body(thigh="forward"), (BodyState.SITTING, False)),
    (body(torso="side"), (BodyState.LYING, False)),
    (body(wrist_up=True), (BodyState.STANDING, True)),
    (body(legs=False), (None, False)),  # legs hidden: the posture is not settled
], ids=["standing", "sitting", "lying", "arm raised", "no legs"])
def test_posture(points: np.ndarray, expected) -> None:
    assert posture(points) == expected


class Scripted:
    size = 256

    def __init__(self, script: list[np.ndarray], presence: float = 0.99) -> None:
        self.script, self.presence, self.calls = script, presence, 0

    def predict(self, rgb: np.ndarray) -> tuple[np.ndarray, float]:
        assert rgb.shape == (256, 256, 3)
        p = self.script[min(self.calls, len(self.script) - 1)]
        self.calls += 1
        return p, self.presence


PERSON = Observation(0.0, ObservationKind.PERSON, "person", 0.9, box=(0.4, 0.1, 0.6, 0.9), track_id=5)
IMG = np.zeros((240, 320, 3), np.uint8)


def test_sitting_down_is_a_change_once_and_small_people_are_not_read() -> None:
    reader = PoseReader(Scripted([body(), body(), body(thigh="forward"), body(thigh="forward")]))
    changes, labels = [], []
    for i in range(4):
        obs = reader.update(IMG, i * 1.0, [PERSON])
        labels += [o.label for o in obs if "change" not in o.attrs]
        changes += [(o.t, o.attrs["change"], o.attrs["on"]) for o in obs if "change" in o.attrs]
    assert labels == ["standing", "standing", "sitting", "sitting"]
    assert sorted(changes) == [(2.0, "sitting", True), (2.0, "standing", False)]
    small = Observation(0.0, ObservationKind.PERSON, "person", 0.9, box=(0.4, 0.1, 0.45, 0.3), track_id=6)
    assert PoseReader(Scripted([body()])).update(IMG, 0.0, [small]) == []


def test_a_crop_without_a_person_is_not_read() -> None:
    assert PoseReader(Scripted([body()], presence=0.1)).update(IMG, 0.0, [PERSON]) == []


def test_bad_settings_are_a_config_error() -> None:
    with pytest.raises(ConfigError):
        PoseReader(Scripted([]), max_people=0)


def test_pose_is_a_capability_with_people_and_can_be_switched_off() -> None:
    assert Capability.POSE in capabilities_for(Settings())
    assert Capability.POSE not in capabilities_for(Settings(detect_pose=False))
    assert Capability.POSE not in capabilities_for(Settings(detect_people=False))


def test_the_shipped_pose_model_matches_its_manifest() -> None:
    m = models.manifest("pose_landmark")
    assert m["licence"] == "Apache-2.0" and len(m["landmarks"]) == 33
    assert models.model_file("pose_landmark").stat().st_size == m["bytes"]


@pytest.mark.footage
def test_vtest_pedestrians_stand(footage: Callable[[str], Path]) -> None:
    # vtest.avi frame 100 (10 s), looked at: two people walking upright at about x 0.49-0.52 and 0.76-0.80.
    cap = cv2.VideoCapture(str(footage("vtest.avi")))
    for _ in range(101):
        ok, img = cap.read()
    cap.release()
    reader = PoseReader(PoseLandmarks(), min_person_px=40)
    people = [Observation(10.0, ObservationKind.PERSON, "person", 0.9, box=b, track_id=i)
              for i, b in enumerate([(0.485, 0.32, 0.522, 0.469), (0.755, 0.26, 0.80, 0.417)])]
    obs = reader.update(img, 10.0, people)
    assert [o.label for o in obs] == ["standing", "standing"]
