"""Box geometry shared by the trackers: areas, overlaps, unions, growth.

Boxes are ``(x0, y0, x1, y1)`` sequences or numpy arrays, in any one unit (pixels or shares of the frame);
a box with ``x1 <= x0`` or ``y1 <= y0`` is empty.

Example:
    >>> round(iou((0, 0, 2, 2), (1, 1, 3, 3)), 3), covered_share((0, 0, 2, 2), (1, 0, 4, 4))
    (0.143, 0.5)
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

__all__ = ["area", "covered_share", "grow", "intersection", "iou", "iou_matrix", "union"]

BoxLike = Sequence[float] | np.ndarray


def area(b: BoxLike) -> float:
    """The area of ``b`` (0 for an empty box)."""
    return float(max(b[2] - b[0], 0) * max(b[3] - b[1], 0))


def intersection(a: BoxLike, b: BoxLike) -> float:
    """The area ``a`` and ``b`` share."""
    w = min(a[2], b[2]) - max(a[0], b[0])
    h = min(a[3], b[3]) - max(a[1], b[1])
    return float(w * h) if w > 0 and h > 0 else 0.0


def iou(a: BoxLike, b: BoxLike) -> float:
    """Intersection over union of ``a`` and ``b``."""
    i = intersection(a, b)
    return i / (area(a) + area(b) - i) if i > 0 else 0.0


def covered_share(a: BoxLike, b: BoxLike) -> float:
    """The share of ``a`` that ``b`` covers."""
    return intersection(a, b) / max(area(a), 1e-6)


def union(a: BoxLike, b: BoxLike) -> np.ndarray:
    """The smallest box holding both ``a`` and ``b``."""
    return np.array([min(a[0], b[0]), min(a[1], b[1]), max(a[2], b[2]), max(a[3], b[3])])


def grow(b: BoxLike, fx: float, fy: float) -> np.ndarray:
    """``b`` widened by ``fx`` of its width on each side and heightened by ``fy`` of its height."""
    w, h = b[2] - b[0], b[3] - b[1]
    return np.array([b[0] - fx * w, b[1] - fy * h, b[2] + fx * w, b[3] + fy * h])


def iou_matrix(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """IoU of every box of ``a`` (rows, ``[n, 4]``) with every box of ``b`` (columns, ``[m, 4]``)."""
    if len(a) == 0 or len(b) == 0:
        return np.zeros((len(a), len(b)))
    x0 = np.maximum(a[:, None, 0], b[None, :, 0])
    y0 = np.maximum(a[:, None, 1], b[None, :, 1])
    x1 = np.minimum(a[:, None, 2], b[None, :, 2])
    y1 = np.minimum(a[:, None, 3], b[None, :, 3])
    inter = np.clip(x1 - x0, 0, None) * np.clip(y1 - y0, 0, None)
    area_a = (a[:, 2] - a[:, 0]) * (a[:, 3] - a[:, 1])
    area_b = (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])
    return inter / np.maximum(area_a[:, None] + area_b[None, :] - inter, 1e-9)
