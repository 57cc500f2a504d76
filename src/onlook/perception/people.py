"""People tracking with enter/exit events for fixed cameras, on a CPU budget.

Foreground comes from a mixture-of-Gaussians background model (OpenCV MOG2,
shadows removed) on a small copy of the frame; connected foreground blobs are
associated with tracks by a gated Hungarian assignment on predicted
(constant-velocity) positions. Blobs shared by several tracks are split
between them along the valleys of their column projection, blobs much wider
than one person are split the same way, and pieces that lie inside a tracked
person's expected box are absorbed as fragments.

What a person looks like at each image row is learned online: a line
``height = a * foot_y + b`` fitted robustly to confirmed, isolated tracks
(people near the bottom of an elevated view are taller). It gates fragments,
splits groups and keeps small noise from becoming tracks. OpenCV's HOG people
detector scores single 64x128 windows cut around new tracks (cheap: a few
tenths of a millisecond each) so that cars, trees and shadows are not
counted; partly visible people at the edges, whom HOG misses, are confirmed
by their entering motion instead.

An ``enter`` event fires once per person, when a new track is confirmed and
its history shows how it came in: across a frame edge, or emerging inside
the view away from every known person. Tracks born during the first seconds
of a shot are people already there and never fire. Lost tracks are kept for
a while and re-acquired near their predicted position; a person who stops
(and fades into the background model) is kept by comparing their last
appearance with the current pixels. When most of the frame is foreground
(the camera moves) no tracks are made; HOG's multi-scale detector then
counts people on the small frame, without events.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass, field

import cv2
import numpy as np
from scipy.optimize import linear_sum_assignment

from onlook.errors import ConfigError
from onlook.types import Box, Observation

__all__ = ["PeopleResult", "PeopleTracker"]

_EDGES = ("left", "right", "top", "bottom")
_HOG_W, _HOG_H = 64, 128
_HOG_FILL = 0.75
_GHOST_S = 1.0  # fastest absorption, right after a (re)start: ghosts of people who walk off fade  # share of the 128-pixel window height a person fills in HOG's training data


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
    """

    people: list[Observation] = field(default_factory=list)
    events: list[Observation] = field(default_factory=list)
    count: int = 0


@dataclass(eq=False, slots=True)
class _Blob:
    box: np.ndarray  # x0, y0, x1, y1 in work pixels (x1, y1 exclusive)
    area: float
    label: int  # connected-component label, 0 for synthetic pieces
    parent: _Track | None = None  # set when split off a tracked person's blob

    @property
    def w(self) -> float:
        return float(self.box[2] - self.box[0])

    @property
    def h(self) -> float:
        return float(self.box[3] - self.box[1])


@dataclass(eq=False, slots=True)
class _Track:
    id: int
    box: np.ndarray  # x0, y0, x1, y1 in work pixels
    born: float
    origin: str  # "edge", "inside", "initial", "split"
    edge: str  # edge it came in through, or "inside"
    birth_box: np.ndarray
    vel: np.ndarray = field(default_factory=lambda: np.zeros(2))  # centre, work px / s
    last_seen: float = 0.0
    hits: int = 1
    misses: int = 0
    confirmed: bool = False
    hog: float = -math.inf  # best HOG score seen
    hog_tries: int = 0
    travel: float = 0.0  # path length of the centre, work px
    max_area: float = 0.0
    static: bool = False
    template: np.ndarray | None = None
    parent: _Track | None = None
    seen_now: bool = False
    shared: bool = False
    entered_event: bool = False

    @property
    def h(self) -> float:
        return float(self.box[3] - self.box[1])

    @property
    def w(self) -> float:
        return float(self.box[2] - self.box[0])

    @property
    def centre(self) -> np.ndarray:
        return np.array([(self.box[0] + self.box[2]) / 2, (self.box[1] + self.box[3]) / 2])


class _HeightModel:
    """Person height in work pixels as a robust linear function of foot row."""

    def __init__(self, frame_h: int, *, min_samples: int = 12, maxlen: int = 400) -> None:
        self.frame_h = frame_h
        self.min_samples = min_samples
        self.samples: deque[tuple[float, float]] = deque(maxlen=maxlen)
        self._fit: tuple[float, float, float, float] | None = None  # a, b, y_lo, y_hi
        self._dirty = False

    def add(self, foot_y: float, h: float) -> None:
        self.samples.append((foot_y, h))
        self._dirty = True

    def _refit(self) -> None:
        self._dirty = False
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
                a, b = np.polyfit(ys, hs, 1)
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
        if self._dirty:
            self._refit()
        if self._fit is None:
            return None
        a, b, lo, hi = self._fit
        # Extrapolate only a little beyond the rows seen; past that the line is a guess.
        span = max(hi - lo, 0.1 * self.frame_h)
        y = min(max(foot_y, lo - 0.5 * span), hi + 0.5 * span)
        return max(a * y + b, 2.0)


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
        hog_threshold: HOG SVM score above which a window is a person.
        edge_margin: Share of the frame width/height that counts as "at the edge".
        min_height: Smallest person worth tracking, as a share of frame height.
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
        hold_s: float = 2.0,
        hog_threshold: float = -1.0,
        edge_margin: float = 0.02,
        min_height: float = 0.04,
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
        self.hold_s = min(float(hold_s), self.lost_s)
        self.hog_threshold = float(hog_threshold)
        self.edge_margin = float(edge_margin)
        self.min_height = float(min_height)
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

        if scene_cut or self._mog is None or self._shape != (wh, ww) or \
                (self._last_t is not None and t < self._last_t):
            self._restart(small, t, keep_heights=not scene_cut and self._shape == (wh, ww))
            return PeopleResult()

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

        blobs, labels = self._blobs(fg)
        self._labels = labels
        events = self._track(blobs, t, dt)
        self._work_fraction = float(self._hog_area.mean())
        return self._result(t, events)

    # ------------------------------------------------------------- internals

    def _restart(self, small: np.ndarray, t: float, *, keep_heights: bool) -> None:
        wh, ww = small.shape[:2]
        self._mog = cv2.createBackgroundSubtractorMOG2(
            history=500, varThreshold=self.var_threshold, detectShadows=True)
        self._mog.apply(small, learningRate=1.0)
        self._ref = np.asarray(cv2.mean(small)[:3], np.float64)
        self._prev_fg = None
        self._shape = (wh, ww)
        self._tracks = []
        if not keep_heights or self._heights is None:
            self._heights = _HeightModel(wh)
        self._t0 = t
        self._last_t = t
        self._unstable = 0

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
        self._tracks = []  # a moving view invalidates every track; nobody "left"
        self._unstable += 1
        self._t0 = t
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
                people.append(Observation(t, "person", "person", score=_squash(float(s)),
                                          box=_clip_box(box), attrs={"state": "detected"}))
        return PeopleResult(people=people, events=[], count=len(people))

    def _blobs(self, fg: np.ndarray) -> tuple[list[_Blob], np.ndarray]:
        wh, ww = fg.shape
        fg = cv2.morphologyEx(fg, cv2.MORPH_OPEN, np.ones((2, 2), np.uint8))
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
            blobs.append(_Blob(np.array([x, y, x + w, y + h], np.float64), float(a), i))
        return blobs, labels

    # ........................................................... geometry

    def _touch(self, box: np.ndarray) -> str | None:
        """The frame edge a box touches, if any (the nearest one)."""
        wh, ww = self._shape  # type: ignore[misc]
        mx, my = self.edge_margin * ww + 1, self.edge_margin * wh + 1
        gaps = {"left": box[0], "right": ww - box[2], "top": box[1], "bottom": wh - box[3]}
        limits = {"left": mx, "right": mx, "top": my, "bottom": my}
        hits = [(gaps[e] / limits[e], e) for e in _EDGES if gaps[e] <= limits[e]]
        return min(hits)[1] if hits else None

    def _expected_h(self, foot_y: float) -> float | None:
        assert self._heights is not None
        return self._heights.expected(foot_y)

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
            tr.shared = False
        preds = [self._predict(tr, dt) for tr in tracks]
        meas: dict[int, list[_Blob]] = {}  # track index -> blobs explaining it
        owner: dict[int, list[int]] = {}  # blob index -> track indices

        # 1. One-to-one gated assignment.
        if tracks and blobs:
            cost = np.full((len(tracks), len(blobs)), 1e6)
            for i, (tr, p) in enumerate(zip(tracks, preds)):
                lost_for = t - tr.last_seen
                gate = 1.0 + 0.6 * min(lost_for, self.lost_s)
                ref_h = max(tr.h, 4.0)
                pc = np.array([(p[0] + p[2]) / 2, p[3]])
                for j, b in enumerate(blobs):
                    bc = np.array([(b.box[0] + b.box[2]) / 2, b.box[3]])
                    d = float(np.hypot(*((pc - bc) / ref_h)))
                    iou = _iou(p, b.box)
                    if d > gate and iou <= 0:
                        continue
                    ratio = b.h / ref_h
                    if not (0.3 < ratio < 3.0) and self._touch(b.box) is None:
                        continue
                    c = d - iou + (0.5 if tr.misses else 0.0) + (0.3 if not tr.confirmed else 0.0)
                    cost[i, j] = c
            rows, cols = linear_sum_assignment(cost)
            for i, j in zip(rows, cols):
                if cost[i, j] < 1e5:
                    meas.setdefault(i, []).append(blobs[j])
                    owner.setdefault(j, []).append(i)

        # 2. Unmatched active tracks inside a matched blob: a group walking together.
        for i, (tr, p) in enumerate(zip(tracks, preds)):
            if i in meas or tr.misses > 1:
                continue
            best, best_ov = None, 0.0
            for j in owner:
                ov = _overlap(p, blobs[j].box)
                if ov > best_ov:
                    best, best_ov = j, ov
            if best is not None and best_ov >= 0.3:
                owner[best].append(i)
                meas[i] = [blobs[best]]

        # 3. Share blobs claimed by several tracks along their column valleys.
        for j, idxs in owner.items():
            if len(idxs) > 1:
                parts = self._partition(blobs[j], [preds[i] for i in idxs])
                for i, part in zip(idxs, parts):
                    tracks[i].shared = True
                    if part is None:
                        meas[i] = []  # hidden behind the others: coast, but it is there
                    else:
                        meas[i] = [part]

        # 4. A blob much wider than its one track: someone walks alongside.
        extra: list[_Blob] = []
        for j, idxs in owner.items():
            if len(idxs) != 1:
                continue
            i = idxs[0]
            tr, b = tracks[i], blobs[j]
            eh = self._expected_h(b.box[3])
            pw = max(tr.w, 0.35 * eh) if eh else tr.w
            if b.w > 1.8 * pw and b.w > 6:
                pieces = self._split_wide(b, eh or tr.h)
                if len(pieces) > 1:
                    pc = (preds[i][0] + preds[i][2]) / 2
                    k = int(np.argmin([abs((q.box[0] + q.box[2]) / 2 - pc) for q in pieces]))
                    meas[i] = [pieces[k]]
                    for q_i, q in enumerate(pieces):
                        if q_i != k:
                            q.parent = tr
                            extra.append(q)

        # 5. Unclaimed blobs: fragments of a tracked person, or new people.
        matched = set(owner)
        loose = [b for j, b in enumerate(blobs) if j not in matched] + extra
        newcomers: list[_Blob] = []
        for b in loose:
            if b.parent is None and self._absorb(b, tracks, preds, meas):
                continue
            newcomers.append(b)

        # 6. Update matched tracks.
        for i, tr in enumerate(tracks):
            parts = meas.get(i)
            if parts is None:
                continue
            if not parts:  # occluded inside a group
                tr.box = preds[i]
                tr.seen_now = True
                tr.last_seen = t
                tr.misses = 0
                continue
            box = parts[0].box.copy()
            for q in parts[1:]:
                box = _union(box, q.box)
            self._observe(tr, box, sum(q.area for q in parts), t, dt, single=not tr.shared)

        # 7. New tracks.
        for b in newcomers:
            self._spawn(b, t)

        # 8. Verify, confirm, coast, expire.
        return self._bookkeep(t)

    def _partition(self, blob: _Blob, preds: list[np.ndarray]) -> list[_Blob | None]:
        """Split a blob's pixels between tracks by column, at projection valleys."""
        x0, y0, x1, y1 = (int(v) for v in blob.box)
        sub = (self._labels[y0:y1, x0:x1] == blob.label) if blob.label else \
            np.ones((y1 - y0, x1 - x0), bool)
        cols = sub.sum(axis=0).astype(np.float64)
        order = np.argsort([(p[0] + p[2]) / 2 for p in preds])
        centres = [min(max((preds[k][0] + preds[k][2]) / 2 - x0, 0), x1 - x0 - 1) for k in order]
        cuts = [0]
        for a, b in zip(centres[:-1], centres[1:]):
            lo, hi = int(a), int(b)
            if hi - lo >= 2:
                cut = lo + 1 + int(np.argmin(cols[lo + 1:hi]))
            else:
                cut = int(round((a + b) / 2))
            cuts.append(max(cut, cuts[-1]))
        cuts.append(x1 - x0)
        out: list[_Blob | None] = [None] * len(preds)
        for rank, k in enumerate(order):
            c0, c1 = cuts[rank], cuts[rank + 1]
            piece = sub[:, c0:c1]
            exp_area = max((preds[k][2] - preds[k][0]) * (preds[k][3] - preds[k][1]), 1.0)
            if c1 - c0 < 1 or piece.sum() < 0.2 * exp_area:
                continue
            rows = np.flatnonzero(piece.any(axis=1))
            colsn = np.flatnonzero(piece.any(axis=0))
            box = np.array([x0 + c0 + colsn[0], y0 + rows[0], x0 + c0 + colsn[-1] + 1,
                            y0 + rows[-1] + 1], np.float64)
            out[k] = _Blob(box, float(piece.sum()), 0)
        return out

    def _split_wide(self, blob: _Blob, person_h: float) -> list[_Blob]:
        """Cut a blob wider than one person at deep column valleys."""
        x0, y0, x1, y1 = (int(v) for v in blob.box)
        sub = (self._labels[y0:y1, x0:x1] == blob.label) if blob.label else \
            np.ones((y1 - y0, x1 - x0), bool)
        cols = sub.sum(axis=0).astype(np.float64)
        pw = max(2, int(round(0.3 * person_h)))
        if len(cols) < 2 * pw:
            return [blob]
        k = np.ones(max(1, pw // 3)) / max(1, pw // 3)
        sm = np.convolve(cols, k, mode="same")
        cuts = []
        start = pw
        while start < len(sm) - pw:
            seg = sm[start:len(sm) - pw + 1]
            if seg.size == 0:
                break
            c = start + int(np.argmin(seg))
            left = sm[max(0, (cuts[-1] if cuts else 0)):c].max(initial=0)
            right = sm[c:].max(initial=0)
            if sm[c] < 0.45 * min(left, right):
                cuts.append(c)
                start = c + pw
            else:
                break
        if not cuts:
            return [blob]
        pieces = []
        for c0, c1 in zip([0, *cuts], [*cuts, len(cols)]):
            piece = sub[:, c0:c1]
            if not piece.any():
                continue
            rows = np.flatnonzero(piece.any(axis=1))
            colsn = np.flatnonzero(piece.any(axis=0))
            box = np.array([x0 + c0 + colsn[0], y0 + rows[0], x0 + c0 + colsn[-1] + 1,
                            y0 + rows[-1] + 1], np.float64)
            pieces.append(_Blob(box, float(piece.sum()), 0))
        return pieces

    def _absorb(self, b: _Blob, tracks: list[_Track], preds: list[np.ndarray],
                meas: dict[int, list[_Blob]]) -> bool:
        """Attach a loose blob to a tracked person it is a piece of."""
        for i, tr in enumerate(tracks):
            parts = meas.get(i)
            if not parts:
                continue
            cur = parts[0].box
            for q in parts[1:]:
                cur = _union(cur, q.box)
            eh = self._expected_h(cur[3]) or max(tr.h, cur[3] - cur[1])
            ew = 0.6 * eh
            u = _union(cur, b.box)
            if (u[3] - u[1]) <= 1.3 * eh and (u[2] - u[0]) <= max(ew, 1.2 * (cur[2] - cur[0])) \
                    and _overlap(b.box, _grow(preds[i], 0.3, 0.2)) > 0.3:
                parts.append(b)
                return True
        # Tiny specks near anyone are noise, not people.
        for tr in tracks:
            if b.area < 0.25 * max(tr.w * tr.h, 1.0) and _overlap(b.box, _grow(tr.box, 0.6, 0.3)) > 0:
                return True
        return False

    def _observe(self, tr: _Track, box: np.ndarray, area: float, t: float, dt: float,
                 *, single: bool) -> None:
        old_c = tr.centre
        edge = self._touch(box)
        if tr.hits >= 2 and edge is None and single:
            # Smooth the size a little; blobs flicker with clothing against the ground.
            h_new = 0.6 * (box[3] - box[1]) + 0.4 * tr.h
            w_new = 0.6 * (box[2] - box[0]) + 0.4 * tr.w
            cx, foot = (box[0] + box[2]) / 2, box[3]
            box = np.array([cx - w_new / 2, foot - h_new, cx + w_new / 2, foot])
        new_c = np.array([(box[0] + box[2]) / 2, (box[1] + box[3]) / 2])
        v = (new_c - old_c) / max(t - tr.last_seen, dt)
        tr.vel = v if tr.hits == 1 else 0.5 * v + 0.5 * tr.vel
        tr.travel += float(np.hypot(*(new_c - old_c)))
        tr.box = box
        tr.last_seen = t
        tr.hits += 1
        tr.misses = 0
        tr.static = False
        tr.max_area = max(tr.max_area, area)
        tr.seen_now = True
        if tr.confirmed and single and edge is None:
            h = float(box[3] - box[1])
            if 1.5 <= h / max(box[2] - box[0], 1.0) <= 5.0:
                assert self._heights is not None
                self._heights.add(float(box[3]), h)
        tr.template = self._patch(box)

    def _spawn(self, b: _Blob, t: float) -> None:
        wh, _ = self._shape  # type: ignore[misc]
        edge = self._touch(b.box)
        eh = self._expected_h(b.box[3])
        if edge is None:
            if b.h < self.min_height * wh:
                return
            if eh is not None and b.h < 0.4 * eh:
                return
        pieces = [b]
        if eh is not None and b.w > 1.3 * 0.45 * eh:
            pieces = self._split_wide(b, eh)
        for q in pieces:
            q_edge = self._touch(q.box)
            if t - self._t0 < self.warmup_s and q_edge is None:
                origin, where = "initial", "inside"
            elif b.parent is not None:
                origin, where = "split", b.parent.edge
            elif q_edge is not None:
                origin, where = "edge", q_edge
            elif self._near_person(q.box):
                origin, where = "split", "inside"
            else:
                origin, where = "inside", "inside"
            tr = _Track(self._next_id, q.box.copy(), t, origin, where, q.box.copy(),
                        last_seen=t, max_area=q.area, parent=b.parent, seen_now=True)
            tr.template = self._patch(q.box)
            self._next_id += 1
            self._tracks.append(tr)

    def _near_person(self, box: np.ndarray) -> bool:
        for tr in self._tracks:
            if not tr.confirmed:
                continue
            g = _grow(tr.box, 1.0, 0.3)
            if _overlap(box, g) > 0:
                return True
        return False

    def _bookkeep(self, t: float) -> list[Observation]:
        events: list[Observation] = []
        keep: list[_Track] = []
        for tr in self._tracks:
            if not tr.seen_now:
                tr.misses += 1
                if tr.confirmed and self._still_there(tr):
                    tr.static = True
                    tr.misses = 0
                    tr.last_seen = t
                    tr.vel *= 0.0
                elif not tr.confirmed:
                    if tr.misses >= 2 or tr.hits <= 1:
                        continue  # a tentative track that did not last
                else:
                    edge = self._leaving_edge(tr)
                    gone = t - tr.last_seen > self.lost_s
                    if edge is not None or gone:
                        events.append(self._event("exit", tr, t, edge or "inside"))
                        continue
            if not tr.confirmed and tr.seen_now:
                self._maybe_confirm(tr, t, events)
            keep.append(tr)
        self._tracks = keep
        return events

    def _maybe_confirm(self, tr: _Track, t: float, events: list[Observation]) -> None:
        wh, ww = self._shape  # type: ignore[misc]
        edge = self._touch(tr.box)
        eh = self._expected_h(tr.box[3])
        if edge is None and tr.hog_tries < 4 and self._may_hog(tr.box):
            tr.hog = max(tr.hog, self._hog_score(tr.box))
            tr.hog_tries += 1
        person_hog = tr.hog >= self.hog_threshold
        sized = eh is None or 0.45 * eh <= tr.h <= 2.0 * eh
        upright = tr.h >= 1.2 * tr.w
        moving = tr.travel >= 0.3 * max(tr.h, 1.0)
        if tr.origin == "edge":
            # Came in across an edge: it must grow or move inwards, and look like one person.
            grew = tr.max_area > 1.3 * _area(tr.birth_box) or self._moved_in(tr)
            ok = tr.hits >= 2 and grew and (person_hog or (upright and (sized or edge is not None)))
            if ok and edge is not None and eh is not None and tr.h < 0.35 * eh:
                ok = False
        elif tr.origin == "initial":
            ok = tr.hits >= 2 and sized and (person_hog or (upright and moving))
        elif tr.origin == "split":
            ok = tr.hits >= 2 and sized and upright and (person_hog or moving)
        else:  # emerging inside the view
            ok = tr.hits >= 3 and sized and upright and (person_hog or moving)
        if not ok:
            return
        tr.confirmed = True
        fire = tr.origin in ("edge", "inside")
        if tr.origin == "split" and tr.parent is not None and tr.parent.origin == "edge" \
                and t - tr.parent.born <= 2.5:
            fire = True  # one of a group that came in together
        if fire:
            tr.entered_event = True
            events.append(self._event("enter", tr, t, tr.edge))

    def _moved_in(self, tr: _Track) -> bool:
        wh, ww = self._shape  # type: ignore[misc]
        b0, b1 = tr.birth_box, tr.box
        return {
            "left": b1[2] > b0[2] + 1, "right": b1[0] < b0[0] - 1,
            "top": b1[3] > b0[3] + 1, "bottom": b1[1] < b0[1] - 1,
        }.get(tr.edge, False)

    def _leaving_edge(self, tr: _Track) -> str | None:
        wh, ww = self._shape  # type: ignore[misc]
        edge = self._touch(tr.box)
        if edge is not None:
            return edge
        p = tr.box + np.r_[tr.vel, tr.vel] * (t_step := 1.0 / self.fps)
        del t_step
        return self._touch(p) if (p[2] < 0 or p[0] > ww or p[3] < 0 or p[1] > wh
                                  or self._touch(p)) else None

    def _still_there(self, tr: _Track) -> bool:
        """The person faded into the background but their pixels have not moved."""
        if tr.template is None or self._touch(tr.box) is not None:
            return False
        cur = self._patch(tr.box)
        if cur is None or cur.shape != tr.template.shape:
            return False
        diff = float(np.mean(np.abs(cur.astype(np.int16) - tr.template.astype(np.int16))))
        return diff < 10.0

    def _patch(self, box: np.ndarray) -> np.ndarray | None:
        wh, ww = self._shape  # type: ignore[misc]
        x0, y0 = max(0, int(box[0])), max(0, int(box[1]))
        x1, y1 = min(ww, int(math.ceil(box[2]))), min(wh, int(math.ceil(box[3])))
        if x1 - x0 < 2 or y1 - y0 < 2:
            return None
        return self._gray[y0:y1, x0:x1].copy()

    # .............................................................. HOG

    def _may_hog(self, box: np.ndarray) -> bool:
        if self._changed is None:
            return True
        wh, ww = self._shape  # type: ignore[misc]
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
        wh, ww = self._shape  # type: ignore[misc]
        gx0, gx1 = int(max(0, (cx - cw / 2) / s)), int(min(ww, math.ceil((cx + cw / 2) / s)))
        gy0, gy1 = int(max(0, (cy - ch / 2) / s)), int(min(wh, math.ceil((cy + ch / 2) / s)))
        self._hog_area[gy0:gy1, gx0:gx1] = True
        return float(feat @ self._hog_w + self._hog_b)

    # ........................................................... output

    def _event(self, kind: str, tr: _Track, t: float, edge: str) -> Observation:
        return Observation(t, kind, "person", score=_squash(tr.hog) if tr.hog > -math.inf else 0.5,
                           box=self._norm(tr.box), track_id=tr.id, attrs={"edge": edge})

    def _norm(self, box: np.ndarray) -> Box:
        wh, ww = self._shape  # type: ignore[misc]
        return _clip_box((box[0] / ww, box[1] / wh, box[2] / ww, box[3] / wh))

    def _result(self, t: float, events: list[Observation]) -> PeopleResult:
        people = []
        for tr in self._tracks:
            if not tr.confirmed:
                continue
            if not (tr.seen_now or tr.static) and t - tr.last_seen > self.hold_s:
                continue
            state = "static" if tr.static else ("moving" if tr.seen_now else "hidden")
            attrs = {"state": state}
            if tr.entered_event:
                attrs["edge"] = tr.edge
            people.append(Observation(t, "person", "person",
                                      score=_squash(tr.hog) if tr.hog > -math.inf else 0.5,
                                      box=self._norm(tr.box), track_id=tr.id, attrs=attrs))
        return PeopleResult(people=people, events=events, count=len(people))


# ------------------------------------------------------------------ helpers

def _squash(score: float) -> float:
    """Map an SVM margin to ``0..1``."""
    return float(1.0 / (1.0 + math.exp(-1.5 * (score + 0.5))))


def _clip_box(box: tuple[float, float, float, float]) -> Box:
    x0, y0, x1, y1 = (min(max(float(v), 0.0), 1.0) for v in box)
    return (x0, y0, max(x0, x1), max(y0, y1))


def _area(b: np.ndarray) -> float:
    return float(max(b[2] - b[0], 0) * max(b[3] - b[1], 0))


def _inter(a: np.ndarray, b: np.ndarray) -> float:
    w = min(a[2], b[2]) - max(a[0], b[0])
    h = min(a[3], b[3]) - max(a[1], b[1])
    return float(w * h) if w > 0 and h > 0 else 0.0


def _iou(a: np.ndarray, b: np.ndarray) -> float:
    i = _inter(a, b)
    return i / (_area(a) + _area(b) - i) if i > 0 else 0.0


def _overlap(a: np.ndarray, b: np.ndarray) -> float:
    """Share of ``a`` covered by ``b``."""
    return _inter(a, b) / max(_area(a), 1e-6)


def _union(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.array([min(a[0], b[0]), min(a[1], b[1]), max(a[2], b[2]), max(a[3], b[3])])


def _grow(b: np.ndarray, fx: float, fy: float) -> np.ndarray:
    w, h = b[2] - b[0], b[3] - b[1]
    return np.array([b[0] - fx * w, b[1] - fy * h, b[2] + fx * w, b[3] + fy * h])
