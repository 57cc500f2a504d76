"""Motion: how much of the picture changed, and where.

Motion comes for free from the redundancy gate's tile grid; this module only
turns that grid into an :class:`~onlook.types.Observation` with a box and the
names of the picture regions that moved ("lower left", "centre"...), which is
what alert queries such as "motion in the lower left" match against.
"""

from __future__ import annotations

import numpy as np

from onlook.types import Observation, ObservationKind

__all__ = ["REGIONS", "cell_of", "motion_observation", "region_of_point", "regions_of_grid"]

_ROWS = ("upper", "middle", "lower")
_COLS = ("left", "centre", "right")
REGIONS: tuple[str, ...] = tuple(
    "centre" if (r == "middle" and c == "centre") else f"{r} {c}" for r in _ROWS for c in _COLS
)
"""The nine picture regions, row-major: ``"upper left"`` ... ``"lower right"``."""


def region_of_point(x: float, y: float) -> str:
    """Name the picture region of a normalised point.

    Example:
        >>> region_of_point(0.1, 0.9)
        'lower left'
    """
    r = min(2, max(0, int(y * 3)))
    c = min(2, max(0, int(x * 3)))
    return REGIONS[r * 3 + c]


def regions_of_grid(changed: np.ndarray, min_share: float = 0.05) -> list[str]:
    """Regions in which at least ``min_share`` of the tiles changed."""
    rows, cols = changed.shape
    out = []
    for i in range(3):
        for j in range(3):
            cell = changed[i * rows // 3:(i + 1) * rows // 3 or None, j * cols // 3:(j + 1) * cols // 3 or None]
            if cell.size and cell.mean() >= min_share:
                out.append(REGIONS[i * 3 + j])
    return out


def motion_observation(t: float, changed: np.ndarray, min_fraction: float = 0.005) -> Observation | None:
    """Summarise a changed-tile grid as one ``motion`` observation.

    Returns ``None`` when less than ``min_fraction`` of the picture moved.
    """
    frac = float(changed.mean())
    if frac < min_fraction:
        return None
    ys, xs = np.nonzero(changed)
    rows, cols = changed.shape
    box = (xs.min() / cols, ys.min() / rows, (xs.max() + 1) / cols, (ys.max() + 1) / rows)
    regions = regions_of_grid(changed)
    return Observation(t=t, kind=ObservationKind.MOTION, label=", ".join(regions) or "scattered", score=frac,
                       box=box, attrs={"regions": regions})


def cell_of(o: Observation) -> str | None:
    """The grid cell an observation is in: its recorded ``region``, else its box's centre (None: neither)."""
    if o.attrs.get("region"):
        return str(o.attrs["region"])
    if o.box is not None:
        return region_of_point((o.box[0] + o.box[2]) / 2, (o.box[1] + o.box[3]) / 2)
    return None
