"""Bounded memory: recent window -> events -> long-term store on disk."""

from __future__ import annotations

import threading
from collections import deque

import cv2
import numpy as np

from onlook.errors import StoreFull
from onlook.memory.segments import Segmenter
from onlook.memory.store import Store, VectorIndex
from onlook.types import Analysis, Event, Frame, Observation, ObservationKind, TimelineRow

__all__ = ["Memory", "Segmenter", "Store", "VectorIndex"]

# Sightings worth finding again by time ("when did...", "how many entered...").
_SIGHTING_KINDS = {ObservationKind.ENTER, ObservationKind.EXIT, ObservationKind.SCENE_CUT, ObservationKind.TEXT,
                   ObservationKind.FACE, ObservationKind.APPEAR, ObservationKind.DISAPPEAR,
                   ObservationKind.FACE_STATE,  # face states: only their changes (the mouth opens...)
                   ObservationKind.HAND, ObservationKind.POSE}
# The state-like kinds a timeline row keeps; discrete ones go to sightings.
_STATE_KINDS = (ObservationKind.PERSON, ObservationKind.FACE, ObservationKind.MOTION, ObservationKind.COLOR,
                ObservationKind.OBJECT, ObservationKind.FACE_STATE, ObservationKind.HAND, ObservationKind.POSE)


def _shrink(image: np.ndarray, max_width: int) -> np.ndarray:
    """A small copy for the recent window (bilinear: a preview, not detector input, so speed wins)."""
    h, w = image.shape[:2]
    if w <= max_width:
        return image
    return cv2.resize(image, (max_width, max(1, round(h * max_width / w))), interpolation=cv2.INTER_LINEAR)


class Memory:
    """A stream's memory: feeds analyses into the timeline, events and store.

    Writes happen on the ingest worker; :meth:`open_event` and :meth:`latest`
    may be called from any thread (they copy under a lock).

    Args:
        store: Where events, timeline and keyframes go.
        stream_id: The stream's name.
        recent_window: How many recent analyses to keep in RAM.
        recent_width: Their frames are kept at most this wide.
        text_repeat_s: The same OCR text is recorded again only after this long.
        face_repeat_s: Faces are recorded as sightings at most this often.
    """

    def __init__(self, store: Store, stream_id: str, *, recent_window: int = 16, recent_width: int = 640,
                 text_repeat_s: float = 60.0, face_repeat_s: float = 10.0) -> None:
        self.store = store
        self.stream_id = stream_id
        self.segmenter = Segmenter(stream_id)
        self.recent: deque[Analysis] = deque(maxlen=recent_window)
        self.recent_width = recent_width
        self._lock = threading.Lock()
        self._latest: TimelineRow | None = None
        self._texts: dict[str, float] = {}
        self._last_part: dict[str, float] = {}  # faces, hands: when last kept as a sighting
        self.text_repeat_s = text_repeat_s
        self.face_repeat_s = face_repeat_s
        self.events_stored = 0
        # Closed events (with the analysis holding their keyframe) not yet in the store:
        # a full disk keeps them here instead of losing them (bounded: ingest stops on a full disk).
        self._pending: deque[tuple[Event, Analysis | None]] = deque(maxlen=16)
        self.keyframe_error: StoreFull | None = None

    def add(self, a: Analysis) -> list[Event]:
        """Record one analysis; return the events it closed (already stored)."""
        t = a.frame.pts
        motion = max((o.score for o in a.observations if o.kind == ObservationKind.MOTION), default=0.0)
        # Per-frame rows keep only the state-like observations; discrete ones go to sightings.
        state = [o for o in a.observations if o.kind in _STATE_KINDS and "change" not in o.attrs]
        self.store.add_frame(t, a.frame.seq, a.frame.wall, a.people, motion, a.analysed_fraction, state)
        keyframe = None
        full: StoreFull | None = None
        for o in a.observations:
            if o.kind not in _SIGHTING_KINDS or not self._worth_sighting(o, t):
                continue
            if keyframe is None and full is None:
                try:
                    keyframe = self.store.save_keyframe(a.frame.image, t)
                except StoreFull as e:  # the sighting matters more than its picture: store it without
                    full = e
            self.store.add_sighting(o, keyframe)
        with self._lock:
            closed = self.segmenter.push(a)
        out: list[Event] = []
        if closed is not None:
            self._pending.append((closed, self.segmenter.closed_key))
            out, no_room = self._store_pending()
            full = full or no_room
        # The recent window keeps small copies: enough for a live view or a VLM's
        # latest frames, and bounded in bytes whatever the camera resolution.
        thumb = Analysis(frame=Frame(a.frame.stream_id, a.frame.seq, t, a.frame.wall,
                                     _shrink(a.frame.image, self.recent_width)),
                         observations=a.observations, analysed_fraction=a.analysed_fraction,
                         people=a.people, embedding=a.embedding)
        with self._lock:
            self.recent.append(thumb)
            self._latest = {"t": t, "seq": a.frame.seq, "wall": a.frame.wall, "people": a.people,
                            "motion": motion, "analysed": a.analysed_fraction, "obs": state}
        if full is not None:
            raise full
        return out

    def _worth_sighting(self, o: Observation, t: float) -> bool:
        if o.kind in (ObservationKind.FACE_STATE, ObservationKind.POSE):  # a reading is state; a change a sighting
            return "change" in o.attrs
        if o.kind == ObservationKind.TEXT:
            last = self._texts.get(o.label)
            self._texts[o.label] = t
            if len(self._texts) > 512:  # bounded: forget the stalest texts
                for k, _ in sorted(self._texts.items(), key=lambda kv: kv[1])[:256]:
                    del self._texts[k]
            return last is None or t - last > self.text_repeat_s or t < last
        if o.kind in (ObservationKind.FACE, ObservationKind.HAND):  # present a while: now and then is enough
            last = self._last_part.get(o.kind, -1e9)
            if t - last < self.face_repeat_s and t >= last:
                return False
            self._last_part[o.kind] = t
        return True

    def store_pending(self) -> list[Event]:
        """Store the closed events not stored yet, oldest first; returns those stored now.

        An event whose row cannot be written (a full disk) stays pending, to be
        stored by a later call once there is room. An event whose keyframe
        alone finds no room is stored without it, and :attr:`keyframe_error`
        says why (None when every keyframe was written).

        Raises:
            StoreFull: no room for an event's row (it stays pending).
            StoreError: any other write failure (the event stays pending).
        """
        out, self.keyframe_error = self._store_pending()
        return out

    def _store_pending(self) -> tuple[list[Event], StoreFull | None]:
        out: list[Event] = []
        full: StoreFull | None = None
        while self._pending:
            ev, key = self._pending[0]
            ev.stream_id = self.stream_id
            if key is not None and ev.keyframe is None and full is None:
                try:
                    ev.keyframe = self.store.save_keyframe(key.frame.image, key.frame.pts)
                except StoreFull as e:
                    full = e
            if ev.id is None:  # set once the row is in: a retry never stores it twice
                self.store.add_event(ev)
            self._pending.popleft()
            self.events_stored += 1
            out.append(ev)
        return out, full

    @property
    def pending(self) -> int:
        """Closed events waiting for room in the store."""
        return len(self._pending)

    def flush(self) -> list[Event]:
        """Close and store the open event (at the end of a stream), with any still pending.

        Raises:
            StoreError: as :meth:`store_pending`; what could not be stored stays pending.
        """
        ev = self.segmenter.flush()
        if ev is not None:
            self._pending.append((ev, self.segmenter.closed_key))
        return self.store_pending()

    # LiveState protocol ------------------------------------------------------------------------

    def open_event(self) -> Event | None:
        with self._lock:
            ev = self.segmenter.current()
        if ev is not None:
            ev.stream_id = self.stream_id
        return ev

    def latest(self) -> TimelineRow | None:
        with self._lock:
            return self._latest.copy() if self._latest else None

    def recent_frames(self) -> list[Analysis]:
        """The recent window, oldest first (small copies of the kept frames)."""
        with self._lock:
            return list(self.recent)
