"""The people tracker: one frame through foreground, association, motion, confirmation and crossing.

See :mod:`onlook.perception.people` for how it works as a whole.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import cv2
import numpy as np

from onlook.errors import ConfigError
from onlook.perception import boxes
from onlook.perception.people.association import Associator, split_wide
from onlook.perception.people.crossing import Edges, announces_entry, exit_edge
from onlook.perception.people.foreground import Foreground
from onlook.perception.people.hog import HogVerifier, changed_grid, squash
from onlook.perception.people.motion import anchor, follow_mates, predict, update_velocity
from onlook.perception.people.state import Blob, HeightModel, Track, maybe_confirm, part_of_bigger, patch, still_there
from onlook.perception.people.thresholds import THRESHOLDS
from onlook.types import Box, Observation, ObservationKind

__all__ = ["PeopleResult", "PeopleTracker"]

_TH = THRESHOLDS


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
        self._hog = HogVerifier()
        self._next_id = 1
        self.reset()

    # ------------------------------------------------------------------ public

    def reset(self) -> None:
        """Forget the background, every track and what people look like."""
        self._fg = Foreground(self.var_threshold)
        self._shape: tuple[int, int] | None = None  # work (h, w)
        self._edges: Edges | None = None
        self._assoc: Associator | None = None
        self._tracks: list[Track] = []
        self._heights: HeightModel | None = None
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
        wh = max(_TH.work_min_h, int(round(H * ww / W)))
        small = cv2.resize(image, (ww, wh), interpolation=cv2.INTER_AREA)
        self._scale = W / ww
        self._hog.begin(image, self._scale, changed_grid(changed, wh, ww), (wh, ww))
        self._work_fraction = 0.0

        # A cut, a new picture size, time running backwards or a long outage: what
        # was known of the view no longer holds (the people model does, unless cut).
        gap = self._last_t is not None and (
            t < self._last_t or t - self._last_t > max(self.lost_s, _TH.gap_frames / self.fps))
        if scene_cut or self._fg.mog is None or self._shape != (wh, ww) or gap:
            self._restart(small, t, keep_heights=not scene_cut and self._shape == (wh, ww),
                          strict=self._fg.mog is not None)
            return PeopleResult(blind=True)

        dt = max(t - self._last_t, _TH.min_dt) if self._last_t is not None else 1.0 / self.fps
        self._last_t = t
        # MOG2 takes a pixel value as background once its weight passes 1 - 0.9.
        absorb = min(self.absorb_s, max(_TH.ghost_s, t - self._t0))
        lr = min(1.0, _TH.mog_absorb_rate * dt / absorb)
        small, fg = self._fg.apply(small, lr)
        fg_frac = float(fg.mean())
        if fg_frac > self.unstable_fraction:
            return self._unstable_frame(small, t)
        if self._unstable:
            # The view settled again: whoever is visible now was already there.
            self._unstable = 0
            self._t0 = t
        self._gray = cv2.cvtColor(small, cv2.COLOR_BGR2GRAY)
        self._fg.remember(small, fg, dt)

        blobs = self._fg.blobs(fg, small, min_height=self.min_height, min_contrast=self.min_contrast)
        events = self._track(blobs, t, dt)
        self._work_fraction = self._hog.work_fraction
        return self._result(t, events)

    # ------------------------------------------------------------- internals

    def _restart(self, small: np.ndarray, t: float, *, keep_heights: bool, strict: bool) -> None:
        wh, ww = small.shape[:2]
        self._fg.restart(small)
        self._shape = (wh, ww)
        self._edges = Edges(wh, ww, self.edge_margin)
        self._tracks = []
        if not keep_heights or self._heights is None:
            self._heights = HeightModel(wh)
        self._assoc = Associator(self._edges, self._heights, self.lost_s)
        self._t0 = t
        self._last_t = t
        self._unstable = 0
        self._strict_until = t + self.warmup_s if strict else -math.inf

    def _unstable_frame(self, small: np.ndarray, t: float) -> PeopleResult:
        """Most of the frame moved: restart the background, count with HOG only."""
        self._fg.relearn(small)
        self._tracks = []  # a moving view invalidates every track; nobody "left"
        self._unstable += 1
        self._t0 = t
        self._strict_until = t + self.warmup_s
        people: list[Observation] = []
        if self.hog_fallback:
            found = self._hog.detect(small)
            self._work_fraction = 1.0
            for box, score in found:
                people.append(Observation(t, ObservationKind.PERSON, "person", score=score,
                                          box=_clip_box(box), attrs={"state": "detected"}))
        return PeopleResult(people=people, events=[], count=len(people), blind=True)

    def _work(self) -> tuple[Edges, HeightModel, Associator]:
        """The view's edges, height model and associator: set by the first frame, before any track exists."""
        if self._edges is None or self._heights is None or self._assoc is None:  # pragma: no cover
            raise RuntimeError("the people tracker has not seen a frame yet")
        return self._edges, self._heights, self._assoc

    # ........................................................... tracking

    def _track(self, blobs: list[Blob], t: float, dt: float) -> list[Observation]:
        edges, _, assoc = self._work()
        tracks = self._tracks
        for tr in tracks:
            tr.seen_now = False
        preds = [predict(tr, dt) for tr in tracks]
        before = [tr.box.copy() for tr in tracks]

        # 1.-4. Match blobs to tracks, share groups, absorb pieces (may move preds).
        a = assoc.associate(tracks, preds, blobs, t)

        # 5. Update the tracks that were seen.
        hidden = []
        for i, tr in enumerate(tracks):
            if i not in a.meas:
                continue
            box = a.meas[i]
            if box is None:
                hidden.append(i)
            else:
                self._observe(tr, box, t, dt, single=a.single[i])
                tr.plausible += int(a.plausible[i])
        for i in hidden:
            # Hidden behind the others in its group: it is there, and moves with them.
            tr = tracks[i]
            if boxes.covered_share(preds[i], np.array([0, 0, edges.ww, edges.wh], np.float64)) < _TH.hidden_in_view:
                continue  # mostly out of the picture: gone, not hidden
            mates = [k for k in a.claims[a.group[i]] if a.meas.get(k) is not None]
            if mates:
                follow_mates(tr, before[i], [(before[k], tracks[k].box, tracks[k].vel) for k in mates])
            else:
                tr.box = preds[i]
            tr.seen_now = True
            tr.last_seen = t
            tr.misses = 0

        # 6. Re-acquire vanished people, or start new tracks.
        for b in assoc.join_pieces(a.loose):
            if not self._reacquire(b, t, dt):
                self._spawn(b, t)

        # 7. Verify, confirm, coast, expire.
        return self._bookkeep(t)

    def _observe(self, tr: Track, box: np.ndarray, t: float, dt: float, *, single: bool) -> None:
        edges, heights, _ = self._work()
        edge = edges.touch(box)
        was_edge = edges.touch(tr.box)
        update_velocity(tr, box, edge or was_edge, t, dt)
        h, w = float(box[3] - box[1]), float(box[2] - box[0])
        eh = heights.expected(float(box[3]))
        whole = eh is None or _TH.whole_lo * eh <= h <= _TH.whole_hi * eh  # not cut short by something in front
        if edge is None and single and whole and _TH.size_aspect_lo * w <= h <= _TH.size_aspect_hi * w:
            if tr.size is None or was_edge is not None:
                tr.size = (h, w)
            else:
                k = _TH.size_smoothing
                tr.size = (k * h + (1 - k) * tr.size[0], k * w + (1 - k) * tr.size[1])
        tr.box = box
        tr.seen_whole |= edge is None
        tr.disp = max(tr.disp, float(np.hypot(*(anchor(box, None) - anchor(tr.birth_box, None)))))
        tr.last_seen = t
        tr.hits += 1
        tr.alone += int(single)
        tr.misses = 0
        tr.static = False
        tr.seen_now = True
        if tr.confirmed and single and edge is None:
            h = float(box[3] - box[1])
            if _TH.hog_aspect_lo <= h / max(box[2] - box[0], 1.0) <= _TH.hog_aspect_hi:
                heights.add(float(box[3]), h)  # isolated and whole: what a person's height is here
        tr.template = patch(self._gray, box, (edges.wh, edges.ww))

    def _reacquire(self, b: Blob, t: float, dt: float) -> bool:
        _, _, assoc = self._work()
        best, best_c = None, math.inf
        for tr in self._tracks:
            if tr.seen_now or not tr.confirmed:
                continue
            c = assoc.cost(tr, predict(tr, t - tr.last_seen), b.box, t)
            if c is not None and c < best_c:
                best, best_c = tr, c
        if best is None:
            return False
        self._observe(best, b.box.copy(), t, dt, single=True)
        return True

    def _spawn(self, b: Blob, t: float) -> None:
        edges, heights, assoc = self._work()
        wh = edges.wh
        edge = edges.touch(b.box)
        eh = heights.expected(b.box[3])
        if edge is None and b.parent is None:
            # Track small things already (confirmation waits until they look like
            # someone), so that a person far away is confirmed soon after they grow.
            if b.h < _TH.spawn_min_share * self.min_height * wh:
                return
            if eh is not None and b.h < _TH.spawn_min_expected * eh:
                return
        pieces = [b]
        person_h = eh if eh is not None else (b.h if edge is None else None)
        if person_h is not None and b.w > _TH.split_width * _TH.person_width * person_h:
            pieces = split_wide(b, person_h)
        for q in pieces:
            q_edge = edges.touch(q.box)
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
            elif (parent := assoc.near_person(q.box, self._tracks)) is not None:
                origin, where = "split", parent.edge
            elif (q_edge := edges.touch(boxes.grow(q.box, _TH.late_entry_grow, 0.0))) is not None:
                # Within a body width of an edge: it just came in, seen late.
                origin, where = "edge", q_edge
            else:
                origin, where = "inside", "inside"
            tr = Track(self._next_id, q.box.copy(), t, origin, where, q.box.copy(), last_seen=t,
                       parent=parent)
            tr.template = patch(self._gray, q.box, (edges.wh, edges.ww))
            self._next_id += 1
            self._tracks.append(tr)

    def _bookkeep(self, t: float) -> list[Observation]:
        edges, heights, _ = self._work()
        events: list[Observation] = []
        keep: list[Track] = []
        for tr in self._tracks:
            if not tr.seen_now:
                tr.misses += 1
                if not tr.confirmed:
                    if tr.misses >= _TH.tentative_max_misses or tr.hits <= 1:
                        continue  # a tentative track that did not last
                elif still_there(tr, self._gray, edges):
                    tr.static = True
                    tr.misses = 0
                    tr.last_seen = t
                    tr.vel = np.zeros(2)
                else:
                    edge = exit_edge(edges, tr, t, self.lost_s)
                    if edge is not None:
                        events.append(self._event(ObservationKind.EXIT, tr, t, edge))
                        continue
            elif not tr.confirmed:
                if maybe_confirm(tr, tracks=self._tracks, edges=edges, heights=heights, hog=self._hog,
                                 hog_threshold=self.hog_threshold, hog_veto=self.hog_veto,
                                 min_height=self.min_height) \
                        and announces_entry(tr, t, self.enter_window_s):
                    tr.entered_event = True
                    events.append(self._event(ObservationKind.ENTER, tr, t, tr.edge))
            keep.append(tr)
        self._tracks = keep
        return events

    # ........................................................... output

    def _event(self, kind: ObservationKind, tr: Track, t: float, edge: str) -> Observation:
        return Observation(t, kind, "person", score=_score(tr), box=self._norm(tr.box), track_id=tr.id,
                           attrs={"edge": edge})

    def _norm(self, box: np.ndarray) -> Box:
        edges, _, _ = self._work()
        wh, ww = edges.wh, edges.ww
        return _clip_box((box[0] / ww, box[1] / wh, box[2] / ww, box[3] / wh))

    def _result(self, t: float, events: list[Observation]) -> PeopleResult:
        edges, _, _ = self._work()
        people = []
        for tr in self._tracks:
            if not tr.confirmed:
                continue
            if not (tr.seen_now or tr.static) and t - tr.last_seen > self.hold_s:
                continue
            if part_of_bigger(tr, self._tracks, edges):
                continue  # a second track on one person (a close-up) is not a second person
            state = "static" if tr.static else ("moving" if tr.seen_now else "hidden")
            attrs = {"state": state}
            if tr.entered_event:
                attrs["edge"] = tr.edge
            people.append(Observation(t, ObservationKind.PERSON, "person", score=_score(tr),
                                      box=self._norm(tr.box), track_id=tr.id, attrs=attrs))
        # Just after a cut (or a moving view settling) only people who move stand out from a background
        # learnt a moment ago: a tracker that sees nobody yet cannot tell an empty view from a still one.
        blind = not people and t < self._strict_until
        return PeopleResult(people=people, events=events, count=len(people), blind=blind)


# ------------------------------------------------------------------ helpers

def _score(tr: Track) -> float:
    """A track's 0..1 score: its best HOG score squashed, or a neutral one if HOG never looked."""
    return squash(tr.hog) if tr.hog > -math.inf else _TH.unknown_score


def _clip_box(box: tuple[float, float, float, float]) -> Box:
    x0, y0, x1, y1 = (min(max(float(v), 0.0), 1.0) for v in box)
    return (x0, y0, max(x0, x1), max(y0, y1))
