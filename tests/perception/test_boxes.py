"""Box geometry shared by the trackers."""

from __future__ import annotations

import numpy as np
import pytest

from onlook.perception import boxes


def test_areas_overlaps_and_unions() -> None:
    a, b = (0, 0, 2, 2), (1, 1, 3, 3)
    assert boxes.area(a) == 4 and boxes.area((2, 2, 1, 1)) == 0  # an inverted box is empty
    assert boxes.intersection(a, b) == 1 and boxes.intersection(a, (5, 5, 6, 6)) == 0
    assert boxes.iou(a, b) == pytest.approx(1 / 7) and boxes.iou(a, a) == 1
    assert boxes.covered_share((0, 0, 2, 2), (1, 0, 4, 4)) == 0.5
    assert list(boxes.union(a, b)) == [0, 0, 3, 3]
    assert list(boxes.grow((0, 0, 2, 4), 0.5, 0.25)) == [-1, -1, 3, 5]


def test_iou_matrix_matches_the_pairwise_iou() -> None:
    rng = np.random.default_rng(0)
    xy = rng.uniform(0, 1, (7, 2))
    a = np.hstack([xy, xy + rng.uniform(0.05, 0.5, (7, 2))])
    b = a[::-1] + 0.05
    m = boxes.iou_matrix(a, b)
    assert m.shape == (7, 7)
    assert np.allclose(m, [[boxes.iou(x, y) for y in b] for x in a])
    assert boxes.iou_matrix(a, np.zeros((0, 4))).shape == (7, 0)
