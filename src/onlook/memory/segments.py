"""Cutting the stream into events: merge similar frames, split where it turns.

Each analysed frame becomes a small state vector (how many people, how much
motion and where, scene colours, plus the image embedding when an encoder
runs). Consecutive similar frames are merged into one event. A boundary is
placed where the *trajectory* of these vectors turns sharply, following
CurveStream: the score is the step length times how much the direction
changes, and it must exceed an online mean + K-sigma of recent scores. Scene
cuts and people entering or leaving also end an event, and no event grows
past ``max_len_s``.
"""

from __future__ import annotations

import math
from collections import Counter

import numpy as np

from onlook.perception.color import COLOR_NAMES
from onlook.perception.motion import REGIONS
from onlook.types import Analysis, Event, Observation, ObservationKind, format_ts
from onlook.vocabulary import GROUP_MEMBERS, plural

__all__ = ["Segmenter", "summarize", "event_labels"]

# Object class -> its group word ("car" -> "vehicle"), so a search for the group finds its members.
_GROUP: dict[str, str] = {m.value: g.value for g, members in GROUP_MEMBERS.items() for m in members}

_KEEP_KINDS = {ObservationKind.ENTER, ObservationKind.EXIT, ObservationKind.SCENE_CUT, ObservationKind.TEXT,
               ObservationKind.FACE, ObservationKind.APPEAR, ObservationKind.DISAPPEAR}
# Kept once per track per event (how it looked, not every step).
_TRACKED_KINDS = (ObservationKind.PERSON, ObservationKind.OBJECT)
# How notable an event is for holding one of these (eviction goes by it); other kinds 0.1.
_SALIENCE: dict[str, float] = {ObservationKind.ENTER: 0.8, ObservationKind.EXIT: 0.6,
                               ObservationKind.SCENE_CUT: 0.7, ObservationKind.TEXT: 0.6, ObservationKind.FACE: 0.4,
                               ObservationKind.APPEAR: 0.6, ObservationKind.DISAPPEAR: 0.4}
# Observations that make a frame a better keyframe for its event (with the people in it).
_KEY_KINDS = (ObservationKind.ENTER, ObservationKind.TEXT, ObservationKind.SCENE_CUT, ObservationKind.APPEAR)


def _state(a: Analysis) -> np.ndarray:
    motion = np.zeros(len(REGIONS), np.float32)
    colors = np.zeros(len(COLOR_NAMES), np.float32)
    for o in a.observations:
        if o.kind == ObservationKind.MOTION:
            for r in o.attrs.get("regions", []):
                if r in REGIONS:
                    motion[REGIONS.index(r)] = 1.0
        elif o.kind == ObservationKind.COLOR:
            for c, v in o.attrs.get("colors", {}).items():
                if c in COLOR_NAMES:
                    colors[COLOR_NAMES.index(c)] = v
    head = np.array([min(a.people, 10) / 3.0], np.float32)
    parts = [head, 0.3 * motion, colors]
    if a.embedding is not None:
        parts.append(2.0 * np.asarray(a.embedding, np.float32))
    return np.concatenate(parts)


def event_labels(observations: list[Observation], people_max: int) -> list[str]:
    """Searchable labels of an event: what, colours, words, regions."""
    labels: set[str] = set()
    if people_max:
        labels.add("person")
    for o in observations:
        if o.kind in (ObservationKind.PERSON, ObservationKind.ENTER, ObservationKind.EXIT):
            labels.add("person")
            if o.kind != ObservationKind.PERSON:
                labels.add(str(o.kind))
            for c in o.attrs.get("colors", []):
                labels.add(f"person:{c}")
                labels.add(c)
                if o.kind != ObservationKind.PERSON:
                    labels.add(f"{o.kind}:{c}")
            if o.attrs.get("region"):
                labels.add(f"region:{o.attrs['region']}")
        elif o.kind in (ObservationKind.OBJECT, ObservationKind.APPEAR, ObservationKind.DISAPPEAR):
            labels.add(o.label)
            labels.add("object")
            group = _GROUP.get(o.label)
            if group:
                labels.add(group)
            if o.kind != ObservationKind.OBJECT:
                labels.add(str(o.kind))
                labels.add(f"{o.kind}:{o.label}")
            for c in o.attrs.get("colors", []):
                labels.add(f"{o.label}:{c}")
            if o.attrs.get("region"):
                labels.add(f"region:{o.attrs['region']}")
        elif o.kind == ObservationKind.SCENE_CUT:
            labels.add("scene_cut")
        elif o.kind == ObservationKind.FACE:
            labels.add("face")
        elif o.kind == ObservationKind.TEXT:
            labels.add("text")
            labels.update(f"word:{w}" for w in o.attrs.get("words", []))
        elif o.kind == ObservationKind.MOTION:
            labels.add("motion")
            labels.update(f"motion:{r}" for r in o.attrs.get("regions", []))
        elif o.kind == ObservationKind.COLOR:
            labels.update(f"scene:{c}" for c in o.attrs.get("colors", {}))
    return sorted(labels)


def summarize(start: float, end: float, observations: list[Observation], people_max: int,
              people_last: int) -> str:
    """One line describing an event, e.g. ``00:12-00:20 3 people; 1 entered (right, red)``."""
    parts = [f"{format_ts(start)}-{format_ts(end)}"]
    if people_max:
        parts.append(f"{people_max} {'person' if people_max == 1 else 'people'} visible at most"
                     f" ({people_last} at the end)")
    else:
        parts.append("no people seen")
    for kind, verb in ((ObservationKind.ENTER, "entered"), (ObservationKind.EXIT, "left")):
        items = [o for o in observations if o.kind == kind]
        if items:
            details = []
            for o in items[:4]:
                d = [o.attrs.get("edge", "")]
                d += o.attrs.get("colors", [])[:2]
                details.append(" ".join(x for x in d if x) or "?")
            parts.append(f"{len(items)} {verb} ({'; '.join(details)})")
    cuts = sum(1 for o in observations if o.kind == ObservationKind.SCENE_CUT)
    if cuts:
        parts.append("scene change" if cuts == 1 else f"{cuts} scene changes")
    texts = []
    for o in observations:
        if o.kind == ObservationKind.TEXT and o.label not in texts:
            texts.append(o.label)
    if texts:
        parts.append("text: " + ", ".join(repr(t) for t in texts[:5]))
    objects = Counter(o.label for o in observations if o.kind == ObservationKind.OBJECT)
    if objects:
        parts.append("objects: " + ", ".join(f"{n} {plural(lab)}" if n > 1 else lab
                                             for lab, n in objects.most_common(5)))
    appeared = [o.label for o in observations if o.kind == ObservationKind.APPEAR]
    if appeared:
        parts.append("appeared: " + ", ".join(dict.fromkeys(appeared)))
    faces = max((o.attrs.get("count", 1) for o in observations if o.kind == ObservationKind.FACE), default=0)
    if faces:
        parts.append("faces seen")
    colors = Counter(c for o in observations if o.kind == ObservationKind.COLOR for c in o.attrs.get("colors", {}))
    if colors:
        parts.append("colours: " + ", ".join(c for c, _ in colors.most_common(3)))
    return "; ".join(parts)


class Segmenter:
    """Group analyses into :class:`~onlook.types.Event`\\ s online.

    Args:
        stream_id: Stream the events belong to.
        k_sigma: Boundary when the turn score exceeds mean + ``k_sigma`` * std.
        min_len_s: No curvature boundary inside this much stream time.
        max_len_s: Close an event after this long regardless.
    """

    def __init__(self, stream_id: str, *, k_sigma: float = 2.5, min_len_s: float = 2.0,
                 max_len_s: float = 30.0) -> None:
        self.stream_id = stream_id
        self.k_sigma = k_sigma
        self.min_len_s = min_len_s
        self.max_len_s = max_len_s
        self._prev: np.ndarray | None = None
        self._prev_step: np.ndarray | None = None
        self._n = 0
        self._mean = 0.0
        self._m2 = 0.0
        self.closed_key: Analysis | None = None
        self._reset_open()

    def _reset_open(self) -> None:
        self.start: float | None = None
        self.end: float | None = None
        self.obs: list[Observation] = []
        self.people_max = 0
        self.people_last = 0
        self.key_analysis: Analysis | None = None
        self._key_score = -1.0
        self._emb_sum: np.ndarray | None = None
        self._emb_n = 0
        self._salience = 0.0

    def _score(self, state: np.ndarray) -> float:
        prev, self._prev = self._prev, state
        if prev is None or prev.shape != state.shape:
            self._prev_step = None
            return 0.0
        step = state - prev
        prev_step, self._prev_step = self._prev_step, step
        length = float(np.linalg.norm(step))
        if prev_step is None or length < 1e-6:
            return length
        pn = float(np.linalg.norm(prev_step))
        cos = float(step @ prev_step) / (length * pn) if pn > 1e-6 else 0.0
        return length * (1.0 + (1.0 - cos)) / 2.0

    def _boundary(self, score: float) -> bool:
        std = math.sqrt(self._m2 / self._n) if self._n > 1 else 0.0
        hit = self._n >= 5 and score > self._mean + self.k_sigma * max(std, 0.05)
        self._n += 1
        d = score - self._mean
        self._mean += d / self._n
        self._m2 += d * (score - self._mean)
        return hit

    def push(self, a: Analysis) -> Event | None:
        """Add one analysis; returns the event it closed, if any.

        The analysis that triggers a boundary starts the next event.
        """
        t = a.frame.pts
        # A cut is confirmed a little after it happened: when the open event already began at or after
        # the cut (the picture's change split it there), the cut belongs to that event.
        hard = any(o.kind in (ObservationKind.ENTER, ObservationKind.EXIT)
                   or (o.kind == ObservationKind.SCENE_CUT and (self.start is None or self.start < o.t - 1e-6))
                   for o in a.observations)
        score = self._score(_state(a))
        turn = self._boundary(score)
        closed = None
        if self.start is not None:
            long_enough = t - self.start >= self.min_len_s
            if (hard and t > self.start) or (turn and long_enough) or t - self.start >= self.max_len_s:
                closed = self.flush()
        self._add(a)
        return closed

    def _add(self, a: Analysis) -> None:
        t = a.frame.pts
        if self.start is None:
            self.start = t
        self.end = t
        self.people_max = max(self.people_max, a.people)
        self.people_last = a.people
        for o in a.observations:
            if o.kind in _KEEP_KINDS or o.kind == ObservationKind.COLOR:
                self.obs.append(o)
                self._salience = max(self._salience, _SALIENCE.get(o.kind, 0.1))
            elif o.kind in _TRACKED_KINDS:
                # Keep at most one record per track per event: its look, not every step.
                if not any(p.kind == o.kind and p.track_id == o.track_id for p in self.obs):
                    self.obs.append(o)
        self._salience = max(self._salience, min(0.5, 0.1 * a.people))
        key = a.people + 2.0 * sum(1 for o in a.observations if o.kind in _KEY_KINDS)
        if key > self._key_score:
            self._key_score = key
            self.key_analysis = a
        if a.embedding is not None:
            e = np.asarray(a.embedding, np.float32)
            self._emb_sum = e.copy() if self._emb_sum is None else self._emb_sum + e
            self._emb_n += 1

    def current(self) -> Event | None:
        """The event still open (not yet stored), for questions about "now"."""
        if self.start is None:
            return None
        return self._event()

    def _event(self) -> Event:
        assert self.start is not None and self.end is not None
        emb = None
        if self._emb_sum is not None:
            emb = self._emb_sum / max(1e-6, float(np.linalg.norm(self._emb_sum)))
        obs = list(self.obs)
        return Event(stream_id=self.stream_id, start=self.start, end=self.end,
                     summary=summarize(self.start, self.end, obs, self.people_max, self.people_last),
                     people_max=self.people_max, labels=event_labels(obs, self.people_max),
                     salience=round(self._salience, 3), observations=obs, embedding=emb,
                     keyframe_t=self.key_analysis.frame.pts if self.key_analysis else None)

    def flush(self) -> Event | None:
        """Close and return the open event (None if there is none)."""
        if self.start is None:
            return None
        ev = self._event()
        # The caller stores the keyframe image; the event itself carries only its time.
        self.closed_key = self.key_analysis
        self._reset_open()
        return ev
