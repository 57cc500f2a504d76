"""Scene-cut detection with an adaptive threshold.

A cut is a frame whose colour histogram differs sharply from the previous
sampled frame's *and* whose difference stands out against the recent run of
differences (an online mean + K-sigma test). The second condition is what
keeps a large object sweeping through a fixed shot (a van passing close to
the camera) from being called a cut while the histogram still changes a lot:
such changes build up over several samples, while a cut is one spike.
"""

from __future__ import annotations

import math

import cv2
import numpy as np

from onlook.types import Observation, ObservationKind

__all__ = ["SceneCutDetector"]


class SceneCutDetector:
    """Detect hard cuts between consecutive sampled frames.

    Args:
        min_distance: Histogram (Bhattacharyya) distance a cut must exceed.
        k_sigma: How many standard deviations above the running mean it must be.
        warmup: Frames before the running statistics are trusted.
    """

    def __init__(self, min_distance: float = 0.35, k_sigma: float = 2.5, warmup: int = 3,
                 min_changed: float = 0.6) -> None:
        self.min_distance = min_distance
        self.min_changed = min_changed
        self._prev_grey: np.ndarray | None = None
        self.k_sigma = k_sigma
        self.warmup = warmup
        self._prev: np.ndarray | None = None
        self._n = 0
        self._mean = 0.0
        self._m2 = 0.0
        self.last_distance = 0.0

    @staticmethod
    def _hist(image: np.ndarray) -> np.ndarray:
        # A colour histogram needs no detail: 160 pixels wide is plenty and 16x cheaper.
        h, w = image.shape[:2]
        if w > 160:
            image = cv2.resize(image, (160, max(1, round(h * 160 / w))), interpolation=cv2.INTER_AREA)
        hsv = cv2.cvtColor(image, cv2.COLOR_BGR2HSV)
        h = cv2.calcHist([hsv], [0, 1, 2], None, [12, 6, 6], [0, 180, 0, 256, 0, 256])
        return cv2.normalize(h, h).flatten()

    def update(self, image: np.ndarray, t: float) -> Observation | None:
        """Feed the next sampled frame; return a ``scene_cut`` observation on a cut."""
        hist = self._hist(image)
        # A coarse grey grid: a cut changes nearly every cell at once, an object
        # crossing the shot only some of them.
        grey = cv2.resize(cv2.cvtColor(image, cv2.COLOR_BGR2GRAY), (16, 12),
                          interpolation=cv2.INTER_AREA).astype(np.float32)
        prev, self._prev = self._prev, hist
        prev_grey, self._prev_grey = self._prev_grey, grey
        if prev is None or prev_grey is None:
            return None
        d = float(cv2.compareHist(prev, hist, cv2.HISTCMP_BHATTACHARYYA))
        changed = float((np.abs(grey - prev_grey) > 20).mean())
        self.last_distance = d
        std = math.sqrt(self._m2 / self._n) if self._n > 1 else 0.0
        is_cut = d >= self.min_distance and changed >= self.min_changed and (
            self._n < self.warmup or d > self._mean + self.k_sigma * max(std, 0.03))
        if not is_cut:
            # Welford update over non-cut distances only: cuts must not inflate the baseline.
            self._n += 1
            delta = d - self._mean
            self._mean += delta / self._n
            self._m2 += delta * (d - self._mean)
            return None
        return Observation(t=t, kind=ObservationKind.SCENE_CUT, label="scene change", score=min(1.0, d))

    def reset(self) -> None:
        self._prev = None
        self._prev_grey = None
