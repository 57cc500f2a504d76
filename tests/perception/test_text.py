"""Tests of onlook.perception.text: RapidOCR wrapper, roi handling, fake."""

from __future__ import annotations

import sys

import cv2
import numpy as np
import pytest

from onlook.errors import ModelError
from onlook.perception.text import FakeTextDetector, OcrDetector, text_words


def _sign_image() -> np.ndarray:
    """White 640x480 frame with "TAXI 42" top left and "EXIT" bottom right."""
    img = np.full((480, 640, 3), 255, np.uint8)
    cv2.putText(img, "TAXI 42", (60, 120), cv2.FONT_HERSHEY_SIMPLEX, 2.0, (0, 0, 0), 4)
    cv2.putText(img, "EXIT", (420, 400), cv2.FONT_HERSHEY_SIMPLEX, 1.5, (0, 0, 0), 3)
    return img


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("TAXI 42", ["taxi", "42"]),
        ("  No-Parking_zone! ", ["no", "parking", "zone"]),
        ("Café 7b", ["café", "7b"]),
        ("--", []),
        ("", []),
    ],
)
def test_text_words(text, words):
    assert text_words(text) == words


# --------------------------------------------------------------------------- real OCR


@pytest.fixture(scope="module")
def ocr() -> OcrDetector:
    return OcrDetector(min_score=0.5)


def test_reads_rendered_text(ocr):
    obs = ocr.detect(_sign_image(), 3.5)
    labels = [o.label.lower() for o in obs]
    assert "taxi 42" in labels and "exit" in labels, labels
    taxi = obs[labels.index("taxi 42")]
    assert taxi.kind == "text" and taxi.t == 3.5 and 0.5 <= taxi.score <= 1
    assert taxi.attrs["words"] == ["taxi", "42"]
    x0, y0, x1, y1 = taxi.box
    # putText drew it from x=60 px, baseline y=120 px, about 50 px tall.
    assert x0 == pytest.approx(60 / 640, abs=0.04) and y1 == pytest.approx(125 / 480, abs=0.05)
    assert x1 > 0.35 and y0 < 0.2
    # Top to bottom.
    assert labels.index("taxi 42") < labels.index("exit")


def test_rois_restrict_reading_and_boxes_stay_full_frame(ocr):
    img = _sign_image()
    full = {o.label.lower(): o.box for o in ocr.detect(img, 0.0)}
    obs = ocr.detect(img, 0.0, rois=[(430, 360, 560, 410)])  # around "EXIT" only
    assert [o.label.lower() for o in obs] == ["exit"]
    assert np.allclose(obs[0].box, full["exit"], atol=0.01)
    # Changes where there is no text: nothing read.
    assert ocr.detect(img, 0.0, rois=[(300, 200, 360, 260)]) == []


def test_blank_image_reads_nothing(ocr):
    assert ocr.detect(np.full((120, 160, 3), 255, np.uint8), 0.0) == []


# --------------------------------------------------------------------------- with a stub engine


class _StubEngine:
    """Stands in for RapidOCR: one line covering each crop it is given."""

    def __init__(self, text="EXIT 9", score=0.9):
        self.text, self.score = text, score
        self.shapes: list[tuple[int, ...]] = []

    def __call__(self, img, use_cls=None):
        self.shapes.append(img.shape)
        h, w = img.shape[:2]
        return [[[[2, 2], [w - 2, 2], [w - 2, h - 2], [2, h - 2]], self.text, self.score]], [0.0]


def test_only_rois_are_read():
    engine = _StubEngine()
    det = OcrDetector(engine=engine)
    img = np.zeros((480, 640, 3), np.uint8)
    obs = det.detect(img, 1.0, rois=[(100, 100, 140, 120), (500, 400, 520, 420), (0, 0, 3, 3)])
    # Two crops (the 3x3 roi is skipped), each far smaller than the frame.
    assert len(engine.shapes) == 2
    assert all(h * w < 0.1 * 480 * 640 for h, w, _ in engine.shapes)
    # Boxes are back in full-frame coordinates, around each roi.
    (b1, b2) = sorted(o.box for o in obs)
    assert b1[0] < 100 / 640 < 140 / 640 < b1[2] and b1[1] < 100 / 480 < 120 / 480 < b1[3]
    assert b2[0] < 500 / 640 and b2[1] < 400 / 480 and b2[2] <= 1.0
    assert all(o.attrs["words"] == ["exit", "9"] for o in obs)
    engine.shapes.clear()
    assert det.detect(img, 1.0, rois=[]) == [] and engine.shapes == []
    det.detect(img, 1.0)
    assert engine.shapes == [(480, 640, 3)]


@pytest.mark.parametrize(("text", "score", "kept"), [
    ("EXIT", 0.9, True),
    ("EXIT", 0.3, False),  # below min_score
    ("  ", 0.99, False),   # no words
    ("~.~", 0.99, False),
])
def test_weak_and_wordless_lines_are_dropped(text, score, kept):
    det = OcrDetector(min_score=0.5, engine=_StubEngine(text, score))
    assert bool(det.detect(np.zeros((50, 80, 3), np.uint8), 0.0)) is kept


def test_engine_loads_lazily(monkeypatch):
    # Blocking the import proves nothing is loaded until the first frame.
    monkeypatch.setitem(sys.modules, "rapidocr_onnxruntime", None)
    det = OcrDetector()
    assert det.detect(np.zeros((50, 50, 3), np.uint8), 0.0, rois=[]) == []
    with pytest.raises(ModelError, match="pip install rapidocr-onnxruntime"):
        det.detect(np.zeros((50, 50, 3), np.uint8), 0.0)


def test_bad_min_score():
    with pytest.raises(ValueError):
        OcrDetector(min_score=1.5)


# --------------------------------------------------------------------------- fake


def test_fake_text_detector():
    img = np.zeros((100, 100, 3), np.uint8)
    det = FakeTextDetector([(0.0, 10.0, "TAXI 42", (0.1, 0.1, 0.4, 0.2)),
                            (5.0, 6.0, "EXIT", (0.7, 0.8, 0.9, 0.9))])
    assert det.name == "text"
    assert [o.label for o in det.detect(img, 5.5)] == ["TAXI 42", "EXIT"]
    assert [o.label for o in det.detect(img, 5.5, rois=[(70, 70, 100, 100)])] == ["EXIT"]
    assert det.detect(img, 11.0) == []
    (obs,) = det.detect(img, 1.0)
    assert obs.kind == "text" and obs.attrs == {"words": ["taxi", "42"]}
    assert len(det.calls) == 4
    fn = FakeTextDetector(lambda t: [("STOP", (0.0, 0.0, 1.0, 1.0))])
    assert [o.label for o in fn.detect(img, 0.0)] == ["STOP"]
