"""OpenCV's HOG people model as a verifier of candidates, and as a counter while the camera moves.

A candidate big enough for HOG gets one 64x128 window cut around its box from
the full-resolution frame and scored by the linear SVM (a fraction of a
millisecond); windows are only cut where the picture changed. When the view
moves and no background can be kept, the multi-scale detector runs on the
small frame instead.
"""

from __future__ import annotations

import math

import cv2
import numpy as np

from onlook.perception.people.thresholds import THRESHOLDS, PeopleThresholds

__all__ = ["HOG_H", "HOG_W", "HogVerifier", "changed_grid", "squash"]

HOG_W, HOG_H = 64, 128  # the window OpenCV's default people model was trained on


def squash(score: float, th: PeopleThresholds = THRESHOLDS) -> float:
    """Map an SVM margin to ``0..1``."""
    return float(1.0 / (1.0 + math.exp(-th.squash_slope * (score + th.squash_offset))))


def changed_grid(changed: np.ndarray | None, wh: int, ww: int) -> np.ndarray | None:
    """A change grid of any shape as a work-sized boolean mask (None: everything changed).

    Raises:
        ValueError: ``changed`` is not a non-empty 2-D array.
    """
    if changed is None:
        return None
    grid = np.asarray(changed).astype(np.uint8)
    if grid.ndim != 2 or grid.size == 0:
        raise ValueError(f"changed must be a 2-D mask, got shape {grid.shape}")
    return cv2.resize(grid, (ww, wh), interpolation=cv2.INTER_NEAREST) > 0


class HogVerifier:
    """HOG scores of single windows, and the multi-scale fallback.

    Call :meth:`begin` once per frame before scoring.

    Args:
        th: Tuning constants.
    """

    def __init__(self, th: PeopleThresholds = THRESHOLDS) -> None:
        self.th = th
        self._hog = cv2.HOGDescriptor()
        det = np.asarray(cv2.HOGDescriptor_getDefaultPeopleDetector(), np.float32).ravel()
        self._w = det[:-1]
        self._b = float(det[-1])
        self._ms: cv2.HOGDescriptor | None = None
        self.scale = 1.0
        self._image = np.zeros((1, 1, 3), np.uint8)
        self._changed: np.ndarray | None = None
        self._area = np.zeros((1, 1), bool)

    def begin(self, image: np.ndarray, scale: float, changed: np.ndarray | None, shape: tuple[int, int]) -> None:
        """Set up for a new frame.

        Args:
            image: The full-resolution BGR frame windows are cut from.
            scale: Image pixels per work pixel.
            changed: Work-sized mask of where the picture changed (None: everywhere).
            shape: Work image (h, w).
        """
        self._image = image
        self.scale = scale
        self._changed = changed
        self._area = np.zeros(shape, bool)

    @property
    def work_fraction(self) -> float:
        """Share of the work image covered by windows scored since :meth:`begin`."""
        return float(self._area.mean())

    def may_hog(self, box: np.ndarray) -> bool:
        """Whether the picture changed under ``box`` (work pixels), so a new score may differ."""
        if self._changed is None:
            return True
        wh, ww = self._area.shape
        x0, y0 = max(0, int(box[0])), max(0, int(box[1]))
        x1, y1 = min(ww, int(math.ceil(box[2]))), min(wh, int(math.ceil(box[3])))
        return bool(self._changed[y0:y1, x0:x1].any())

    def score(self, box: np.ndarray) -> float:
        """SVM score of HOG's people model on one window cut around ``box`` (work pixels)."""
        th = self.th
        s = self.scale
        x0, y0, x1, y1 = (float(v) * s for v in box)
        ch = max(y1 - y0, th.hog_min_box) / th.hog_fill
        cw = ch * HOG_W / HOG_H
        cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
        k = HOG_H / ch
        m = np.float32([[k, 0, HOG_W / 2 - cx * k], [0, k, HOG_H / 2 - cy * k]])
        crop = cv2.warpAffine(self._image, m, (HOG_W, HOG_H), flags=cv2.INTER_LINEAR,
                              borderMode=cv2.BORDER_REPLICATE)
        feat = self._hog.compute(crop).ravel()
        wh, ww = self._area.shape
        gx0, gx1 = int(max(0, (cx - cw / 2) / s)), int(min(ww, math.ceil((cx + cw / 2) / s)))
        gy0, gy1 = int(max(0, (cy - ch / 2) / s)), int(min(wh, math.ceil((cy + ch / 2) / s)))
        self._area[gy0:gy1, gx0:gx1] = True
        return float(feat @ self._w + self._b)

    def detect(self, small: np.ndarray) -> list[tuple[tuple[float, float, float, float], float]]:
        """People found by the multi-scale detector on the small frame.

        Returns:
            ``(box, score)`` pairs: the box as shares of the frame (not yet clipped
            to it on the top-left), the score as :func:`squash` makes it.
        """
        th = self.th
        if self._ms is None:
            self._ms = cv2.HOGDescriptor()
            self._ms.setSVMDetector(cv2.HOGDescriptor_getDefaultPeopleDetector())
        rects, weights = self._ms.detectMultiScale(small, winStride=(th.ms_stride, th.ms_stride),
                                                   scale=th.ms_scale, hitThreshold=th.ms_hit)
        wh, ww = small.shape[:2]
        found = []
        for (x, y, w, h), s in zip(rects, np.ravel(weights) if len(rects) else []):
            box = (x / ww, y / wh, min(1.0, (x + w) / ww), min(1.0, (y + h) / wh))
            found.append((box, squash(float(s), th)))
        return found
