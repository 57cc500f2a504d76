"""Hands: palms found by the shipped palm detector (MediaPipe's, converted to ONNX: ``palm_detection``).

The detector looks at the whole picture letterboxed to 192x192, so it finds hands that are a sizeable part of
the view (a close-up, a desk camera, someone near the camera), not the hands of far pedestrians. Each palm is
one :attr:`~onlook.types.ObservationKind.HAND` observation: its box (the palm's box, doubled, which is about
the whole hand), which side of the picture it is on, and ``raised`` when it is above the head of a person seen
around it (the top fifth of that person's box) - a hand up.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Protocol

import cv2
import numpy as np

from onlook.errors import ConfigError, ModelCorrupt
from onlook.perception.boxes import iou
from onlook.perception.objects import nms
from onlook.types import Box, Observation, ObservationKind

__all__ = ["PalmDetector", "PalmModel", "HandDetector", "palm_anchors"]


def palm_anchors(size: int = 192, strides: tuple[int, ...] = (8, 16, 16, 16)) -> np.ndarray:
    """The palm detector's SSD anchor centres ``[N, 2]`` (x, y as fractions), in the model's order.

    Layers of one stride share a grid: each cell gets two anchors per layer (MediaPipe's
    ``SsdAnchorsCalculator`` with one aspect ratio plus the interpolated one, fixed size).

    Example:
        >>> palm_anchors().shape
        (2016, 2)
    """
    out: list[tuple[float, float]] = []
    i = 0
    while i < len(strides):
        stride = strides[i]
        layers = 1
        while i + layers < len(strides) and strides[i + layers] == stride:
            layers += 1
        g = math.ceil(size / stride)
        for y in range(g):
            for x in range(g):
                out.extend([((x + 0.5) / g, (y + 0.5) / g)] * (2 * layers))
        i += layers
    return np.array(out, np.float32)


class PalmModel(Protocol):
    """A palm detector: a 192x192 RGB picture in, anchor regressors ``[N, 18]`` and score logits ``[N]`` out."""

    size: int

    def predict(self, rgb: np.ndarray) -> tuple[np.ndarray, np.ndarray]: ...


class PalmDetector:
    """The shipped palm-detection ONNX file, run with onnxruntime.

    Raises:
        ModelMissing: The file or its manifest is not there.
        ModelCorrupt: It does not match its manifest, or onnxruntime cannot load it.
    """

    name = "palm_detection"

    def __init__(self, directory: Path | None = None, *, threads: int = 2) -> None:
        from onlook import models

        path = models.model_file(self.name, directory)
        m = models.manifest(self.name, directory)
        try:
            self.size = int(m["inputs"][0]["shape"][1])
        except (KeyError, TypeError, ValueError, IndexError):
            raise ModelCorrupt(f"model {self.name!r}: manifest lacks inputs[0].shape") from None
        self._session = models.onnx_session(self.name, path, threads=threads, what="hand detection")
        self._input = self._session.get_inputs()[0].name
        outputs = [o.name for o in self._session.get_outputs()]
        if not {"regressors", "scores"} <= set(outputs):
            raise ModelCorrupt(f"model {self.name!r}: outputs {outputs}, expected regressors and scores")

    def predict(self, rgb: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        x = (rgb.astype(np.float32) * (1.0 / 255.0))[np.newaxis]
        reg, scores = self._session.run(["regressors", "scores"], {self._input: x})
        return np.asarray(reg, np.float32)[0], np.asarray(scores, np.float32).reshape(-1)


class HandDetector:
    """Hands in a frame, from a :class:`PalmModel`.

    Args:
        model: The palm model.
        min_score: Lowest palm probability considered.
        confirm_score: A palm this likely is reported at once; a less likely one only when the previous run
            found one in the same place too (shoulders, folds and headrests give single doubtful palms).
        iou: Overlap above which two palms are one.
        max_hands: At most this many, best first.

    Example:
        >>> class OnePalm:  # a fake model: one confident palm on the anchor nearest the picture's centre
        ...     size = 192
        ...     def predict(self, rgb):
        ...         a = palm_anchors(); reg = np.zeros((len(a), 18), np.float32); reg[:, 2:4] = 20
        ...         scores = np.full(len(a), -10.0, np.float32)
        ...         scores[int(np.argmin(((a - 0.5) ** 2).sum(axis=1)))] = 5.0  # 0.99: reported at once
        ...         return reg, scores
        >>> found = HandDetector(OnePalm()).detect(np.zeros((120, 160, 3), np.uint8), 0.0)
        >>> [(o.kind.value, o.attrs["side"]) for o in found]
        [('hand', 'right')]
    """

    def __init__(self, model: PalmModel, *, min_score: float = 0.5, confirm_score: float = 0.8, iou: float = 0.3,
                 max_hands: int = 6) -> None:
        if not 0 < min_score <= confirm_score <= 1 or not 0 < iou < 1:
            raise ConfigError(f"need 0 < min_score <= confirm_score <= 1 and iou in (0, 1), got {min_score}, "
                              f"{confirm_score}, {iou}")
        self.model = model
        self.min_score = float(min_score)
        self.confirm_score = float(confirm_score)
        self._last: list[tuple[float, float, float, float]] = []
        self.iou = float(iou)
        self.max_hands = int(max_hands)
        self._anchors = palm_anchors(model.size)

    def detect(self, image: np.ndarray, t: float, people: list[Box] | None = None) -> list[Observation]:
        """Hands in ``image`` (BGR) at ``t``; ``people`` (boxes of tracked people) tell a raised hand."""
        h, w = image.shape[:2]
        s = max(h, w)
        n = self.model.size
        # Letterbox: the model was trained on square pictures; padding keeps a hand's shape.
        pad = np.zeros((s, s, 3), np.uint8)
        oy, ox = (s - h) // 2, (s - w) // 2
        pad[oy:oy + h, ox:ox + w] = image
        rgb = cv2.cvtColor(cv2.resize(pad, (n, n), interpolation=cv2.INTER_AREA), cv2.COLOR_BGR2RGB)
        reg, logits = self.model.predict(rgb)
        probs = 1.0 / (1.0 + np.exp(-np.clip(logits, -100.0, 100.0)))
        idx = np.flatnonzero(probs >= self.min_score)
        if idx.size == 0:
            self._last = []
            return []
        a = self._anchors[idx]
        cx = a[:, 0] + reg[idx, 0] / n
        cy = a[:, 1] + reg[idx, 1] / n
        bw, bh = reg[idx, 2] / n, reg[idx, 3] / n
        # The palm's box, doubled (about the whole hand), in fractions of the original picture.
        x0 = ((cx - bw) * s - ox) / w
        x1 = ((cx + bw) * s - ox) / w
        y0 = ((cy - bh) * s - oy) / h
        y1 = ((cy + bh) * s - oy) / h
        boxes = np.clip(np.stack([x0, y0, x1, y1], axis=1), 0.0, 1.0)
        keep = [k for k in nms(boxes, probs[idx], self.iou)
                if boxes[k, 2] > boxes[k, 0] and boxes[k, 3] > boxes[k, 1]][:self.max_hands]
        out = []
        last, self._last = self._last, [tuple(float(v) for v in boxes[k]) for k in keep]
        for k in keep:
            b = tuple(round(float(v), 4) for v in boxes[k])
            if probs[idx][k] < self.confirm_score and not any(iou(b, p) > 0.2 for p in last):
                continue
            hx, hy = (b[0] + b[2]) / 2, (b[1] + b[3]) / 2
            raised = any(p[0] <= hx <= p[2] and hy <= p[1] + 0.2 * (p[3] - p[1]) for p in people or [])
            out.append(Observation(t=t, kind=ObservationKind.HAND, label="hand", score=round(float(probs[idx][k]), 3),
                                   box=b, attrs={"side": "left" if hx < 0.5 else "right", "raised": raised}))
        return out
