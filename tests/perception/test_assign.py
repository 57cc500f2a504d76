"""The trackers' assignment matches SciPy's optimum on random and degenerate matrices."""

from __future__ import annotations

import numpy as np
import pytest

from onlook.perception.assign import linear_sum_assignment


@pytest.mark.parametrize("shape", [(1, 1), (3, 3), (4, 7), (7, 4), (12, 12), (2, 30), (30, 2)])
def test_same_total_cost_as_scipy(shape: tuple[int, int]) -> None:
    scipy_opt = pytest.importorskip("scipy.optimize")
    rng = np.random.default_rng(sum(shape))
    for _ in range(20):
        cost = rng.random(shape)
        if rng.random() < 0.3:  # ties and integer costs, as IoU-based costs often have
            cost = np.round(cost * 3)
        rows, cols = linear_sum_assignment(cost)
        ref_r, ref_c = scipy_opt.linear_sum_assignment(cost)
        assert len(rows) == min(shape) and len(set(cols)) == len(cols) and list(rows) == sorted(rows)
        assert cost[rows, cols].sum() == pytest.approx(cost[ref_r, ref_c].sum())


def test_empty_and_bad_input() -> None:
    r, c = linear_sum_assignment(np.zeros((0, 3)))
    assert r.size == 0 and c.size == 0
    with pytest.raises(ValueError):
        linear_sum_assignment(np.array([[np.inf, 1.0]]))
    with pytest.raises(ValueError):
        linear_sum_assignment(np.zeros(3))
