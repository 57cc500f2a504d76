"""The live view draws every tracked class: people, faces, text, hands and each object class in its colour."""

from __future__ import annotations

import cv2
import numpy as np

from onlook.server.live import _object_color, render_jpeg
from onlook.types import Frame, Observation, ObservationKind


def _decode(jpeg: bytes) -> np.ndarray:
    return cv2.imdecode(np.frombuffer(jpeg, np.uint8), cv2.IMREAD_COLOR)


def _near(img: np.ndarray, color: tuple[int, int, int], tol: int = 40) -> np.ndarray:
    return (np.abs(img.astype(int) - np.array(color)).sum(axis=2) < tol)


def test_objects_are_boxed_in_their_class_colour_and_the_engine_frame_is_untouched() -> None:
    image = np.full((240, 320, 3), 0, np.uint8)
    frame = Frame("cam", 1, 0.5, 0.0, image)
    car = Observation(0.5, ObservationKind.OBJECT, "car", 0.9, box=(0.1, 0.1, 0.4, 0.5), track_id=3)
    dog = Observation(0.5, ObservationKind.OBJECT, "dog", 0.8, box=(0.6, 0.5, 0.9, 0.9), track_id=4)
    img = _decode(render_jpeg(frame, [car, dog], boxes=True))
    assert not image.any(), "drawing must not touch the engine's frame"
    car_px = _near(img, _object_color("car"))
    # The car's outline lies on its box's left edge (x = 0.1 * 320 = 32), between its top and bottom.
    assert car_px[30:115, 30:35].sum() > 40
    assert car_px[130:, 200:].sum() < 10  # and not where the dog is
    if _object_color("dog") != _object_color("car"):
        assert _near(img, _object_color("dog"))[120:216, 190:195].sum() > 40


def test_without_boxes_nothing_is_drawn_and_unknown_kinds_are_skipped() -> None:
    frame = Frame("cam", 1, 0.5, 0.0, np.zeros((120, 160, 3), np.uint8))
    car = Observation(0.5, ObservationKind.OBJECT, "car", 0.9, box=(0.1, 0.1, 0.4, 0.5), track_id=3)
    assert _decode(render_jpeg(frame, [car], boxes=False)).max() < 20
    odd = Observation(0.5, "from_a_newer_version", "x", 0.9, box=(0.1, 0.1, 0.4, 0.5))
    assert _decode(render_jpeg(frame, [odd], boxes=True)).max() < 20
