"""Foreground and blobs: MOG2 on a small copy of the frame, after undoing exposure drift.

Shadows are removed (MOG2 marks them apart), specks opened away, and legs,
trunk and head of one person closed together vertically. Blobs that hardly
differ from a plain running-average background (compression noise, flicker)
are dropped.
"""

from __future__ import annotations

import cv2
import numpy as np

from onlook.perception.people.state import Blob
from onlook.perception.people.thresholds import THRESHOLDS, PeopleThresholds

__all__ = ["Foreground"]


class Foreground:
    """The background model of one view.

    Args:
        var_threshold: MOG2 squared Mahalanobis distance for foreground.
        th: Tuning constants.
    """

    def __init__(self, var_threshold: float, th: PeopleThresholds = THRESHOLDS) -> None:
        self.var_threshold = var_threshold
        self.th = th
        self.mog: cv2.BackgroundSubtractorMOG2 | None = None
        self._ref = np.zeros(3, np.float64)  # mean colour the exposure is brought back to
        self._prev_fg: np.ndarray | None = None
        self.bg = np.zeros((1, 1, 3), np.float32)  # running average of what is not foreground

    def restart(self, small: np.ndarray) -> None:
        """Start a new background model from ``small``."""
        self.mog = cv2.createBackgroundSubtractorMOG2(
            history=self.th.mog_history, varThreshold=self.var_threshold, detectShadows=True)
        self.relearn(small)

    def relearn(self, small: np.ndarray) -> None:
        """Take ``small`` as the whole background (the view moved)."""
        assert self.mog is not None
        self.mog.apply(small, learningRate=1.0)
        self._ref = np.asarray(cv2.mean(small)[:3], np.float64)
        self._prev_fg = None
        self.bg = small.astype(np.float32)

    def apply(self, small: np.ndarray, lr: float) -> tuple[np.ndarray, np.ndarray]:
        """Compensate exposure and update the model; return the compensated frame and its foreground."""
        assert self.mog is not None
        small = self._compensate(small, lr)
        raw = self.mog.apply(small, learningRate=lr)
        fg = (raw == self.th.mog_foreground).astype(np.uint8)
        self._prev_fg = fg
        return small, fg

    def remember(self, small: np.ndarray, fg: np.ndarray, dt: float) -> None:
        """Fold what is not foreground into the running-average background."""
        # A plain running average of what is not foreground: enough to tell how
        # strongly a blob stands out (MOG2's own background image costs ~1 ms).
        cv2.accumulateWeighted(small, self.bg, min(1.0, self.th.bg_rate * dt), mask=1 - fg)

    def _compensate(self, small: np.ndarray, lr: float) -> np.ndarray:
        """Undo global exposure drift, which MOG2 would take for foreground everywhere."""
        mask = None if self._prev_fg is None else (1 - self._prev_fg)
        cur = np.asarray(cv2.mean(small, mask=mask)[:3], np.float64)
        gain = self._ref / np.maximum(cur, 1.0)
        self._ref = (1 - lr) * self._ref + lr * cur
        if np.all(np.abs(gain - 1.0) < self.th.exposure_tolerance):
            return small
        return cv2.multiply(small, (float(gain[0]), float(gain[1]), float(gain[2]), 0.0),
                            dtype=cv2.CV_8U)

    def blobs(self, fg: np.ndarray, small: np.ndarray, *, min_height: float, min_contrast: float) -> list[Blob]:
        """Connected pieces of foreground big enough and different enough from the background.

        Args:
            fg: ``uint8`` 0/1 foreground of ``small``.
            small: The compensated work frame.
            min_height: Smallest person, as a share of the frame height.
            min_contrast: Mean difference from the background (grey levels) below which a blob is noise.
        """
        th = self.th
        wh, ww = fg.shape
        fg = cv2.morphologyEx(fg, cv2.MORPH_OPEN, np.ones((th.open_kernel, th.open_kernel), np.uint8))
        # Close vertically: legs, trunk and head of one person often come apart.
        kx = max(1, int(round(ww / th.close_x_div)))
        ky = max(th.close_y_min, int(round(ww / th.close_y_div))) | 1
        fg = cv2.morphologyEx(fg, cv2.MORPH_CLOSE, cv2.getStructuringElement(
            cv2.MORPH_ELLIPSE, (kx, ky)))
        n, labels, stats, _ = cv2.connectedComponentsWithStats(fg, connectivity=8)
        min_area = max(th.blob_min_area, th.blob_min_fill * (min_height * wh) ** 2)
        blobs = []
        for i in range(1, n):
            x, y, w, h, a = stats[i]
            if a < min_area:
                continue
            mask = labels[y:y + h, x:x + w] == i
            # Compression noise and flicker pass MOG2's test by a few grey levels only.
            k = 1 + int(a > th.contrast_sample_area) + int(a > th.contrast_sample_area2)  # a sample is plenty
            diff = np.abs(small[y:y + h:k, x:x + w:k].astype(np.float32)
                          - self.bg[y:y + h:k, x:x + w:k])
            if float(diff.max(axis=2)[mask[::k, ::k]].mean()) < min_contrast:
                continue
            blobs.append(Blob(np.array([x, y, x + w, y + h], np.float64), mask))
        return blobs
