"""The row every benchmark returns, and the statistics they share."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

__all__ = ["BenchResult", "pct", "rss_mb"]


@dataclass(frozen=True)
class BenchResult:
    """One measured figure: a row of ``BENCHMARKS.md``.

    Attributes:
        name: What was measured.
        figure: The figure, with the conditions it was measured under.
        target: What it should be.
        ok: Whether the target was met (None: reported, no target).
        details: The command that reruns this row alone (``cmd``) and raw numbers.
    """

    name: str
    figure: str
    target: str
    ok: bool | None
    details: dict[str, Any] = field(default_factory=dict)


def pct(values: list[float], q: float) -> float:
    """The ``q``-th percentile of ``values`` (NaN when there are none)."""
    if not values:
        return float("nan")
    return float(np.percentile(np.asarray(values), q))


def rss_mb() -> float:
    """This process's resident memory, in MB."""
    import psutil

    return psutil.Process().memory_info().rss / 1e6
