"""Frame edges, and the enter / exit decisions made on the tracker's output.

Someone who appears at an edge came in through it; someone who vanishes at an
edge (or whose last motion carries them over one within a second) left
through it; someone who vanishes inside the view and stays lost for
``lost_s`` left "inside" (a doorway, behind a car). An ``enter`` fires only
for a track confirmed soon after it was first seen.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from onlook.perception.people.thresholds import THRESHOLDS, PeopleThresholds

if TYPE_CHECKING:
    from onlook.perception.people.state import Track

__all__ = ["EDGES", "Edges", "announces_entry", "exit_edge", "leaving_edge", "moved_in"]

EDGES = ("left", "right", "top", "bottom")


@dataclass(frozen=True, slots=True)
class Edges:
    """The edges of the work image.

    Attributes:
        wh: Work image height.
        ww: Work image width.
        margin: Share of the width / height that counts as "at the edge".
    """

    wh: int
    ww: int
    margin: float

    def touch(self, box: np.ndarray) -> str | None:
        """The frame edge a box touches, if any (the nearest one)."""
        wh, ww = self.wh, self.ww
        # One pixel more than the margin: boxes are whole pixels and x1, y1 are exclusive.
        mx, my = self.margin * ww + 1, self.margin * wh + 1
        gaps = {"left": box[0], "right": ww - box[2], "top": box[1], "bottom": wh - box[3]}
        limits = {"left": mx, "right": mx, "top": my, "bottom": my}
        hits = [(gaps[e] / limits[e], e) for e in EDGES if gaps[e] <= limits[e]]
        return min(hits)[1] if hits else None


def moved_in(tr: Track) -> bool:
    """Whether a track born at an edge has moved its inner side inwards (by more than a pixel)."""
    b0, b1 = tr.birth_box, tr.box
    return {
        "left": b1[2] > b0[2] + 1, "right": b1[0] < b0[0] - 1,
        "top": b1[3] > b0[3] + 1, "bottom": b1[1] < b0[1] - 1,
    }.get(tr.edge, False)


def leaving_edge(edges: Edges, tr: Track, t: float, th: PeopleThresholds = THRESHOLDS) -> str | None:
    """The edge a vanished person went out through, or None if they vanished inside."""
    edge = edges.touch(tr.box)
    h = max(tr.size[0] if tr.size else tr.h, th.ref_h_min)
    if edge is not None:
        inward = {"left": tr.vel[0], "right": -tr.vel[0], "top": tr.vel[1],
                  "bottom": -tr.vel[1]}[edge]
        # Someone still coming in is hidden, not gone.
        return edge if inward < th.coming_in * h else None
    p = tr.box + np.r_[tr.vel, tr.vel] * min(t - tr.last_seen, th.exit_lookahead_s)
    return edges.touch(p)


def exit_edge(edges: Edges, tr: Track, t: float, lost_s: float, th: PeopleThresholds = THRESHOLDS
              ) -> str | None:
    """Where a confirmed person not seen in this frame left: an edge, ``"inside"``, or None (not gone)."""
    edge = leaving_edge(edges, tr, t, th)
    if edge is not None:
        return edge
    if t - tr.last_seen > lost_s:
        return "inside"
    return None


def announces_entry(tr: Track, t: float, enter_window_s: float) -> bool:
    """Whether a track confirmed at ``t`` fires an ``enter``.

    An arrival is evident within seconds; what lingered before looking like
    someone (a door, a car boot, a flag at the border) is counted, not
    announced. One of a group that came in together is announced too.
    """
    fire = tr.origin in ("edge", "inside") and t - tr.born <= enter_window_s
    if tr.origin == "split" and tr.parent is not None and tr.parent.origin == "edge" \
            and t - tr.parent.born <= enter_window_s:
        fire = True
    return fire
