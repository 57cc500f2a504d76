"""What the tracker knows: blobs, tracks, the learnt person height, and when a track is someone.

A :class:`Track` is a candidate until :func:`maybe_confirm` says it is a
person, by how it appeared (across an edge, inside the view, beside someone,
or already there at the start). :func:`part_of_bigger` keeps parts of one
big person from counting as more people, and :func:`still_there` keeps
someone who stopped and faded into the background.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from onlook.perception import boxes
from onlook.perception.people.crossing import moved_in
from onlook.perception.people.thresholds import THRESHOLDS, PeopleThresholds

if TYPE_CHECKING:
    from onlook.perception.people.crossing import Edges
    from onlook.perception.people.hog import HogVerifier

__all__ = ["Blob", "HeightModel", "Track", "maybe_confirm", "part_of_bigger", "patch", "ref_size",
           "still_there"]


@dataclass(eq=False, slots=True)
class Blob:
    """A connected piece of foreground.

    Attributes:
        box: ``x0, y0, x1, y1`` in work pixels (``x1``, ``y1`` exclusive).
        mask: Its pixels, cut to ``box``.
        parent: Set when it is what was left of a tracked person's blob.
    """

    box: np.ndarray
    mask: np.ndarray
    parent: Track | None = None

    @property
    def w(self) -> float:
        """Box width, work pixels."""
        return float(self.box[2] - self.box[0])

    @property
    def h(self) -> float:
        """Box height, work pixels."""
        return float(self.box[3] - self.box[1])

    @property
    def area(self) -> float:
        """Number of its pixels."""
        return float(np.count_nonzero(self.mask))


@dataclass(eq=False, slots=True)
class Track:
    """One candidate or confirmed person."""

    id: int
    box: np.ndarray  # x0, y0, x1, y1 in work pixels
    born: float
    origin: str  # "edge", "inside", "initial", "split"
    edge: str  # edge it came in through, or "inside"
    birth_box: np.ndarray
    last_seen: float
    vel: np.ndarray = field(default_factory=lambda: np.zeros(2))  # foot point, work px / s
    hits: int = 1
    misses: int = 0
    confirmed: bool = False
    hog: float = -math.inf  # best HOG score seen
    hog_tries: int = 0
    disp: float = 0.0  # farthest the foot point got from where it was first seen, work px
    size: tuple[float, float] | None = None  # (h, w) smoothed over whole, unmerged sightings
    static: bool = False
    template: np.ndarray | None = None
    parent: Track | None = None
    seen_now: bool = True
    alone: int = 0  # sightings as a blob of its own, not shared with another track
    seen_whole: bool = False  # seen clear of every edge at least once
    plausible: int = 0  # sightings in a blob no bigger than the people it holds
    entered_event: bool = False

    @property
    def h(self) -> float:
        """Box height, work pixels."""
        return float(self.box[3] - self.box[1])

    @property
    def w(self) -> float:
        """Box width, work pixels."""
        return float(self.box[2] - self.box[0])


class HeightModel:
    """Person height in work pixels as a robust linear function of foot row.

    Args:
        frame_h: Work image height.
        min_samples: Fewest sightings a line is fitted on.
        maxlen: Sightings kept.
        th: Tuning constants.
    """

    def __init__(self, frame_h: int, *, min_samples: int = THRESHOLDS.height_min_samples,
                 maxlen: int = THRESHOLDS.height_max_samples, th: PeopleThresholds = THRESHOLDS) -> None:
        self.frame_h = frame_h
        self.min_samples = min_samples
        self.th = th
        self.samples: deque[tuple[float, float]] = deque(maxlen=maxlen)
        self._fit: tuple[float, float, float, float] | None = None  # a, b, y_lo, y_hi
        self._new = 0  # samples added since the last fit

    def add(self, foot_y: float, h: float) -> None:
        """Record one isolated, whole person: feet at ``foot_y``, ``h`` tall."""
        self.samples.append((foot_y, h))
        self._new += 1

    def _refit(self) -> None:
        th = self.th
        self._new = 0
        if len(self.samples) < self.min_samples:
            self._fit = None
            return
        arr = np.asarray(self.samples, dtype=np.float64)
        y, h = arr[:, 0], arr[:, 1]
        keep = np.ones(len(y), bool)
        a, b = 0.0, float(np.median(h))
        for _ in range(th.height_fit_rounds):
            ys, hs = y[keep], h[keep]
            if np.ptp(ys) > th.height_min_spread * self.frame_h and len(ys) >= self.min_samples:
                ym, hm = ys.mean(), hs.mean()
                a = float(((ys - ym) * (hs - hm)).sum() / ((ys - ym) ** 2).sum())
                b = float(hm - a * ym)
                if a < 0:  # an elevated camera never sees people shrink towards the bottom
                    a, b = 0.0, float(np.median(hs))
            else:
                a, b = 0.0, float(np.median(hs))
            pred = np.maximum(a * y + b, 1.0)
            keep = np.abs(h - pred) < th.height_outlier * pred
            if keep.sum() < self.min_samples // 2:
                break
        lo, hi = np.percentile(y, [th.height_foot_lo, th.height_foot_hi])
        self._fit = (float(a), float(b), float(lo), float(hi))

    def expected(self, foot_y: float) -> float | None:
        """Expected height at ``foot_y``, or ``None`` while too little is known."""
        th = self.th
        # Refit now and then: the relation changes slowly and a fit costs ~0.5 ms.
        if self._new and self._new >= min(th.height_refit_max, max(1, len(self.samples) // th.height_refit_div)):
            self._refit()
        if self._fit is None:
            return None
        a, b, lo, hi = self._fit
        # On a ground plane height grows linearly with the foot row, so the line
        # extrapolates; only guard against a fit that runs into the horizon.
        span = max(hi - lo, th.height_min_span * self.frame_h)
        y = min(max(foot_y, lo - th.height_extrapolate * span), hi + th.height_extrapolate * span)
        if foot_y < lo:
            return max(a * y + b, th.height_above_floor * (a * lo + b), th.height_min)
        return max(a * y + b, th.height_min)


def ref_size(tr: Track, foot_y: float, heights: HeightModel, th: PeopleThresholds = THRESHOLDS
             ) -> tuple[float, float] | None:
    """(h, w) the track's person should have with feet at ``foot_y``; None if unknown."""
    eh = heights.expected(foot_y)
    if tr.size is not None:
        h, w = tr.size
        if eh is not None:
            h0 = heights.expected(tr.box[3])
            if h0:
                k = eh / h0  # walking towards or away from the camera
                h, w = h * k, w * k
            if not th.whole_lo <= h / eh <= th.whole_hi:
                return eh, th.person_width * eh  # its own size was learnt half-hidden or in a group
        return h, w
    if eh is not None:
        return eh, th.person_width * eh
    return None


def patch(gray: np.ndarray, box: np.ndarray, shape: tuple[int, int]) -> np.ndarray | None:
    """A copy of the grey work image under ``box`` (None if under two pixels either way)."""
    wh, ww = shape
    x0, y0 = max(0, int(box[0])), max(0, int(box[1]))
    x1, y1 = min(ww, int(math.ceil(box[2]))), min(wh, int(math.ceil(box[3])))
    if x1 - x0 < 2 or y1 - y0 < 2:
        return None
    return gray[y0:y1, x0:x1].copy()


def maybe_confirm(tr: Track, *, tracks: list[Track], edges: Edges, heights: HeightModel, hog: HogVerifier,
                  hog_threshold: float, hog_veto: float, min_height: float,
                  th: PeopleThresholds = THRESHOLDS) -> bool:
    """Score a candidate with HOG and confirm it if it now looks like a person.

    Args:
        tr: An unconfirmed track seen in this frame.
        tracks: Every track (for :func:`part_of_bigger`).
        edges: The frame's edges.
        heights: What a person's height is at each row.
        hog: The HOG verifier, set up for this frame.
        hog_threshold: Score above which a window is a person.
        hog_veto: Best score below which something seen big enough is not a person.
        min_height: Smallest person, as a share of the frame height.
        th: Tuning constants.

    Returns:
        Whether ``tr`` was confirmed (``tr.confirmed`` is then set).
    """
    edge = edges.touch(tr.box)
    if edge is not None and tr.seen_whole:
        return False  # seen whole and not a person; a slice of it going out is no better
    eh = heights.expected(tr.box[3])
    if edge is None and tr.hog_tries < th.hog_max_tries and tr.h * hog.scale >= th.hog_min_h \
            and hog.may_hog(tr.box):
        score = hog.score(tr.box)
        tr.hog = max(tr.hog, score)
        tr.hog_tries += 1
        if score >= hog_threshold + th.hog_sure and th.hog_aspect_lo * tr.w <= tr.h <= th.hog_aspect_hi * tr.w:
            heights.add(float(tr.box[3]), tr.h)  # clearly one whole person
    person_hog = tr.hog >= hog_threshold
    if tr.hog_tries >= th.hog_veto_tries and tr.hog < hog_veto and (tr.alone or tr.origin != "split"):
        return False  # seen big enough, and not behind a companion, and HOG sees no person
    sized = eh is None or th.sized_lo * eh <= tr.h <= th.sized_hi * eh
    upright = tr.h >= th.upright * tr.w
    moving = tr.disp >= th.walked * max(tr.h, 1.0) and tr.hits >= th.moving_hits
    if tr.origin == "edge":
        # Came in across an edge: it must grow or move inwards, and look like one person.
        grew = boxes.area(tr.box) > th.edge_grew * boxes.area(tr.birth_box) or moved_in(tr) \
            or tr.disp >= th.edge_moved * max(tr.h, tr.w)
        if edge in ("left", "right") or edge is None:
            shaped = sized and upright and (eh is None or tr.h >= th.edge_min_h * eh)
        else:  # cut by the top or bottom: only part of the height shows
            shaped = tr.h >= tr.w and (eh is None or boxes.area(tr.box) >= th.edge_cut_area * eh * eh)
        ok = tr.hits >= th.confirm_hits and grew and (person_hog or shaped)
    elif tr.origin == "initial":
        # Ghosts (where someone stood when the background was learnt) never move.
        ok = tr.hits >= th.confirm_hits and sized and (moving or (person_hog and tr.disp >= th.initial_walked * tr.h))
    elif tr.origin == "split":
        # Part of someone else's blob at first: a bag, an arm or a shadow, unless it
        # looks like a person or walks off on its own.
        ok = tr.hits >= th.confirm_hits and sized and upright and (
            person_hog or (moving and (tr.alone >= th.split_alone or tr.plausible >= th.split_plausible)))
    else:  # emerging inside the view
        ok = tr.hits >= th.inside_hits and sized and upright and (person_hog or moving)
    if not ok or tr.h < min_height * edges.wh:
        return False
    if not (tr.plausible or person_hog):
        return False  # only ever seen as a small part of a bigger moving mass
    if part_of_bigger(tr, tracks, edges, th):
        return False
    tr.confirmed = True
    return True


def part_of_bigger(tr: Track, tracks: list[Track], edges: Edges, th: PeopleThresholds = THRESHOLDS) -> bool:
    """Whether a track is a piece of a much bigger person, not someone of its own.

    A box that lies inside the box of a confirmed person more than twice
    its height is a hand, a shoulder or what moves behind them, not
    another person (who would be hidden there). A close-up (someone cut
    off by the bottom edge, filling most of the frame height) shows
    shoulders about as wide as the visible height, wider than their
    tracked box: small things beside it are parts of them too (or the view
    through a window behind them).
    """
    wh = edges.wh
    for o in tracks:
        if o is tr or not o.confirmed or o.h < th.bigger_ratio * tr.h:
            continue
        box = o.box
        if o.h >= th.closeup_h * wh and o.box[3] >= wh - edges.margin * wh - 1:
            box = boxes.grow(o.box, th.closeup_shoulders * o.h / max(o.w, 1.0), 0.0)
        if boxes.covered_share(tr.box, box) >= th.part_cover:
            return True
    return False


def still_there(tr: Track, gray: np.ndarray, edges: Edges, th: PeopleThresholds = THRESHOLDS) -> bool:
    """The person faded into the background but their pixels have not moved."""
    if tr.template is None or edges.touch(tr.box) is not None:
        return False
    if tr.disp < th.walked * max(tr.h, 1.0):
        return False  # it never walked anywhere: a ghost or a flicker, not someone who stopped
    cur = patch(gray, tr.box, (edges.wh, edges.ww))
    if cur is None or cur.shape != tr.template.shape:
        return False
    diff = float(np.mean(np.abs(cur.astype(np.int16) - tr.template.astype(np.int16))))
    return diff < th.still_diff
