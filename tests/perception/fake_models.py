"""Helpers of the object detector tests: a stand-in box model (no weights) and reading one frame of a clip."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from onlook.vocabulary import Label


class BoxModel:
    """A stand-in model: returns the rows it was given (boxes y0, x0, y1, x1 and one score column per label)."""

    size = 300

    def __init__(self, labels: list[Label | None], rows: list[tuple[tuple[float, float, float, float], list[float]]]):
        self.labels = labels
        self.rows = rows
        self.seen: list[np.ndarray] = []

    @property
    def calls(self) -> int:
        """How often it was run."""
        return len(self.seen)

    def predict(self, rgb: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        self.seen.append(rgb)
        boxes = np.array([b for b, _ in self.rows], np.float32).reshape(-1, 4)
        scores = np.array([s for _, s in self.rows], np.float32).reshape(-1, len(self.labels))
        return boxes, scores


def read_frame(path: Path, index: int) -> np.ndarray:
    """Frame ``index`` of a clip, BGR as OpenCV decodes it."""
    cap = cv2.VideoCapture(str(path))
    cap.set(cv2.CAP_PROP_POS_FRAMES, index)
    ok, img = cap.read()
    cap.release()
    assert ok, f"cannot read frame {index} of {path}"
    return img
