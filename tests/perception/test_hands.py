"""Hands: anchor decoding, confirmation and 'raised' with a fake palm model; the shipped detector on real frames."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np
import pytest

from onlook import models
from onlook.config import Settings
from onlook.perception.hands import HandDetector, PalmDetector, palm_anchors
from onlook.perception.pipeline import capabilities_for
from onlook.types import Capability, ObservationKind

pytestmark = pytest.mark.timeout(120)


class FakePalms:
    """Palms at given picture centres (fractions of the 192x192 letterboxed input), with given probabilities."""

    size = 192

    def __init__(self, palms: list[tuple[float, float, float]]) -> None:
        self.palms = palms

    def predict(self, rgb: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        a = palm_anchors()
        reg = np.zeros((len(a), 18), np.float32)
        logits = np.full(len(a), -20.0, np.float32)
        for x, y, p in self.palms:
            i = int(np.argmin(((a - (x, y)) ** 2).sum(axis=1)))
            reg[i, 0], reg[i, 1] = (x - a[i, 0]) * 192, (y - a[i, 1]) * 192  # centre offset in input pixels
            reg[i, 2:4] = 24  # a 24-pixel palm
            logits[i] = np.log(p / (1 - p))
        return reg, logits


def test_anchors_follow_the_models_layout():
    a = palm_anchors()
    assert a.shape == (2016, 2)
    assert a[0].tolist() == pytest.approx([0.5 / 24, 0.5 / 24]) and a[1].tolist() == a[0].tolist()
    assert a[1152].tolist() == pytest.approx([0.5 / 12, 0.5 / 12])  # the stride-16 grid starts after 24*24*2


def test_boxes_come_back_in_picture_fractions_through_the_letterbox():
    # A 640x320 picture letterboxed into a square: y in the input = 0.25 + y_picture / 2.
    det = HandDetector(FakePalms([(0.25, 0.5, 0.95)]))
    (h,) = det.detect(np.zeros((320, 640, 3), np.uint8), 1.0)
    cx, cy = (h.box[0] + h.box[2]) / 2, (h.box[1] + h.box[3]) / 2
    assert (cx, cy) == pytest.approx((0.25, 0.5), abs=0.01)
    assert h.kind == ObservationKind.HAND and h.attrs == {"side": "left", "raised": False}
    # the palm's 24 input pixels doubled: 48/192 of the square's side = 640 px, a quarter of the width
    assert h.box[2] - h.box[0] == pytest.approx(0.25, abs=0.01)


def test_a_doubtful_palm_needs_a_second_run_in_the_same_place():
    det = HandDetector(FakePalms([(0.5, 0.5, 0.6)]))
    img = np.zeros((192, 192, 3), np.uint8)
    assert det.detect(img, 0.0) == []
    assert len(det.detect(img, 0.5)) == 1
    det.model = FakePalms([(0.2, 0.2, 0.6)])  # somewhere else: doubtful again
    assert det.detect(img, 1.0) == []


def test_a_hand_above_a_persons_head_is_raised():
    det = HandDetector(FakePalms([(0.5, 0.15, 0.95)]))
    person = (0.35, 0.1, 0.65, 0.95)
    (h,) = det.detect(np.zeros((192, 192, 3), np.uint8), 0.0, [person])
    assert h.attrs["raised"] is True
    det.model = FakePalms([(0.5, 0.6, 0.95)])  # at the waist
    (h,) = det.detect(np.zeros((192, 192, 3), np.uint8), 0.5, [person])
    assert h.attrs["raised"] is False


def test_hands_are_a_capability_that_can_be_switched_off():
    assert Capability.HANDS in capabilities_for(Settings())
    assert Capability.HANDS not in capabilities_for(Settings(detect_hands=False))


def test_the_shipped_palm_detector_matches_its_manifest():
    m = models.manifest("palm_detection")
    assert m["licence"] == "Apache-2.0" and m["anchors"]["count"] == 2016
    assert models.model_file("palm_detection").stat().st_size == m["bytes"]


def _frame(path: Path, index: int) -> np.ndarray:
    cap = cv2.VideoCapture(str(path))
    for _ in range(index + 1):
        ok, img = cap.read()
    cap.release()
    assert ok
    return img


@pytest.mark.footage
def test_box_clip_shows_the_hand_holding_the_box(footage: Callable[[str], Path]):
    # box.mp4 frame 60 (2.0 s), looked at: an arm reaches in from the upper left; its hand grips the top of a
    # yellow box at about x 0.42-0.55, y 0.02-0.2 of the picture.
    det = HandDetector(PalmDetector())
    (h,) = det.detect(_frame(footage("box.mp4"), 60), 2.0)
    cx, cy = (h.box[0] + h.box[2]) / 2, (h.box[1] + h.box[3]) / 2
    assert 0.38 < cx < 0.6 and cy < 0.25 and h.score > 0.7


@pytest.mark.footage
def test_no_hands_on_far_pedestrians(footage: Callable[[str], Path]):
    det = HandDetector(PalmDetector())
    img = _frame(footage("vtest.avi"), 100)
    assert det.detect(img, 0.0) == [] and det.detect(img, 0.5) == []
