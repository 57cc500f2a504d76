"""Perception of one kept frame: gate, then only the detectors that are due.

:class:`Perceiver` owns the per-stream state (gate reference, background
model, tracks, schedules). It is called from the stream's ingest worker, one
frame at a time, in stream order; it is not thread-safe and need not be.

Shot cuts come from :class:`~onlook.perception.shots.ShotDetector` (TransNetV2) when
``perception.shots`` is ``model``: it also sees the frames between analysed ones
(:meth:`Perceiver.glance`, thumbnails only) and confirms a cut a fraction of a second
after it happened; a glance that confirms one returns True so the engine analyses
that frame (the new shot's first look). The histogram test still runs on every
analysed frame to reset the gate and tracks at once.

Cost model: the gate, scene-cut test, motion and people tracking are cheap and
run on every kept frame that changed. Faces and OCR are expensive and run only
on the changed regions, and at most once per ``face_interval_s`` /
``ocr_interval_s``; the optional image encoder runs when the picture changed
noticeably since it last ran.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import replace
from typing import Protocol

import numpy as np

from onlook.config import Settings
from onlook.perception.color import dominant_colors, torso_colors
from onlook.perception.face_state import FaceStateReader
from onlook.perception.hands import HandDetector
from onlook.perception.motion import motion_observation, region_of_point
from onlook.perception.objects import DetectorSet, ObjectDetector, ObjectTracker
from onlook.perception.pose import PoseReader
from onlook.perception.scene import SceneCutDetector
from onlook.perception.shots import ShotDetector
from onlook.sampling import FpsSampler, RedundancyGate, resize_for_analysis
from onlook.types import Analysis, Capability, Frame, Observation, ObservationKind, ShotMethod
from onlook.vocabulary import Label

__all__ = ["RegionDetector", "Encoder", "Perceiver", "build_perceiver", "capabilities_for", "glance_fps_for"]

log = logging.getLogger(__name__)


class RegionDetector(Protocol):
    """A detector that can be told where to look."""

    name: str

    def detect(self, image: np.ndarray, t: float,
               rois: Sequence[tuple[int, int, int, int]] | None = None) -> list[Observation]:
        """Detect in ``image`` (BGR), only inside ``rois`` when given."""
        ...


class Encoder(Protocol):
    """An image/text encoder into one embedding space (CLIP-like)."""

    dim: int

    def encode_images(self, images: list[np.ndarray]) -> np.ndarray: ...

    def encode_texts(self, texts: list[str]) -> np.ndarray: ...


class Perceiver:
    """Turn kept frames into :class:`~onlook.types.Analysis` records.

    Args:
        settings: Gate thresholds, schedules and which detectors are on.
        people: A people tracker (``update(image, t, changed=, scene_cut=)``) or None.
        faces: Face detector or None.
        text: OCR detector or None.
        encoder: Optional image encoder; its embeddings go into memory.
        shots: The model-based shot detector (``perception.shots == "model"``) or None: then the
            histogram test reports cuts, unless ``perception.shots`` is ``off``.
        objects: An object detector (COCO classes), a :class:`DetectorSet` (COCO plus the OpenImages
            classes COCO lacks, on a slower schedule) or None; its detections feed one tracker for every
            class, run at most every ``object_interval_s`` and only when the picture changed.
        face_state: A face-state reader or None: it follows the faces the face detector finds and reads
            their state on every analysed frame where the picture changed.
        hands: A hand detector or None: run at most every ``hand_interval_s``, where a person is big enough
            to show their hands or something changed that tracked people do not explain.
        pose: A pose reader or None: at most every ``pose_interval_s``, on the tracked people tall enough.
    """

    def __init__(self, settings: Settings, *, people=None, faces: RegionDetector | None = None,
                 text: RegionDetector | None = None, encoder: Encoder | None = None,
                 shots: ShotDetector | None = None, objects: ObjectDetector | DetectorSet | None = None,
                 face_state: FaceStateReader | None = None, hands: HandDetector | None = None,
                 pose: PoseReader | None = None) -> None:
        self.settings = settings
        self.gate = RedundancyGate(tile=settings.gate_tile, threshold=settings.gate_threshold)
        self.scene = SceneCutDetector()
        self.people = people
        self.faces = faces
        self.text = text
        self.encoder = encoder
        self.shots = shots
        # One way to run objects: a lone detector is a set of one.
        self.objects = DetectorSet(objects) if isinstance(objects, ObjectDetector) else objects
        self.face_state = face_state
        self.hands = hands
        self.pose = pose
        # A track must outlive a missed run at the slow (refresh) rate before it is removed.
        self.object_tracker = (ObjectTracker(lost_s=max(3.0, 2.5 * settings.perception.object_refresh_s))
                               if objects is not None else None)
        self._object_colors: dict[int, list[str]] = {}
        # People seen by the object detector's person class, tracked apart: what the people tracker
        # reports while it is blind (a moving camera; the first seconds of a shot, before anyone moved).
        self.person_tracker = (ObjectTracker(lost_s=max(3.0, 2.5 * settings.perception.object_refresh_s))
                               if objects is not None and people is not None
                               and Label.PERSON in getattr(objects, "classes", ()) else None)
        self._detected_entered: set[int] = set()
        self._person_res = None
        self._glanced_until: float | None = None  # pts of the last frame the shot detector saw
        # Face-state changes read on frames between analysed ones, reported with the next analysed frame.
        self._between: list[Observation] = []
        self._face_read_t = -1e9  # stream time of the last face-state read
        self._whole_grid = FpsSampler(settings.perception.face_state_fps or 1.0)  # the source's thread only
        self.glanced = 0
        self._last_quick_t = -1e9
        self._last_run: dict[str, float] = {}
        self._track_colors: dict[int, list[tuple[str, float]]] = {}
        self._track_seen: dict[int, float] = {}
        self._last_scene_colors_t = -1e9
        self._encoder_pending = 0.0
        self.frames = 0
        self.skipped = 0
        self.stage_s: dict[str, float] = {}  # seconds spent per stage, over all analysed frames (and glances)

    def _spent(self, stage: str, since: float) -> float:
        now = time.perf_counter()
        self.stage_s[stage] = self.stage_s.get(stage, 0.0) + now - since
        return now

    def stage_ms(self) -> dict[str, float]:
        """Mean milliseconds per analysed frame spent in each stage (``shots`` includes the glances)."""
        n = max(1, self.frames)
        return {k: round(1000.0 * v / n, 3) for k, v in self.stage_s.items()}

    def _due(self, name: str, t: float, interval: float) -> bool:
        last = self._last_run.get(name)
        return last is None or t - last >= interval or t < last

    @property
    def glance_fps(self) -> float | None:
        """Frames per second this perceiver wants to glance at between analysed ones, or None for none.

        The shot detector's rate when there is one (it also serves face reads); else the face-state rate.
        """
        if self.shots is not None:
            return self.settings.perception.shot_fps
        return self._face_fps or None

    @property
    def glances(self) -> bool:
        """Whether this perceiver wants the frames between analysed ones (:meth:`glance`)."""
        return self.glance_fps is not None

    @property
    def _face_fps(self) -> float:
        return self.settings.perception.face_state_fps if self.face_state is not None else 0.0

    def wants_whole(self, pts: float) -> bool:
        """Whether the glanced frame at ``pts`` should be decoded whole rather than as a thumbnail.

        True on a grid of ``face_state_fps`` while a face is followed: its state is read between analysed
        frames. Called by the source, on its decoding thread, once per glanced frame in stream order.
        """
        fs = self.face_state
        return bool(self._face_fps > 0 and fs is not None and fs.following and self._whole_grid.keep(pts))

    def _show_shots(self, frame: Frame) -> None:
        if self.shots is None or (self._glanced_until is not None and frame.pts <= self._glanced_until):
            return
        self._glanced_until = frame.pts
        # A thumbnail from the source is BGR like every frame; the detector takes its own RGB thumbnails as they are.
        img = np.ascontiguousarray(frame.image[:, :, ::-1]) if frame.thumbnail else frame.image
        self.shots.push(img, frame.pts)

    def glance(self, frame: Frame) -> bool:
        """Show a frame that is not analysed to the shot detector (in stream order, between analysed ones).

        Returns:
            True when a cut was confirmed: analyse this frame (:meth:`analyze`) to report it.
        """
        if self.shots is None and not self._face_fps:
            return False
        self.glanced += 1
        self._read_faces_between(frame)
        if self.shots is None:
            return False
        t0 = time.perf_counter()
        self._show_shots(frame)
        self._spent("shots", t0)
        return self.shots.has_ready

    def _read_faces_between(self, frame: Frame) -> None:
        """Read the followed faces' state on a whole frame between analysed ones, at ``face_state_fps``.

        A blink (0.1-0.4 s) falls between two analysed frames at 2 fps; read a few times a second while a
        face is followed, it is seen. Only the changes are kept (a reading is per-frame state, which memory
        stores for analysed frames), and they are reported with the next analysed frame, at their own time.
        """
        fs, fps = self.face_state, self._face_fps
        if fs is None or fps <= 0 or not fs.following or frame.thumbnail:
            return
        t = frame.pts
        if t - self._face_read_t < 0.9 / fps and t >= self._face_read_t:
            return
        t0 = time.perf_counter()
        self._face_read_t = t
        img = resize_for_analysis(frame.image, self.settings.analysis_width)
        self._between.extend(o for o in fs.update(img, t, []) if "change" in o.attrs)
        self._spent("face_state", t0)

    def finish(self) -> bool:
        """The stream ended: judge pending shot candidates. True when a cut was confirmed (analyse the
        last frame seen to report it)."""
        if self.shots is None:
            return False
        self.shots.finish()
        return self.shots.has_ready

    def analyze(self, frame: Frame) -> Analysis:
        """Analyse one kept frame (must be called in stream order)."""
        s = self.settings
        t = frame.pts
        c = time.perf_counter()
        img = resize_for_analysis(frame.image, s.analysis_width)
        h, w = img.shape[:2]
        self.frames += 1
        obs: list[Observation] = self._between  # face-state changes read since the last analysed frame
        self._between = []

        method = s.perception.shots
        quick = self.scene.update(img, t)  # immediate, for resets; reported only as the histogram method
        confirmed: list[Observation] = []
        if self.shots is not None:
            self._show_shots(frame)
            confirmed = self.shots.poll()
            obs.extend(confirmed)
        elif quick is not None and method != ShotMethod.OFF:  # no model given: the histogram test reports
            obs.append(quick)
        c = self._spent("shots", c)
        if quick is not None:
            self._last_quick_t = t
        # A confirmed cut the histogram test missed resets now (its tracks span two shots).
        late = bool(confirmed) and self._last_quick_t < confirmed[0].t - 0.5
        cut = quick if quick is not None else (confirmed[0] if late else None)
        if cut is not None:
            self.gate.reset()
            self._track_colors.clear()
            self._track_seen.clear()
            if self.face_state is not None:
                self.face_state.reset()
            if self.pose is not None:
                self.pose.reset()
        gate = self.gate.update(img)
        if not gate.first:
            m = motion_observation(t, gate.changed)
            if m is not None:
                obs.append(m)
        c = self._spent("gate", c)

        people_count = 0
        blind = False
        if self.people is not None:
            res = self.people.update(img, t, changed=None if gate.first else gate.changed,
                                     scene_cut=cut is not None)
            blind = res.blind and self.person_tracker is not None
            people_count = 0 if blind else res.count
            live_ids = set()
            for p in [] if blind else res.people:
                live_ids.add(p.track_id)
                colors = self._person_colors(img, p, gate)
                attrs = dict(p.attrs)
                attrs["colors"] = [c for c, _ in colors]
                if p.box is not None:
                    attrs["region"] = region_of_point((p.box[0] + p.box[2]) / 2, (p.box[1] + p.box[3]) / 2)
                obs.append(Observation(t=t, kind=ObservationKind.PERSON, label="person", score=p.score, box=p.box,
                                       track_id=p.track_id, attrs=attrs))
            for e in res.events:
                attrs = dict(e.attrs)
                cached = self._track_colors.get(e.track_id) if e.track_id is not None else None
                if cached:
                    attrs["colors"] = [c for c, _ in cached]
                obs.append(Observation(t=t, kind=e.kind, label=e.label, score=e.score, box=e.box,
                                       track_id=e.track_id, attrs=attrs))
            # Remember a track's colours a while after it was last seen: its exit is
            # usually reported after it has gone, and it may be re-acquired.
            for tid in live_ids:
                self._track_seen[tid] = t
            for e in res.events:
                if e.kind == ObservationKind.EXIT and e.track_id is not None:
                    self._track_seen.pop(e.track_id, None)
                    self._track_colors.pop(e.track_id, None)
            for tid in list(self._track_colors):
                if t - self._track_seen.get(tid, t) > 30.0 or tid not in self._track_seen:
                    self._track_colors.pop(tid, None)
                    self._track_seen.pop(tid, None)

        if self.people is not None:
            c = self._spent("people", c)
        if self.objects is not None:
            people_now = [o.box for o in obs if o.kind == ObservationKind.PERSON and o.box is not None]
            obs.extend(self._objects(img, t, gate, cut, people_now))
            if blind:
                detected = self._detected_people(img, t, gate)
                people_count = sum(1 for o in detected if o.kind == ObservationKind.PERSON)
                obs.extend(detected)
            c = self._spent("objects", c)

        if gate.skip:
            self.skipped += 1
            return Analysis(frame=frame, observations=obs, analysed_fraction=0.0, people=people_count)

        rois = None if gate.first or cut is not None else gate.rois(img.shape)
        if s.detect_colors and (cut is not None or gate.first or t - self._last_scene_colors_t >= 10.0):
            self._last_scene_colors_t = t
            cols = dominant_colors(img)
            if cols:
                obs.append(Observation(t=t, kind=ObservationKind.COLOR, label=", ".join(n for n, _ in cols),
                                       score=cols[0][1], attrs={"colors": {n: round(v, 3) for n, v in cols}}))
            c = self._spent("colours", c)
        people_boxes = [o.box for o in obs if o.kind == ObservationKind.PERSON and o.box is not None]
        whole = rois is None
        faces: list[Observation] = []
        if self.faces is not None and self._due("face", t, s.face_interval_s):
            # Faces are on people: look at the heads of tracked people when there are any
            # (a far cheaper crop than every changed region); otherwise where it changed.
            face_rois = rois if whole or not people_boxes else _head_rois(people_boxes, img.shape)
            if face_rois is None or face_rois:  # [] = only people too small to show a face
                self._last_run["face"] = t
                faces = self.faces.detect(img, t, face_rois)
                obs.extend(faces)
                c = self._spent("faces", c)
        if self.hands is not None and self._due("hands", t, 0.9 * s.perception.hand_interval_s):
            # A palm at 192x192 of the whole picture is seen only when the hand is big: look when someone is
            # near the camera, or when what changed is not small people walking (a hand reaching in).
            near = any(b[3] - b[1] >= _HAND_PERSON_HEIGHT for b in people_boxes)
            if whole or near or (not people_boxes and _unexplained_rois(gate, people_boxes, img.shape)):
                self._last_run["hands"] = t
                obs.extend(self.hands.detect(img, t, people_boxes))
                c = self._spent("hands", c)
        if self.pose is not None and people_boxes and self._due("pose", t, 0.9 * s.perception.pose_interval_s):
            persons = [o for o in obs if o.kind == ObservationKind.PERSON]
            if any((b[3] - b[1]) * h >= self.pose.min_person_px for b in people_boxes):
                self._last_run["pose"] = t
                obs.extend(self.pose.update(img, t, persons))
                c = self._spent("pose", c)
        if self.face_state is not None and (faces or self.face_state.following):
            self._face_read_t = t
            obs.extend(self.face_state.update(img, t, faces))
            c = self._spent("face_state", c)
        if self.text is not None and self._due("text", t, s.ocr_interval_s):
            # People walking do not write text: read only changes that tracked people
            # do not explain, and only when there are some (the first frame reads it all).
            text_rois = None if whole else _unexplained_rois(gate, people_boxes, img.shape)
            if text_rois is None or text_rois:
                self._last_run["text"] = t
                obs.extend(self.text.detect(img, t, text_rois))
                c = self._spent("ocr", c)
        embedding = None
        if self.encoder is not None:
            self._encoder_pending += gate.changed_fraction
            if gate.first or cut is not None or self._encoder_pending >= 0.25:
                self._encoder_pending = 0.0
                embedding = self.encoder.encode_images([img])[0]
                c = self._spent("encoder", c)
        return Analysis(frame=frame, observations=obs, analysed_fraction=gate.changed_fraction,
                        people=people_count, embedding=embedding)

    def _objects(self, img: np.ndarray, t: float, gate, cut: Observation | None,
                 people_boxes: list) -> list[Observation]:
        """Tracked objects of this frame, and their appear/disappear events (colours from the crop, once).

        The detector runs every ``object_interval_s`` while something changes that the tracked people
        do not explain (a car drives in, a bag is put down), and every ``object_refresh_s`` while only
        people move; not at all while nothing changes.
        """
        assert self.objects is not None and self.object_tracker is not None
        tracker = self.object_tracker
        p = self.settings.perception
        # Sampled frames are not exactly on the grid (0.48 s apart at "2 fps" of a 25 fps file): a run is due
        # a little early rather than a whole frame late.
        due = False
        if not gate.skip:
            if self._due("objects", t, 0.9 * p.object_refresh_s):
                due = True
            elif self._due("objects", t, 0.9 * p.object_interval_s):
                due = self.people is None or bool(_unexplained_rois(gate, people_boxes, img.shape))
        persons = self.person_tracker
        if cut is not None or gate.first or due:
            self._last_run["objects"] = t
            # What changed that the tracked people do not explain is also read at native scale (small and far
            # things); after a cut or at the start everything changed, and the whole picture is read alone.
            regions = None if cut is not None or gate.first else _unexplained_rois(gate, people_boxes, img.shape)
            # A new shot or stream: every detector looks at once, so the tracker starts complete.
            found, looked = self.objects.detect(img, t, force=cut is not None or gate.first, regions=regions)
            cut_t = cut.t if cut is not None else None
            res = tracker.update([d for d in found if d.label != Label.PERSON], t, scene_cut=cut is not None,
                                 cut_t=cut_t, looked_for=looked)
            if persons is not None:
                self._person_res = persons.update([d for d in found if d.label == Label.PERSON], t,
                                                  scene_cut=cut is not None, cut_t=cut_t)
        else:  # not due, or nothing changed: what was there still is
            res = tracker.current(t, unchanged=gate.skip)
            if persons is not None:
                self._person_res = persons.current(t, unchanged=gate.skip)
        h, w = img.shape[:2]
        out: list[Observation] = []
        for o in res.objects + res.events:
            tid = o.track_id
            if tid is not None and tid not in self._object_colors and o.box is not None:
                x0, y0, x1, y1 = (int(o.box[0] * w), int(o.box[1] * h), int(o.box[2] * w), int(o.box[3] * h))
                crop = img[y0:y1, x0:x1]
                self._object_colors[tid] = ([c for c, _ in dominant_colors(crop, min_share=0.3, chromatic_share=0.2,
                                                                            top=2)] if crop.size >= 48 else [])
            attrs = dict(o.attrs)
            attrs["colors"] = self._object_colors.get(tid, []) if tid is not None else []
            if o.box is not None:
                attrs["region"] = region_of_point((o.box[0] + o.box[2]) / 2, (o.box[1] + o.box[3]) / 2)
            out.append(replace(o, attrs=attrs))
            if o.kind == ObservationKind.DISAPPEAR and tid is not None:
                self._object_colors.pop(tid, None)
        if len(self._object_colors) > 4 * max(8, tracker.tracks):  # removed tracks that never said goodbye
            live = {o.track_id for o in res.objects}
            self._object_colors = {k: v for k, v in self._object_colors.items() if k in live}
        return out

    def _detected_people(self, img: np.ndarray, t: float, gate) -> list[Observation]:
        """People from the object detector's person tracks, for a frame the people tracker is blind to.

        Their track ids are offset by :data:`DETECTED_PERSON_IDS` so they never meet the people tracker's.
        A track seen coming in becomes an ``enter`` (and, when it goes, an ``exit``); one already there when
        the shot began is only present.
        """
        res = self._person_res
        self._person_res = None
        if res is None:
            return []
        out: list[Observation] = []
        for o in res.objects:
            tid = DETECTED_PERSON_IDS + o.track_id if o.track_id is not None else None
            p = Observation(t=t, kind=ObservationKind.PERSON, label="person", score=o.score, box=o.box,
                            track_id=tid, attrs={"state": "detected"})
            colors = self._person_colors(img, p, gate)
            if tid is not None:
                self._track_seen[tid] = t
            attrs = dict(p.attrs, colors=[c for c, _ in colors])
            if o.box is not None:
                attrs["region"] = region_of_point((o.box[0] + o.box[2]) / 2, (o.box[1] + o.box[3]) / 2)
            out.append(replace(p, attrs=attrs))
        for e in res.events:
            tid = DETECTED_PERSON_IDS + e.track_id if e.track_id is not None else None
            if e.kind == ObservationKind.APPEAR and e.attrs.get("edge") not in (None, "inside"):
                kind = ObservationKind.ENTER
                if tid is not None:
                    self._detected_entered.add(tid)
            elif e.kind == ObservationKind.DISAPPEAR and tid in self._detected_entered:
                kind = ObservationKind.EXIT
                self._detected_entered.discard(tid)
            else:
                continue
            cached = self._track_colors.get(tid) if tid is not None else None
            attrs = {"edge": e.attrs.get("edge"), "by": "detector"}
            if cached:
                attrs["colors"] = [c for c, _ in cached]
            out.append(Observation(t=t, kind=kind, label="person", score=e.score, box=e.box, track_id=tid,
                                   attrs=attrs))
        return out

    def _person_colors(self, img: np.ndarray, p: Observation, gate) -> list[tuple[str, float]]:
        """Clothing colours of a tracked person, recomputed only where the picture changed."""
        if p.box is None:
            return []
        h, w = img.shape[:2]
        box_px = (int(p.box[0] * w), int(p.box[1] * h), int(p.box[2] * w), int(p.box[3] * h))
        tid = p.track_id
        cached = self._track_colors.get(tid) if tid is not None else None
        if cached is not None and not gate.first:
            tile = gate.tile
            r0, r1 = box_px[1] // tile, max(box_px[1] // tile + 1, -(-box_px[3] // tile))
            c0, c1 = box_px[0] // tile, max(box_px[0] // tile + 1, -(-box_px[2] // tile))
            if not gate.changed[r0:r1, c0:c1].any():
                return cached
        cols = torso_colors(img, box_px)
        if tid is not None:
            # Keep colours seen earlier too: a person seen in profile shows less of the jacket.
            prev = dict(cached or [])
            for c, v in cols:
                prev[c] = max(v, prev.get(c, 0.0))
            merged = sorted(prev.items(), key=lambda kv: -kv[1])[:3]
            self._track_colors[tid] = merged
            return merged
        return cols

    @property
    def capabilities(self) -> frozenset[Capability]:
        """What this perceiver sees, from the detectors it holds (see :func:`capabilities_for`)."""
        return _capabilities(people=self.people is not None, faces=self.faces is not None,
                             text=self.text is not None, colours=self.settings.detect_colors,
                             shots=self.settings.perception.shots != ShotMethod.OFF, objects=self.objects is not None,
                             face_state=self.face_state is not None, hands=self.hands is not None,
                             pose=self.pose is not None)

    @property
    def skipped_area_fraction(self) -> float:
        """Share of the sampled image area the detectors did not need to analyse."""
        return self.gate.skipped_area_fraction


# A face is about an eighth of a standing person's height; below ~12 px the face
# detector finds nothing, so people shorter than this are not worth a look.
DETECTED_PERSON_IDS = 1_000_000
"""Offset of the track ids of people seen by the object detector (while the people tracker is blind)."""

_MIN_PERSON_PX_FOR_FACE = 96
_HAND_PERSON_HEIGHT = 0.3  # share of the picture's height from which a person's hands are big enough to find


def _head_rois(boxes: list, shape: tuple[int, ...]) -> list[tuple[int, int, int, int]]:
    """Pixel rectangles around the upper part of each person box big enough to show a face."""
    h, w = shape[:2]
    out = []
    for x0, y0, x1, y1 in boxes:
        bw, bh = (x1 - x0) * w, (y1 - y0) * h
        if bh < _MIN_PERSON_PX_FOR_FACE:
            continue
        out.append((max(0, int(x0 * w - 0.25 * bw)), max(0, int(y0 * h - 0.15 * bh)),
                    min(w, int(x1 * w + 0.25 * bw)), min(h, int(y0 * h + 0.45 * bh))))
    return out


def _unexplained_rois(gate, boxes: list, shape: tuple[int, ...],
                      min_fraction: float = 0.005) -> list[tuple[int, int, int, int]]:
    """Changed regions minus the tiles covered by tracked people; [] when too little is left."""
    grid = gate.changed.copy()
    rows, cols = grid.shape
    for x0, y0, x1, y1 in boxes:
        # One tile of margin: a walking person's outline changes tiles just outside the box.
        r0, r1 = max(0, int(y0 * rows) - 1), min(rows, int(np.ceil(y1 * rows)) + 1)
        c0, c1 = max(0, int(x0 * cols) - 1), min(cols, int(np.ceil(x1 * cols)) + 1)
        grid[r0:r1, c0:c1] = False
    if grid.mean() < min_fraction:
        return []
    return replace(gate, changed=grid).rois(shape)


def _capabilities(*, people: bool, faces: bool, text: bool, colours: bool, shots: bool,
                  objects: bool, face_state: bool = False, hands: bool = False,
                  pose: bool = False) -> frozenset[Capability]:
    # The gate's motion runs on every kept frame, whatever is switched on.
    caps = {Capability.MOTION}
    if objects:
        caps.add(Capability.OBJECTS)
    if shots:
        caps.add(Capability.SHOTS)
    if people:
        caps.add(Capability.PEOPLE)
        if colours:  # clothing colours are read from tracked people's torsos
            caps.add(Capability.PERSON_COLOUR)
    if faces:
        caps.add(Capability.FACES)
        if face_state:  # read on the faces the face detector finds
            caps.add(Capability.FACE_STATE)
    if hands:
        caps.add(Capability.HANDS)
    if pose and people:  # read on tracked people
        caps.add(Capability.POSE)
    if text:
        caps.add(Capability.OCR)
    if colours:
        caps.add(Capability.SCENE_COLOUR)
    return frozenset(caps)


def capabilities_for(settings: Settings) -> frozenset[Capability]:
    """What a perceiver built by :func:`build_perceiver` from ``settings`` sees, without building it.

    Example:
        >>> sorted(c.value for c in capabilities_for(Settings(detect_faces=False, detect_text=False)))
        ['hands', 'motion', 'objects', 'people', 'person_colour', 'pose', 'scene_colour', 'shots']
    """
    return _capabilities(people=settings.detect_people, faces=settings.detect_faces, text=settings.detect_text,
                         colours=settings.detect_colors, shots=settings.perception.shots != ShotMethod.OFF,
                         objects=settings.perception.detect_objects, face_state=settings.perception.face_state,
                         hands=settings.perception.detect_hands, pose=settings.perception.detect_pose)


def glance_fps_for(settings: Settings) -> float | None:
    """The glance rate (:attr:`Perceiver.glance_fps`) of a perceiver built from ``settings``, without building it:
    the shot model's rate, or the face-state rate when only faces are read between analysed frames."""
    pc = settings.perception
    if pc.shots == ShotMethod.MODEL:
        return pc.shot_fps
    reads_faces = settings.detect_faces and pc.face_state and pc.face_state_fps > 0
    return pc.face_state_fps if reads_faces else None


def build_perceiver(settings: Settings, *, encoder: Encoder | None = None) -> Perceiver:
    """A :class:`Perceiver` with the default offline detectors the settings enable.

    Detectors load lazily and only when switched on; a missing optional
    package raises :class:`~onlook.errors.ModelError` naming what to install.
    Each onnxruntime model gets ``settings.perception.model_threads`` intra-op
    threads (2 when unset).
    """
    # A second thread per model speeds up one stream on idle cores; where many streams share the cores it
    # only adds a pool thread per model that must be woken and waited for on every operator.
    threads = settings.perception.model_threads or 2
    people = faces = text = None
    if settings.detect_people:
        from onlook.perception.people import PeopleTracker

        people = PeopleTracker(fps=settings.fps)
    if settings.detect_faces:
        from onlook.perception.faces import CenterFaceDetector

        faces = CenterFaceDetector(threads=threads)
    if settings.detect_text:
        from onlook.perception.text import OcrDetector

        text = OcrDetector(threads=threads)
    shots = None
    if settings.perception.shots == ShotMethod.MODEL:
        from onlook.perception.shots import TransNetV2

        shots = ShotDetector(TransNetV2(threads=threads))
    objects = None
    if settings.perception.detect_objects:
        from onlook.perception.objects import CocoSSD

        # With people on, the detector's person class is kept: it stands in for the people tracker where
        # that is blind (a moving camera); with people off, nobody is reported at all.
        objects = ObjectDetector(CocoSSD(threads=threads),
                                 exclude=frozenset() if people is not None else frozenset({Label.PERSON}),
                                 max_crops=settings.perception.object_crops)
        if settings.perception.detect_openimages:
            from onlook.perception.objects import OpenImagesSSD

            # Its scores run lower than COCO's (a box at 0.44): the tracker's second stage takes 0.3-0.4.
            extra = ObjectDetector(OpenImagesSSD(threads=threads), min_score=0.3, exclude=frozenset({Label.PERSON}))
            objects = DetectorSet(objects, [(extra, settings.perception.openimages_interval_s)])
    if encoder is None and settings.encoder_dir is not None:
        from onlook.perception.encoder import OnnxClipEncoder

        encoder = OnnxClipEncoder.load(settings.encoder_dir, threads=threads)
    face_state = None
    if faces is not None and settings.perception.face_state:
        from onlook.perception.face_state import FaceMesh

        face_state = FaceStateReader(FaceMesh())
    hands = None
    if settings.perception.detect_hands:
        from onlook.perception.hands import PalmDetector

        hands = HandDetector(PalmDetector(threads=threads))
    pose = None
    if people is not None and settings.perception.detect_pose:
        from onlook.perception.pose import PoseLandmarks

        pose = PoseReader(PoseLandmarks(threads=threads))
    return Perceiver(settings, people=people, faces=faces, text=text, encoder=encoder, shots=shots,
                     objects=objects, face_state=face_state, hands=hands, pose=pose)
