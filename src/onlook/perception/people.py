"""People in view, and people entering and leaving it, for fixed cameras on a CPU.

Foreground comes from a mixture-of-Gaussians background model (OpenCV MOG2,
shadows removed) on a 320-pixel-wide copy of the frame, after undoing global
exposure drift; blobs that hardly differ from the background (compression
noise, flicker) are dropped. Blobs are matched to tracks by a gated Hungarian
assignment on constant-velocity predictions. A blob claimed by several
tracks (people walking together) has its pixels shared among them; a blob
bigger than its one track is fitted with a person-sized box and what is left
over, if person-sized, becomes a candidate of its own; pieces that fit inside
a tracked person's box are absorbed. Someone lost for a moment whose last
place lies in a blob another track claims, wider than one person, rejoins it
(people standing together merge for seconds), and a hidden group member
moves as its mates do. A track inside a much taller person's box, or beside
a close-up cut off by the bottom edge, is a part of them and not counted.

What one person looks like at each image row is learned online: a robust
line ``height = a * foot_y + b`` fitted to isolated confirmed tracks (people
near the bottom of an elevated view are taller); nothing is assumed about the
camera. OpenCV's HOG people model scores single 64x128 windows cut around
candidates that are big enough for it (a fraction of a millisecond each): a
good score confirms someone, a very bad one vetoes them (a box, a car, a
hand), and it is the only evidence that confirms a group member.

A candidate is confirmed by how it appeared. Across an edge: it grows or
moves inwards and is shaped like a person. Inside the view, away from every
known person (a doorway, behind a car): it keeps coming for three frames and
looks like a person or walks. Next to someone (a companion, or a bag): HOG
says person, or it walks off on its own. Everything present during the
first seconds of a stream is taken as already there, and everything that
shows up right after a scene cut or camera motion too, so neither fires an
``enter``; an ``enter`` also needs the newcomer to look like a person within
a few seconds. Lost people are re-acquired near their predicted position (not
across an edge), and someone who stops and fades into the background is kept
while their pixels stay as they were. When most of the frame is foreground
(the camera moves) no tracks are kept and HOG's multi-scale detector counts
people on the small frame, without events.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass, field

import cv2
import numpy as np

from onlook.errors import ConfigError
from onlook.perception import boxes
from onlook.perception.assign import linear_sum_assignment
from onlook.types import Box, Observation, ObservationKind

__all__ = ["PeopleResult", "PeopleTracker"]

_EDGES = ("left", "right", "top", "bottom")
_HOG_W, _HOG_H = 64, 128
_HOG_FILL = 0.75  # share of the 128-pixel window height a person fills in HOG's training data
_HOG_MIN_H = 40  # shorter people (analysis-image pixels) are too blurred for HOG
_WIDTH = 0.38  # typical width / height of one walking person's foreground
_GHOST_S = 1.0  # fastest absorption, right after a (re)start: ghosts of people who walk off fade


@dataclass
class PeopleResult:
    """What the tracker made of one frame.

    Attributes:
        people: One ``kind="person"`` observation per person believed in view
            (moving, standing still or briefly hidden), with a stable
            ``track_id``.
        events: ``kind="enter"`` / ``"exit"`` observations; ``attrs["edge"]``
            says where (``"left"``, ``"right"``, ``"top"``, ``"bottom"`` or
            ``"inside"`` for a doorway, an occluder or the middle of the view).
        count: Number of people believed in view now (``len(people)``).
        blind: The tracker could not model this view (the camera moves, or it restarted after a cut
            and has no background yet): ``people`` is at best a coarse HOG guess, and a detector that
            sees people in any picture (the object detector's ``person`` class) knows better.
    """

    people: list[Observation] = field(default_factory=list)
    events: list[Observation] = field(default_factory=list)
    count: int = 0
    blind: bool = False


@dataclass(eq=False, slots=True)
class _Blob:
    box: np.ndarray  # x0, y0, x1, y1 in work pixels (x1, y1 exclusive)
    mask: np.ndarray  # its pixels, cut to ``box``
    parent: _Track | None = None  # set when it is what was left of a tracked person's blob

    @property
    def w(self) -> float:
        return float(self.box[2] - self.box[0])

    @property
    def h(self) -> float:
        return float(self.box[3] - self.box[1])

    @property
    def area(self) -> float:
        return float(np.count_nonzero(self.mask))


@dataclass(eq=False, slots=True)
class _Track:
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
    parent: _Track | None = None
    seen_now: bool = True
    alone: int = 0  # sightings as a blob of its own, not shared with another track
    seen_whole: bool = False  # seen clear of every edge at least once
    plausible: int = 0  # sightings in a blob no bigger than the people it holds
    entered_event: bool = False

    @property
    def h(self) -> float:
        return float(self.box[3] - self.box[1])

    @property
    def w(self) -> float:
        return float(self.box[2] - self.box[0])


class _HeightModel:
    """Person height in work pixels as a robust linear function of foot row."""

    def __init__(self, frame_h: int, *, min_samples: int = 8, maxlen: int = 400) -> None:
        self.frame_h = frame_h
        self.min_samples = min_samples
        self.samples: deque[tuple[float, float]] = deque(maxlen=maxlen)
        self._fit: tuple[float, float, float, float] | None = None  # a, b, y_lo, y_hi
        self._new = 0  # samples added since the last fit

    def add(self, foot_y: float, h: float) -> None:
        self.samples.append((foot_y, h))
        self._new += 1

    def _refit(self) -> None:
        self._new = 0
        if len(self.samples) < self.min_samples:
            self._fit = None
            return
        arr = np.asarray(self.samples, dtype=np.float64)
        y, h = arr[:, 0], arr[:, 1]
        keep = np.ones(len(y), bool)
        a, b = 0.0, float(np.median(h))
        for _ in range(3):
            ys, hs = y[keep], h[keep]
            if np.ptp(ys) > 0.08 * self.frame_h and len(ys) >= self.min_samples:
                ym, hm = ys.mean(), hs.mean()
                a = float(((ys - ym) * (hs - hm)).sum() / ((ys - ym) ** 2).sum())
                b = float(hm - a * ym)
                if a < 0:  # an elevated camera never sees people shrink towards the bottom
                    a, b = 0.0, float(np.median(hs))
            else:
                a, b = 0.0, float(np.median(hs))
            pred = np.maximum(a * y + b, 1.0)
            keep = np.abs(h - pred) < 0.3 * pred
            if keep.sum() < self.min_samples // 2:
                break
        lo, hi = np.percentile(y, [2, 98])
        self._fit = (float(a), float(b), float(lo), float(hi))

    def expected(self, foot_y: float) -> float | None:
        """Expected height at ``foot_y``, or ``None`` while too little is known."""
        # Refit now and then: the relation changes slowly and a fit costs ~0.5 ms.
        if self._new and self._new >= min(10, max(1, len(self.samples) // 10)):
            self._refit()
        if self._fit is None:
            return None
        a, b, lo, hi = self._fit
        # On a ground plane height grows linearly with the foot row, so the line
        # extrapolates; only guard against a fit that runs into the horizon.
        span = max(hi - lo, 0.1 * self.frame_h)
        y = min(max(foot_y, lo - 1.5 * span), hi + 1.5 * span)
        return max(a * y + b, 0.5 * (a * lo + b), 2.0) if foot_y < lo else max(a * y + b, 2.0)


class PeopleTracker:
    """Count and track people, and report them entering and leaving the view.

    Call :meth:`update` once per analysed frame, in stream order.

    Args:
        fps: Expected analysis rate; only used before two frames give a real
            time step.
        work_width: Width of the copy the background model runs on.
        absorb_s: Seconds after which something that stopped moving has
            faded into the background model (the tracker keeps counting a
            person who stands still by their appearance).  Shorter right
            after a start, so that people who walk off leave no ghosts.
        var_threshold: MOG2 squared Mahalanobis distance for foreground.
        warmup_s: People found this soon after the start (or a cut) were
            already there and fire no ``enter``.
        lost_s: How long a vanished person is remembered for re-acquisition.
        hold_s: How long a vanished person is still counted.
        enter_window_s: An ``enter`` fires only if the newcomer looks like a
            person within this long of first being seen.
        hog_threshold: HOG SVM score above which a window is a person.
        hog_veto: Best HOG score below which something seen whole, and big
            enough for HOG, is not a person whatever its motion.
        edge_margin: Share of the frame width/height that counts as "at the edge".
        min_height: Smallest person worth tracking, as a share of frame height.
        min_contrast: Mean difference from the background (grey levels, the
            largest of the three channels) below which a blob is noise.
        unstable_fraction: Share of foreground above which the camera is
            taken to be moving (no tracks, HOG counting only).
        hog_fallback: Run HOG's multi-scale detector while the camera moves.

    Example:
        >>> import numpy as np
        >>> tracker = PeopleTracker(fps=2.0)
        >>> res = tracker.update(np.zeros((240, 320, 3), np.uint8), 0.0)
        >>> res.count, res.events
        (0, [])
    """

    def __init__(
        self,
        *,
        fps: float = 2.0,
        work_width: int = 320,
        absorb_s: float = 6.0,
        var_threshold: float = 16.0,
        warmup_s: float = 2.0,
        lost_s: float = 4.0,
        enter_window_s: float = 3.0,
        hold_s: float = 2.0,
        hog_threshold: float = -1.0,
        hog_veto: float = -2.0,
        edge_margin: float = 0.02,
        min_height: float = 0.035,
        min_contrast: float = 30.0,
        unstable_fraction: float = 0.3,
        hog_fallback: bool = True,
    ) -> None:
        if fps <= 0:
            raise ConfigError(f"fps must be positive, got {fps}")
        if work_width < 64:
            raise ConfigError(f"work_width must be at least 64, got {work_width}")
        if absorb_s <= 0 or lost_s < 0 or hold_s < 0 or warmup_s < 0:
            raise ConfigError("absorb_s must be positive and lost_s, hold_s, warmup_s non-negative")
        self.fps = float(fps)
        self.work_width = int(work_width)
        self.absorb_s = float(absorb_s)
        self.var_threshold = float(var_threshold)
        self.warmup_s = float(warmup_s)
        self.lost_s = float(lost_s)
        self.enter_window_s = float(enter_window_s)
        self.hold_s = min(float(hold_s), self.lost_s)
        self.hog_threshold = float(hog_threshold)
        self.hog_veto = float(hog_veto)
        self.edge_margin = float(edge_margin)
        self.min_height = float(min_height)
        self.min_contrast = float(min_contrast)
        self.unstable_fraction = float(unstable_fraction)
        self.hog_fallback = bool(hog_fallback)
        self._hog = cv2.HOGDescriptor()
        det = np.asarray(cv2.HOGDescriptor_getDefaultPeopleDetector(), np.float32).ravel()
        self._hog_w = det[:-1]
        self._hog_b = float(det[-1])
        self._hog_ms: cv2.HOGDescriptor | None = None
        self._next_id = 1
        self.reset()

    # ------------------------------------------------------------------ public

    def reset(self) -> None:
        """Forget the background, every track and what people look like."""
        self._mog: cv2.BackgroundSubtractorMOG2 | None = None
        self._shape: tuple[int, int] | None = None  # work (h, w)
        self._tracks: list[_Track] = []
        self._heights: _HeightModel | None = None
        self._t0 = 0.0
        self._last_t: float | None = None
        self._work_fraction = 0.0
        self._unstable = 0
        self._strict_until = -math.inf

    @property
    def work_fraction(self) -> float:
        """Share of the image area the HOG detector ran on in the last update."""
        return self._work_fraction

    def update(self, image: np.ndarray, t: float, *, changed: np.ndarray | None = None,
               scene_cut: bool = False) -> PeopleResult:
        """Analyse the next frame.

        Args:
            image: ``HxWx3`` ``uint8`` BGR frame.
            t: Stream time of the frame, seconds (non-decreasing).
            changed: Optional boolean grid (any shape) of regions that changed
                since the previous analysed frame; HOG runs only there and
                around known people. ``None`` means everything changed.
            scene_cut: The shot changed: the background and tracks restart
                silently.

        Returns:
            The people in view, the enter/exit events of this frame and the count.

        Raises:
            ValueError: ``image`` is not an ``HxWx3`` ``uint8`` array.
        """
        if not isinstance(image, np.ndarray) or image.ndim != 3 or image.shape[2] != 3 \
                or image.dtype != np.uint8:
            raise ValueError(f"image must be HxWx3 uint8, got {getattr(image, 'shape', type(image))}")
        H, W = image.shape[:2]
        ww = self.work_width
        wh = max(8, int(round(H * ww / W)))
        small = cv2.resize(image, (ww, wh), interpolation=cv2.INTER_AREA)
        self._scale = W / ww
        self._image = image
        self._changed = self._changed_grid(changed, wh, ww)
        self._hog_area = np.zeros((wh, ww), bool)
        self._work_fraction = 0.0

        # A cut, a new picture size, time running backwards or a long outage: what
        # was known of the view no longer holds (the people model does, unless cut).
        gap = self._last_t is not None and (
            t < self._last_t or t - self._last_t > max(self.lost_s, 3.0 / self.fps))
        if scene_cut or self._mog is None or self._shape != (wh, ww) or gap:
            self._restart(small, t, keep_heights=not scene_cut and self._shape == (wh, ww),
                          strict=self._mog is not None)
            return PeopleResult(blind=True)

        dt = max(t - self._last_t, 1e-3) if self._last_t is not None else 1.0 / self.fps
        self._last_t = t
        # MOG2 takes a pixel value as background once its weight passes 1 - 0.9.
        absorb = min(self.absorb_s, max(_GHOST_S, t - self._t0))
        lr = min(1.0, 0.105 * dt / absorb)
        small = self._compensate(small, lr)
        raw = self._mog.apply(small, learningRate=lr)
        fg = (raw == 255).astype(np.uint8)
        self._prev_fg = fg
        fg_frac = float(fg.mean())
        if fg_frac > self.unstable_fraction:
            return self._unstable_frame(small, t)
        if self._unstable:
            # The view settled again: whoever is visible now was already there.
            self._unstable = 0
            self._t0 = t
        self._small = small
        self._gray = cv2.cvtColor(small, cv2.COLOR_BGR2GRAY)
        # A plain running average of what is not foreground: enough to tell how
        # strongly a blob stands out (MOG2's own background image costs ~1 ms).
        cv2.accumulateWeighted(small, self._bg, min(1.0, 0.5 * dt), mask=1 - fg)

        blobs = self._blobs(fg)
        events = self._track(blobs, t, dt)
        self._work_fraction = float(self._hog_area.mean())
        return self._result(t, events)

    # ------------------------------------------------------------- internals

    def _restart(self, small: np.ndarray, t: float, *, keep_heights: bool, strict: bool) -> None:
        wh, ww = small.shape[:2]
        self._mog = cv2.createBackgroundSubtractorMOG2(
            history=500, varThreshold=self.var_threshold, detectShadows=True)
        self._mog.apply(small, learningRate=1.0)
        self._ref = np.asarray(cv2.mean(small)[:3], np.float64)
        self._prev_fg = None
        self._bg = small.astype(np.float32)
        self._shape = (wh, ww)
        self._tracks = []
        if not keep_heights or self._heights is None:
            self._heights = _HeightModel(wh)
        self._t0 = t
        self._last_t = t
        self._unstable = 0
        self._strict_until = t + self.warmup_s if strict else -math.inf

    def _compensate(self, small: np.ndarray, lr: float) -> np.ndarray:
        """Undo global exposure drift, which MOG2 would take for foreground everywhere."""
        mask = None if self._prev_fg is None else (1 - self._prev_fg)
        cur = np.asarray(cv2.mean(small, mask=mask)[:3], np.float64)
        gain = self._ref / np.maximum(cur, 1.0)
        self._ref = (1 - lr) * self._ref + lr * cur
        if np.all(np.abs(gain - 1.0) < 0.004):
            return small
        return cv2.multiply(small, (float(gain[0]), float(gain[1]), float(gain[2]), 0.0),
                            dtype=cv2.CV_8U)

    @staticmethod
    def _changed_grid(changed: np.ndarray | None, wh: int, ww: int) -> np.ndarray | None:
        if changed is None:
            return None
        grid = np.asarray(changed).astype(np.uint8)
        if grid.ndim != 2 or grid.size == 0:
            raise ValueError(f"changed must be a 2-D mask, got shape {grid.shape}")
        return cv2.resize(grid, (ww, wh), interpolation=cv2.INTER_NEAREST) > 0

    def _unstable_frame(self, small: np.ndarray, t: float) -> PeopleResult:
        """Most of the frame moved: restart the background, count with HOG only."""
        assert self._mog is not None
        self._mog.apply(small, learningRate=1.0)
        self._ref = np.asarray(cv2.mean(small)[:3], np.float64)
        self._prev_fg = None
        self._bg = small.astype(np.float32)
        self._tracks = []  # a moving view invalidates every track; nobody "left"
        self._unstable += 1
        self._t0 = t
        self._strict_until = t + self.warmup_s
        people: list[Observation] = []
        if self.hog_fallback:
            if self._hog_ms is None:
                self._hog_ms = cv2.HOGDescriptor()
                self._hog_ms.setSVMDetector(cv2.HOGDescriptor_getDefaultPeopleDetector())
            rects, weights = self._hog_ms.detectMultiScale(small, winStride=(8, 8), scale=1.1,
                                                           hitThreshold=0.3)
            self._work_fraction = 1.0
            wh, ww = small.shape[:2]
            for (x, y, w, h), s in zip(rects, np.ravel(weights) if len(rects) else []):
                box = (x / ww, y / wh, min(1.0, (x + w) / ww), min(1.0, (y + h) / wh))
                people.append(Observation(t, ObservationKind.PERSON, "person", score=_squash(float(s)),
                                          box=_clip_box(box), attrs={"state": "detected"}))
        return PeopleResult(people=people, events=[], count=len(people), blind=True)

    def _blobs(self, fg: np.ndarray) -> list[_Blob]:
        wh, ww = fg.shape
        fg = cv2.morphologyEx(fg, cv2.MORPH_OPEN, np.ones((2, 2), np.uint8))
        # Close vertically: legs, trunk and head of one person often come apart.
        kx = max(1, int(round(ww / 110)))
        ky = max(3, int(round(ww / 45))) | 1
        fg = cv2.morphologyEx(fg, cv2.MORPH_CLOSE, cv2.getStructuringElement(
            cv2.MORPH_ELLIPSE, (kx, ky)))
        n, labels, stats, _ = cv2.connectedComponentsWithStats(fg, connectivity=8)
        min_area = max(4.0, 0.15 * (self.min_height * wh) ** 2)
        blobs = []
        for i in range(1, n):
            x, y, w, h, a = stats[i]
            if a < min_area:
                continue
            mask = labels[y:y + h, x:x + w] == i
            # Compression noise and flicker pass MOG2's test by a few grey levels only.
            k = 1 + int(a > 1500) + int(a > 6000)  # a sample of the pixels is plenty
            diff = np.abs(self._small[y:y + h:k, x:x + w:k].astype(np.float32)
                          - self._bg[y:y + h:k, x:x + w:k])
            if float(diff.max(axis=2)[mask[::k, ::k]].mean()) < self.min_contrast:
                continue
            blobs.append(_Blob(np.array([x, y, x + w, y + h], np.float64), mask))
        return blobs

    # ........................................................... geometry

    def _touch(self, box: np.ndarray) -> str | None:
        """The frame edge a box touches, if any (the nearest one)."""
        wh, ww = self._work_shape()
        mx, my = self.edge_margin * ww + 1, self.edge_margin * wh + 1
        gaps = {"left": box[0], "right": ww - box[2], "top": box[1], "bottom": wh - box[3]}
        limits = {"left": mx, "right": mx, "top": my, "bottom": my}
        hits = [(gaps[e] / limits[e], e) for e in _EDGES if gaps[e] <= limits[e]]
        return min(hits)[1] if hits else None

    def _expected_h(self, foot_y: float) -> float | None:
        assert self._heights is not None
        return self._heights.expected(foot_y)

    def _ref_size(self, tr: _Track, foot_y: float) -> tuple[float, float] | None:
        """(h, w) the track's person should have with feet at ``foot_y``; None if unknown."""
        eh = self._expected_h(foot_y)
        if tr.size is not None:
            h, w = tr.size
            if eh is not None:
                h0 = self._expected_h(tr.box[3])
                if h0:
                    k = eh / h0  # walking towards or away from the camera
                    h, w = h * k, w * k
                if not 0.7 <= h / eh <= 1.4:
                    return eh, _WIDTH * eh  # its own size was learnt half-hidden or in a group
            return h, w
        if eh is not None:
            return eh, _WIDTH * eh
        return None

    def _predict(self, tr: _Track, dt: float) -> np.ndarray:
        # Lost tracks drift ever more slowly: people who vanish usually stopped or turned.
        damp = 0.7 ** min(tr.misses, 6)
        d = tr.vel * dt * damp
        return tr.box + np.array([d[0], d[1], d[0], d[1]])

    # ........................................................... tracking

    def _track(self, blobs: list[_Blob], t: float, dt: float) -> list[Observation]:
        tracks = self._tracks
        for tr in tracks:
            tr.seen_now = False
        preds = [self._predict(tr, dt) for tr in tracks]
        before = [tr.box.copy() for tr in tracks]
        claims: dict[int, list[int]] = {}  # blob index -> track indices

        # 1. One-to-one gated assignment.
        if tracks and blobs:
            cost = np.full((len(tracks), len(blobs)), 1e6)
            for i, (tr, p) in enumerate(zip(tracks, preds)):
                for j, b in enumerate(blobs):
                    c = self._cost(tr, p, b.box, t)
                    if c is not None:
                        cost[i, j] = c
            rows, cols = linear_sum_assignment(cost)
            for i, j in zip(rows, cols):
                if cost[i, j] < 1e5:
                    claims.setdefault(int(j), []).append(int(i))
        claimed = {i for idxs in claims.values() for i in idxs}

        # 2. Tracks left over that sit inside a claimed blob: people walking together.
        for i, (tr, p) in enumerate(zip(tracks, preds)):
            if i in claimed:
                continue
            best, best_ov = -1, 0.3
            if tr.misses <= 1:
                for j, b in enumerate(blobs):
                    ov = boxes.covered_share(p, b.box)
                    if ov >= best_ov:
                        best, best_ov = j, ov
            if best < 0 and tr.misses:
                best = self._merged_into(tr, p, blobs, claims, t)
                if best >= 0:
                    preds[i] = tr.box.copy()  # its speed misled it: look where it was last seen
            if best >= 0:
                claims.setdefault(best, []).append(i)
                claimed.add(i)

        # 3. Share each claimed blob among its tracks; what nobody explains may be new people.
        meas: dict[int, np.ndarray | None] = {}
        single: dict[int, bool] = {}
        plausible: dict[int, bool] = {}
        loose: list[_Blob] = []
        group: dict[int, int] = {}  # track index -> blob index
        for j, idxs in claims.items():
            parts, rest, held = self._explain(blobs[j], [(tracks[i], preds[i]) for i in idxs])
            for i, part in zip(idxs, parts):
                meas[i] = part
                group[i] = j
                single[i] = len(idxs) == 1 and not rest
                plausible[i] = held
            loose.extend(rest)

        # 4. Blobs nobody claimed: pieces of a tracked person, or new people.
        for j, b in enumerate(blobs):
            if j not in claims and not self._absorb(b, tracks, preds, meas):
                loose.append(b)

        # 5. Update the tracks that were seen.
        hidden = []
        for i, tr in enumerate(tracks):
            if i not in meas:
                continue
            box = meas[i]
            if box is None:
                hidden.append(i)
            else:
                self._observe(tr, box, t, dt, single=single[i])
                tr.plausible += int(plausible[i])
        wh, ww = self._work_shape()
        for i in hidden:
            # Hidden behind the others in its group: it is there, and moves with them.
            tr = tracks[i]
            if boxes.covered_share(preds[i], np.array([0, 0, ww, wh], np.float64)) < 0.5:
                continue  # mostly out of the picture: gone, not hidden
            mates = [k for k in claims[group[i]] if meas.get(k) is not None]
            if mates:
                # It moves as its mates did, not by its own speed: that speed is stale
                # or wrong after people in a group swapped places.
                shift = np.mean([tracks[k].box - before[k] for k in mates], axis=0)
                dx, dy = (shift[0] + shift[2]) / 2, shift[3]
                tr.box = before[i] + np.array([dx, dy, dx, dy])
                tr.vel = np.mean([tracks[k].vel for k in mates], axis=0)
            else:
                tr.box = preds[i]
            tr.seen_now = True
            tr.last_seen = t
            tr.misses = 0

        # 6. Re-acquire vanished people, or start new tracks.
        for b in self._join_pieces(loose):
            if not self._reacquire(b, t, dt):
                self._spawn(b, t)

        # 7. Verify, confirm, coast, expire.
        return self._bookkeep(t)

    def _merged_into(self, tr: _Track, p: np.ndarray, blobs: list[_Blob],
                     claims: dict[int, list[int]], t: float) -> int:
        """Index of a blob someone lost a while ago has merged into, or -1.

        Two people who stand or walk side by side often show as one blob for
        seconds, and the one who lost the assignment would be dropped after
        ``hold_s``, undercounting the group. A confirmed person lost inside
        the view rejoins a blob another track claims when it still sits in
        that blob and the blob is clearly wider than one person, so that
        there is room for them both.
        """
        if not tr.confirmed or t - tr.last_seen > self.lost_s or self._touch(tr.box) is not None:
            return -1
        for j, b in enumerate(blobs):
            # Where it was last seen counts as much as where it was heading: a
            # person swapped around in a group has an unreliable speed.
            if j not in claims or max(boxes.covered_share(p, b.box), boxes.covered_share(tr.box, b.box)) < 0.5:
                continue
            ref = self._ref_size(tr, b.box[3])
            if ref is None:
                continue
            if b.w >= 1.25 * ref[1]:
                return j
        return -1

    def _join_pieces(self, blobs: list[_Blob]) -> list[_Blob]:
        """Join new blobs stacked one over the other that fit one person (legs and trunk)."""
        blobs = sorted(blobs, key=lambda b: -b.area)
        out: list[_Blob] = []
        for b in blobs:
            for k, a in enumerate(out):
                if a.parent is not b.parent:
                    continue
                ov = min(a.box[2], b.box[2]) - max(a.box[0], b.box[0])
                if ov < 0.5 * min(a.w, b.w):
                    continue
                u = boxes.union(a.box, b.box)
                uh, uw = u[3] - u[1], u[2] - u[0]
                gap = max(a.box[1], b.box[1]) - min(a.box[3], b.box[3])
                eh = self._expected_h(u[3])
                fits = uh <= 1.3 * eh if eh is not None else uh <= 5.0 * uw
                if fits and gap <= 0.3 * uh:
                    out[k] = _Blob(u, _paste(a, b, u), parent=a.parent)
                    break
            else:
                out.append(b)
        return out

    def _cost(self, tr: _Track, p: np.ndarray, box: np.ndarray, t: float) -> float | None:
        """Matching cost of a track's predicted box ``p`` and a blob box, None if gated out."""
        lost_for = t - tr.last_seen
        ref_h = max(tr.size[0] if tr.size else tr.h, 4.0)
        pf = np.array([(p[0] + p[2]) / 2, p[3]])
        bf = np.array([(box[0] + box[2]) / 2, box[3]])
        d = float(np.hypot(*((pf - bf) / ref_h)))
        iou = boxes.iou(p, box)
        gate = 0.8 + 0.6 * min(lost_for, self.lost_s)
        if tr.hits == 1 and self._touch(tr.box) is not None:
            gate += 0.8 * min(lost_for, 1.0)  # only a sliver seen: where the rest is, is open
        if d > gate and iou <= 0:
            return None
        size = 0.0
        edge = self._touch(box)
        if tr.misses and edge is not None and edge not in (self._touch(tr.box), self._touch(p)):
            return None  # someone vanished inside the view does not come back across an edge
        if edge is None and self._touch(p) is None:
            r = (box[3] - box[1]) / ref_h
            lo, hi = (0.6, 1.7) if tr.misses else (0.33, 3.0)
            if not lo < r < hi:
                return None
            size = 0.5 * abs(math.log(r))
        return d + size - iou + (0.4 if tr.misses else 0.0) + (0.2 if not tr.confirmed else 0.0)

    def _explain(self, blob: _Blob, claimants: list[tuple[_Track, np.ndarray]]
                 ) -> tuple[list[np.ndarray | None], list[_Blob], bool]:
        """Fit each claimant's person box into the blob; return their boxes and the rest.

        A box is ``None`` for a track hidden by the others. The rest are pieces
        big enough to be another person (someone walking close by). The flag
        says whether the claimants' boxes hold most of the blob: if not, the
        blob is some bigger moving thing that the tracks are mere parts of.
        """
        x0, y0 = blob.box[0], blob.box[1]
        off = np.array([x0, y0, x0, y0])
        if len(claimants) == 1:
            tr, p = claimants[0]
            ref = self._ref_size(tr, blob.box[3])
            if ref is None:
                # Nothing known of its size yet: only clear gaps between bodies split it
                # (a car or a cart is one wide thing, a group shows gaps between heads).
                pieces = self._split_wide(blob, blob.h) if self._touch(blob.box) is None else [blob]
                if len(pieces) == 1:
                    return [blob.box.copy()], [], True
                pc = (p[0] + p[2]) / 2
                k = int(np.argmin([abs((q.box[0] + q.box[2]) / 2 - pc) for q in pieces]))
                for q in pieces:
                    q.parent = tr
                return [pieces[k].box.copy()], [q for q_i, q in enumerate(pieces) if q_i != k], True
            if blob.h <= 1.4 * ref[0] and blob.w <= 1.5 * ref[1]:
                return [blob.box.copy()], [], True
        M = blob.mask.copy()
        out: list[np.ndarray | None] = [None] * len(claimants)
        refs = [self._ref_size(tr, p[3]) for tr, p in claimants]
        # People walking together are about as tall as each other.
        known = [r[0] for r in refs if r is not None]
        fallback_h = max(known) if known else blob.h
        refs = [r or (fallback_h, _WIDTH * fallback_h) for r in refs]
        if len(claimants) == 1:
            tr, p = claimants[0]
            fit = _fit_box(M, p - off, refs[0][0], refs[0][1])
            if fit is not None:
                fx0, fy0, fx1, fy1 = fit
                sub = M[fy0:fy1, fx0:fx1]
                if np.count_nonzero(sub) >= 0.15 * refs[0][0] * refs[0][1]:
                    out[0] = _tight(sub) + np.array([fx0, fy0, fx0, fy0]) + off
                    sub[:] = False
        else:
            # A track seen once has no speed yet: let it be found farther from where it was.
            slack = [2.5 if tr.hits <= 1 else 1.2 for tr, _ in claimants]
            boxes, M = _share(M, [p - off for _, p in claimants], refs, slack)
            out = [None if b is None else b + off for b in boxes]
        held = 1.0 - np.count_nonzero(M) / max(np.count_nonzero(blob.mask), 1)
        if blob.w * blob.h > 2.0 * sum(h * w for h, w in refs):
            held = 0.0  # many small tracks on one big moving thing
        rest = []
        if M.any() and known:
            big = max(refs, key=lambda r: r[0])
            n_cc, lab, st, _ = cv2.connectedComponentsWithStats(M.astype(np.uint8), connectivity=8)
            for c in range(1, n_cc):
                x, y, w, h, a = st[c]
                box = np.array([x, y, x + w, y + h], np.float64) + off
                if not self._person_sized(box, a, big):
                    continue
                # The closest claimant is the one it was walking with.
                near = min(claimants, key=lambda cp: abs((cp[1][0] + cp[1][2]) / 2 - (box[0] + box[2]) / 2))
                rest.append(_Blob(box, lab[y:y + h, x:x + w] == c, parent=near[0]))
        return out, rest, held >= 0.7

    def _person_sized(self, box: np.ndarray, area: float, ref: tuple[float, float]) -> bool:
        """Big enough to be a person of its own (a leftover, not an arm or a bag)."""
        h = box[3] - box[1]
        eh = self._expected_h(box[3]) or ref[0]
        edge = self._touch(box)
        if edge in ("left", "right"):
            return h >= 0.5 * eh and area >= 0.05 * eh * eh
        if edge is not None:
            return area >= 0.1 * eh * eh
        return h >= 0.6 * eh and area >= 0.15 * eh * eh

    def _absorb(self, b: _Blob, tracks: list[_Track], preds: list[np.ndarray],
                meas: dict[int, np.ndarray | None]) -> bool:
        """Attach a loose blob to a tracked person it is a piece of."""
        for i, tr in enumerate(tracks):
            cur = meas.get(i)
            if cur is None:
                continue
            ref = self._ref_size(tr, cur[3]) or (max(tr.h, cur[3] - cur[1]),
                                                 max(tr.w, cur[2] - cur[0]))
            u = boxes.union(cur, b.box)
            if (u[3] - u[1]) <= 1.25 * ref[0] and (u[2] - u[0]) <= 1.4 * ref[1] \
                    and boxes.covered_share(b.box, boxes.grow(preds[i], 0.3, 0.2)) > 0.3:
                meas[i] = u
                return True
        # Specks next to someone are noise, not people.
        for tr in tracks:
            if b.area < 0.25 * max(tr.w * tr.h, 1.0) and boxes.covered_share(b.box, boxes.grow(tr.box, 0.6, 0.3)) > 0:
                return True
        return False

    def _observe(self, tr: _Track, box: np.ndarray, t: float, dt: float, *, single: bool) -> None:
        edge = self._touch(box)
        was_edge = self._touch(tr.box)
        new_f = _anchor(box, edge or was_edge)
        old_f = _anchor(tr.box, edge or was_edge)
        v = (new_f - old_f) / max(t - tr.last_seen, dt)
        tr.vel = v if tr.hits == 1 else 0.5 * v + 0.5 * tr.vel
        h, w = float(box[3] - box[1]), float(box[2] - box[0])
        eh = self._expected_h(float(box[3]))
        whole = eh is None or 0.7 * eh <= h <= 1.4 * eh  # not cut short by something in front
        if edge is None and single and whole and 2.0 * w <= h <= 5.0 * w:
            if tr.size is None or was_edge is not None:
                tr.size = (h, w)
            else:
                tr.size = (0.6 * h + 0.4 * tr.size[0], 0.6 * w + 0.4 * tr.size[1])
        tr.box = box
        tr.seen_whole |= edge is None
        tr.disp = max(tr.disp, float(np.hypot(*(_anchor(box, None) - _anchor(tr.birth_box, None)))))
        tr.last_seen = t
        tr.hits += 1
        tr.alone += int(single)
        tr.misses = 0
        tr.static = False
        tr.seen_now = True
        if tr.confirmed and single and edge is None:
            h = float(box[3] - box[1])
            if 1.6 <= h / max(box[2] - box[0], 1.0) <= 5.0:
                assert self._heights is not None
                self._heights.add(float(box[3]), h)
        tr.template = self._patch(box)

    def _reacquire(self, b: _Blob, t: float, dt: float) -> bool:
        best, best_c = None, math.inf
        for tr in self._tracks:
            if tr.seen_now or not tr.confirmed:
                continue
            c = self._cost(tr, self._predict(tr, t - tr.last_seen), b.box, t)
            if c is not None and c < best_c:
                best, best_c = tr, c
        if best is None:
            return False
        self._observe(best, b.box.copy(), t, dt, single=True)
        return True

    def _spawn(self, b: _Blob, t: float) -> None:
        wh, _ = self._work_shape()
        edge = self._touch(b.box)
        eh = self._expected_h(b.box[3])
        if edge is None and b.parent is None:
            # Track small things already (confirmation waits until they look like
            # someone), so that a person far away is confirmed soon after they grow.
            if b.h < 0.5 * self.min_height * wh:
                return
            if eh is not None and b.h < 0.25 * eh:
                return
        pieces = [b]
        person_h = eh if eh is not None else (b.h if edge is None else None)
        if person_h is not None and b.w > 1.6 * _WIDTH * person_h:
            pieces = self._split_wide(b, person_h)
        for q in pieces:
            q_edge = self._touch(q.box)
            parent = b.parent
            if t < self._strict_until:
                # Right after a cut or camera motion, whoever shows up was there already.
                origin, where = "initial", "inside"
            elif parent is not None:
                # Left over beside a tracked person: part of their group (announced
                # only if the group itself just came in), or of what they carry or open.
                origin, where = "split", parent.edge
            elif q_edge is not None:
                origin, where = "edge", q_edge
            elif t - self._t0 < self.warmup_s:
                origin, where = "initial", "inside"
            elif (parent := self._near_person(q.box)) is not None:
                origin, where = "split", parent.edge
            elif (q_edge := self._touch(boxes.grow(q.box, 1.0, 0.0))) is not None:
                # Within a body width of an edge: it just came in, seen late.
                origin, where = "edge", q_edge
            else:
                origin, where = "inside", "inside"
            tr = _Track(self._next_id, q.box.copy(), t, origin, where, q.box.copy(), last_seen=t,
                        parent=parent)
            tr.template = self._patch(q.box)
            self._next_id += 1
            self._tracks.append(tr)

    def _split_wide(self, blob: _Blob, person_h: float) -> list[_Blob]:
        """Cut a blob wider than one person at deep valleys of its column counts."""
        cols = blob.mask.sum(axis=0).astype(np.float64)
        pw = max(2, int(round(0.3 * person_h)))
        if len(cols) < 2 * pw:
            return [blob]
        k = max(1, pw // 3)
        sm = np.convolve(cols, np.ones(k) / k, mode="same")
        cuts: list[int] = []
        start = pw
        while start <= len(sm) - pw:
            seg = sm[start:len(sm) - pw + 1]
            if seg.size == 0:
                break
            c = start + int(np.argmin(seg))
            left = sm[(cuts[-1] if cuts else 0):c].max(initial=0)
            right = sm[c:].max(initial=0)
            if sm[c] >= 0.5 * min(left, right):
                break
            cuts.append(c)
            start = c + pw
        if not cuts:
            return [blob]
        pieces = []
        x0, y0 = blob.box[0], blob.box[1]
        for c0, c1 in zip([0, *cuts], [*cuts, len(cols)]):
            piece = blob.mask[:, c0:c1]
            if not piece.any():
                continue
            rows = np.flatnonzero(piece.any(axis=1))
            cs = np.flatnonzero(piece.any(axis=0))
            box = np.array([x0 + c0 + cs[0], y0 + rows[0], x0 + c0 + cs[-1] + 1, y0 + rows[-1] + 1])
            pieces.append(_Blob(box.astype(np.float64),
                                piece[rows[0]:rows[-1] + 1, cs[0]:cs[-1] + 1], parent=blob.parent))
        return pieces

    def _near_person(self, box: np.ndarray) -> _Track | None:
        for tr in self._tracks:
            if tr.confirmed and boxes.covered_share(box, boxes.grow(tr.box, 1.0, 0.5)) > 0:
                return tr
        return None

    def _bookkeep(self, t: float) -> list[Observation]:
        events: list[Observation] = []
        keep: list[_Track] = []
        for tr in self._tracks:
            if not tr.seen_now:
                tr.misses += 1
                if not tr.confirmed:
                    if tr.misses >= 2 or tr.hits <= 1:
                        continue  # a tentative track that did not last
                elif self._still_there(tr):
                    tr.static = True
                    tr.misses = 0
                    tr.last_seen = t
                    tr.vel = np.zeros(2)
                else:
                    edge = self._leaving_edge(tr, t)
                    if edge is not None:
                        events.append(self._event(ObservationKind.EXIT, tr, t, edge))
                        continue
                    if t - tr.last_seen > self.lost_s:
                        events.append(self._event(ObservationKind.EXIT, tr, t, "inside"))
                        continue
            elif not tr.confirmed:
                self._maybe_confirm(tr, t, events)
            keep.append(tr)
        self._tracks = keep
        return events

    def _maybe_confirm(self, tr: _Track, t: float, events: list[Observation]) -> None:
        edge = self._touch(tr.box)
        if edge is not None and tr.seen_whole:
            return  # seen whole and not a person; a slice of it going out is no better
        eh = self._expected_h(tr.box[3])
        if edge is None and tr.hog_tries < 4 and tr.h * self._scale >= _HOG_MIN_H \
                and self._may_hog(tr.box):
            score = self._hog_score(tr.box)
            tr.hog = max(tr.hog, score)
            tr.hog_tries += 1
            if score >= self.hog_threshold + 1.0 and 1.6 * tr.w <= tr.h <= 5.0 * tr.w:
                assert self._heights is not None
                self._heights.add(float(tr.box[3]), tr.h)  # clearly one whole person
        person_hog = tr.hog >= self.hog_threshold
        if tr.hog_tries >= 2 and tr.hog < self.hog_veto and (tr.alone or tr.origin != "split"):
            return  # seen big enough, and not behind a companion, and HOG sees no person
        sized = eh is None or 0.45 * eh <= tr.h <= 2.0 * eh
        upright = tr.h >= 1.3 * tr.w
        moving = tr.disp >= 0.5 * max(tr.h, 1.0) and tr.hits >= 3
        if tr.origin == "edge":
            # Came in across an edge: it must grow or move inwards, and look like one person.
            grew = boxes.area(tr.box) > 1.3 * boxes.area(tr.birth_box) or self._moved_in(tr) \
                or tr.disp >= 0.25 * max(tr.h, tr.w)
            if edge in ("left", "right") or edge is None:
                shaped = sized and upright and (eh is None or tr.h >= 0.5 * eh)
            else:  # cut by the top or bottom: only part of the height shows
                shaped = tr.h >= tr.w and (eh is None or boxes.area(tr.box) >= 0.1 * eh * eh)
            ok = tr.hits >= 2 and grew and (person_hog or shaped)
        elif tr.origin == "initial":
            # Ghosts (where someone stood when the background was learnt) never move.
            ok = tr.hits >= 2 and sized and (moving or (person_hog and tr.disp >= 0.25 * tr.h))
        elif tr.origin == "split":
            # Part of someone else's blob at first: a bag, an arm or a shadow, unless it
            # looks like a person or walks off on its own.
            ok = tr.hits >= 2 and sized and upright and (
                person_hog or (moving and (tr.alone >= 2 or tr.plausible >= 3)))
        else:  # emerging inside the view
            ok = tr.hits >= 3 and sized and upright and (person_hog or moving)
        if not ok or tr.h < self.min_height * self._work_shape()[0]:
            return
        if not (tr.plausible or person_hog):
            return  # only ever seen as a small part of a bigger moving mass
        if self._part_of_bigger(tr):
            return
        tr.confirmed = True
        # An arrival is evident within seconds; what lingered before looking like
        # someone (a door, a car boot, a flag at the border) is counted, not announced.
        fire = tr.origin in ("edge", "inside") and t - tr.born <= self.enter_window_s
        if tr.origin == "split" and tr.parent is not None and tr.parent.origin == "edge" \
                and t - tr.parent.born <= self.enter_window_s:
            fire = True  # one of a group that came in together
        if fire:
            tr.entered_event = True
            events.append(self._event(ObservationKind.ENTER, tr, t, tr.edge))

    def _part_of_bigger(self, tr: _Track) -> bool:
        """Whether a track is a piece of a much bigger person, not someone of its own.

        A box that lies inside the box of a confirmed person more than twice
        its height is a hand, a shoulder or what moves behind them, not
        another person (who would be hidden there). A close-up (someone cut
        off by the bottom edge, filling most of the frame height) shows
        shoulders about as wide as the visible height, wider than their
        tracked box: small things beside it are parts of them too (or the view
        through a window behind them).
        """
        wh, _ = self._work_shape()
        for o in self._tracks:
            if o is tr or not o.confirmed or o.h < 2.0 * tr.h:
                continue
            box = o.box
            if o.h >= 0.6 * wh and o.box[3] >= wh - self.edge_margin * wh - 1:
                box = boxes.grow(o.box, 0.5 * o.h / max(o.w, 1.0), 0.0)
            if boxes.covered_share(tr.box, box) >= 0.7:
                return True
        return False

    @staticmethod
    def _moved_in(tr: _Track) -> bool:
        b0, b1 = tr.birth_box, tr.box
        return {
            "left": b1[2] > b0[2] + 1, "right": b1[0] < b0[0] - 1,
            "top": b1[3] > b0[3] + 1, "bottom": b1[1] < b0[1] - 1,
        }.get(tr.edge, False)

    def _leaving_edge(self, tr: _Track, t: float) -> str | None:
        """The edge a vanished person went out through, or None if they vanished inside."""
        edge = self._touch(tr.box)
        h = max(tr.size[0] if tr.size else tr.h, 4.0)
        if edge is not None:
            inward = {"left": tr.vel[0], "right": -tr.vel[0], "top": tr.vel[1],
                      "bottom": -tr.vel[1]}[edge]
            # Someone still coming in is hidden, not gone.
            return edge if inward < 0.3 * h else None
        p = tr.box + np.r_[tr.vel, tr.vel] * min(t - tr.last_seen, 1.0)
        return self._touch(p)

    def _still_there(self, tr: _Track) -> bool:
        """The person faded into the background but their pixels have not moved."""
        if tr.template is None or self._touch(tr.box) is not None:
            return False
        if tr.disp < 0.5 * max(tr.h, 1.0):
            return False  # it never walked anywhere: a ghost or a flicker, not someone who stopped
        cur = self._patch(tr.box)
        if cur is None or cur.shape != tr.template.shape:
            return False
        diff = float(np.mean(np.abs(cur.astype(np.int16) - tr.template.astype(np.int16))))
        return diff < 10.0

    def _patch(self, box: np.ndarray) -> np.ndarray | None:
        wh, ww = self._work_shape()
        x0, y0 = max(0, int(box[0])), max(0, int(box[1]))
        x1, y1 = min(ww, int(math.ceil(box[2]))), min(wh, int(math.ceil(box[3])))
        if x1 - x0 < 2 or y1 - y0 < 2:
            return None
        return self._gray[y0:y1, x0:x1].copy()

    # .............................................................. HOG

    def _may_hog(self, box: np.ndarray) -> bool:
        if self._changed is None:
            return True
        wh, ww = self._work_shape()
        x0, y0 = max(0, int(box[0])), max(0, int(box[1]))
        x1, y1 = min(ww, int(math.ceil(box[2]))), min(wh, int(math.ceil(box[3])))
        return bool(self._changed[y0:y1, x0:x1].any())

    def _hog_score(self, box: np.ndarray) -> float:
        """SVM score of HOG's people model on one window cut around ``box``."""
        s = self._scale
        x0, y0, x1, y1 = (float(v) * s for v in box)
        ch = max(y1 - y0, 4.0) / _HOG_FILL
        cw = ch * _HOG_W / _HOG_H
        cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
        k = _HOG_H / ch
        m = np.float32([[k, 0, _HOG_W / 2 - cx * k], [0, k, _HOG_H / 2 - cy * k]])
        crop = cv2.warpAffine(self._image, m, (_HOG_W, _HOG_H), flags=cv2.INTER_LINEAR,
                              borderMode=cv2.BORDER_REPLICATE)
        feat = self._hog.compute(crop).ravel()
        wh, ww = self._work_shape()
        gx0, gx1 = int(max(0, (cx - cw / 2) / s)), int(min(ww, math.ceil((cx + cw / 2) / s)))
        gy0, gy1 = int(max(0, (cy - ch / 2) / s)), int(min(wh, math.ceil((cy + ch / 2) / s)))
        self._hog_area[gy0:gy1, gx0:gx1] = True
        return float(feat @ self._hog_w + self._hog_b)

    # ........................................................... output

    def _event(self, kind: ObservationKind, tr: _Track, t: float, edge: str) -> Observation:
        return Observation(t, kind, "person", score=_squash(tr.hog) if tr.hog > -math.inf else 0.5,
                           box=self._norm(tr.box), track_id=tr.id, attrs={"edge": edge})

    def _work_shape(self) -> tuple[int, int]:
        """The work image's (h, w): set by the first frame, before any track or blob exists."""
        if self._shape is None:  # pragma: no cover - only if called before the first frame
            raise RuntimeError("the people tracker has not seen a frame yet")
        return self._shape

    def _norm(self, box: np.ndarray) -> Box:
        wh, ww = self._work_shape()
        return _clip_box((box[0] / ww, box[1] / wh, box[2] / ww, box[3] / wh))

    def _result(self, t: float, events: list[Observation]) -> PeopleResult:
        people = []
        for tr in self._tracks:
            if not tr.confirmed:
                continue
            if not (tr.seen_now or tr.static) and t - tr.last_seen > self.hold_s:
                continue
            if self._part_of_bigger(tr):
                continue  # a second track on one person (a close-up) is not a second person
            state = "static" if tr.static else ("moving" if tr.seen_now else "hidden")
            attrs = {"state": state}
            if tr.entered_event:
                attrs["edge"] = tr.edge
            people.append(Observation(t, ObservationKind.PERSON, "person",
                                      score=_squash(tr.hog) if tr.hog > -math.inf else 0.5,
                                      box=self._norm(tr.box), track_id=tr.id, attrs=attrs))
        # Just after a cut (or a moving view settling) only people who move stand out from a background
        # learnt a moment ago: a tracker that sees nobody yet cannot tell an empty view from a still one.
        blind = not people and t < self._strict_until
        return PeopleResult(people=people, events=events, count=len(people), blind=blind)


# ------------------------------------------------------------------ helpers

def _squash(score: float) -> float:
    """Map an SVM margin to ``0..1``."""
    return float(1.0 / (1.0 + math.exp(-1.5 * (score + 0.5))))


def _clip_box(box: tuple[float, float, float, float]) -> Box:
    x0, y0, x1, y1 = (min(max(float(v), 0.0), 1.0) for v in box)
    return (x0, y0, max(x0, x1), max(y0, y1))


def _anchor(box: np.ndarray, edge: str | None) -> np.ndarray:
    """Foot point of a box; at an edge, the side that is not cut off by it."""
    x = (box[0] + box[2]) / 2
    y = box[3]
    if edge == "right":
        x = box[0]
    elif edge == "left":
        x = box[2]
    elif edge == "bottom":
        y = box[1]
    return np.array([x, y], np.float64)


def _fit_box(mask: np.ndarray, pred: np.ndarray, h: float, w: float
             ) -> tuple[int, int, int, int] | None:
    """Place an ``h`` x ``w`` box near ``pred`` (mask coordinates) to cover most of ``mask``.

    Searches centres within 0.6 widths and feet within 0.3 heights of the
    prediction, preferring positions close to it; returns integer
    ``x0, y0, x1, y1`` clipped to the mask, or None if it falls outside.
    """
    H, W = mask.shape
    hi, wi = max(2, int(round(h))), max(2, int(round(w)))
    S = cv2.integral(mask.astype(np.uint8))
    cx0, f0 = (pred[0] + pred[2]) / 2, pred[3]
    xs = np.arange(int(round(cx0 - 0.6 * wi)), int(round(cx0 + 0.6 * wi)) + 1)
    ys = np.arange(int(round(f0 - 0.3 * hi)), int(round(f0 + 0.3 * hi)) + 1)
    X0 = np.clip(xs - wi // 2, 0, W)[None, :]
    X1 = np.clip(xs - wi // 2 + wi, 0, W)[None, :]
    Y0 = np.clip(ys - hi, 0, H)[:, None]
    Y1 = np.clip(ys, 0, H)[:, None]
    count = S[Y1, X1] - S[Y0, X1] - S[Y1, X0] + S[Y0, X0]
    if count.max() <= 0:
        return None
    pen = 0.15 * hi * wi * (np.abs(xs - cx0)[None, :] / wi + np.abs(ys - f0)[:, None] / hi)
    iy, ix = np.unravel_index(int(np.argmax(count - pen)), count.shape)
    return int(X0[0, ix]), int(Y0[iy, 0]), int(X1[0, ix]), int(Y1[iy, 0])


def _tight(mask: np.ndarray) -> np.ndarray:
    """Bounding box ``x0, y0, x1, y1`` of a non-empty mask."""
    rows = np.flatnonzero(mask.any(axis=1))
    cols = np.flatnonzero(mask.any(axis=0))
    return np.array([cols[0], rows[0], cols[-1] + 1, rows[-1] + 1], np.float64)


def _share(mask: np.ndarray, preds: list[np.ndarray], sizes: list[tuple[float, float]],
           slack: list[float]) -> tuple[list[np.ndarray | None], np.ndarray]:
    """Share a blob's pixels among several people walking together.

    Each pixel goes to the person whose box (of its expected size) it is
    deepest inside; each box then moves to the middle of its pixels (a few
    rounds, at most ``slack`` half-widths from the prediction). Returns each person's box (None
    when almost none of them shows: hidden behind the others) and the mask of
    pixels that are in nobody's box.
    """
    ys_all, xs_all = np.nonzero(mask)
    step = max(1, int(math.ceil(len(xs_all) / 1500)))  # a sample places the boxes as well
    ys, xs = ys_all[::step], xs_all[::step]
    k = len(preds)
    cx = np.array([(p[0] + p[2]) / 2 for p in preds])
    cy = np.array([p[3] - s[0] / 2 for p, s in zip(preds, sizes)])
    hw = np.array([max(s[1] / 2, 1.0) for s in sizes])[:, None]
    hh = np.array([max(s[0] / 2, 1.0) for s in sizes])[:, None]
    cx0, cy0 = cx.copy(), cy.copy()

    def depth(xs: np.ndarray, ys: np.ndarray) -> np.ndarray:
        return np.maximum(np.abs(xs[None, :] - cx[:, None]) / hw, np.abs(ys[None, :] - cy[:, None]) / hh)

    reach = np.maximum(np.asarray(slack) / 1.2, 1.0)
    for it in range(3):
        d = depth(xs, ys)
        who = np.argmin(d, axis=0)
        # The first round looks farther for people whose whereabouts are uncertain.
        near = d[who, np.arange(len(xs))] <= (reach[who] if it == 0 else 1.0)
        for i in range(k):
            sel = near & (who == i)
            if sel.any():
                cx[i] = np.clip(xs[sel].mean(), cx0[i] - slack[i] * hw[i, 0], cx0[i] + slack[i] * hw[i, 0])
                cy[i] = np.clip(ys[sel].mean(), cy0[i] - 0.6 * hh[i, 0], cy0[i] + 0.6 * hh[i, 0])
    d = depth(xs_all, ys_all)
    who = np.argmin(d, axis=0)
    dmin = d[who, np.arange(len(xs_all))]
    boxes: list[np.ndarray | None] = []
    for i in range(k):
        sel = (who == i) & (dmin <= 1.2)
        if sel.sum() < 0.15 * 4 * hw[i, 0] * hh[i, 0]:
            boxes.append(None)
            continue
        boxes.append(np.array([xs_all[sel].min(), ys_all[sel].min(), xs_all[sel].max() + 1,
                               ys_all[sel].max() + 1], np.float64))
    rest = np.zeros_like(mask)
    far = dmin > 1.2
    rest[ys_all[far], xs_all[far]] = True
    return boxes, rest


def _paste(a: _Blob, b: _Blob, u: np.ndarray) -> np.ndarray:
    """The pixels of two blobs in the frame of their union box ``u``."""
    m = np.zeros((int(u[3] - u[1]), int(u[2] - u[0])), bool)
    for q in (a, b):
        x, y = int(q.box[0] - u[0]), int(q.box[1] - u[1])
        m[y:y + q.mask.shape[0], x:x + q.mask.shape[1]] |= q.mask
    return m
