"""Optimal assignment (the Hungarian method) for the trackers, in numpy.

Trackers match a few tracks to a few detections every frame; SciPy's ``linear_sum_assignment`` does that
too, but importing ``scipy.optimize`` costs a third of a second of every start, and the matrices here are
tiny. This is the shortest-augmenting-path form of the Hungarian method with potentials (Kuhn-Munkres,
O(n^2 m)), vectorised over columns.
"""

from __future__ import annotations

import numpy as np

__all__ = ["linear_sum_assignment"]


def linear_sum_assignment(cost: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Rows and columns of a minimum-cost matching of a (rectangular) cost matrix.

    Every row is matched when there are no more rows than columns (else every column); rows come back in
    increasing order, as SciPy's function returns them.

    Example:
        >>> linear_sum_assignment(np.array([[4.0, 1.0, 3.0], [2.0, 0.0, 5.0], [3.0, 2.0, 2.0]]))
        (array([0, 1, 2]), array([1, 0, 2]))
    """
    a = np.asarray(cost, dtype=np.float64)
    if a.ndim != 2:
        raise ValueError(f"cost must be a 2-D matrix, got shape {a.shape}")
    if a.size == 0:
        return np.zeros(0, int), np.zeros(0, int)
    if not np.isfinite(a).all():
        raise ValueError("cost matrix has infinite or NaN entries")
    transposed = a.shape[0] > a.shape[1]
    if transposed:
        a = a.T
    n, m = a.shape
    u = np.zeros(n + 1)
    v = np.zeros(m + 1)
    p = np.zeros(m + 1, dtype=int)  # p[j]: the row (1-based) matched to column j; column 0 is the virtual start
    way = np.zeros(m + 1, dtype=int)
    for i in range(1, n + 1):
        p[0] = i
        j0 = 0
        minv = np.full(m + 1, np.inf)
        used = np.zeros(m + 1, dtype=bool)
        while True:
            used[j0] = True
            i0 = p[j0]
            free = ~used[1:]
            cur = a[i0 - 1] - u[i0] - v[1:]
            better = free & (cur < minv[1:])
            minv[1:][better] = cur[better]
            way[1:][better] = j0
            masked = np.where(free, minv[1:], np.inf)
            j1 = int(np.argmin(masked)) + 1
            delta = masked[j1 - 1]
            done = np.flatnonzero(used)
            u[p[done]] += delta
            v[done] -= delta
            minv[1:][free] -= delta
            j0 = j1
            if p[j0] == 0:
                break
        while j0:  # augment along the path back to the virtual column
            j1 = way[j0]
            p[j0] = p[j1]
            j0 = j1
    cols = np.flatnonzero(p[1:])
    rows = p[1:][cols] - 1
    if transposed:
        rows, cols = cols, rows
    order = np.argsort(rows)
    return rows[order], cols[order]
