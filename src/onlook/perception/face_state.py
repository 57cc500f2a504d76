"""Face state from the face mesh: mouth open, eyes closed, facing the camera.

A face detector (CenterFace, every ``face_interval_s``) says where faces are; :class:`FaceStateReader` then
follows each face from frame to frame with the shipped face-mesh model (MediaPipe's 468-point face landmark,
converted to ONNX: ``onlook.models`` ``face_landmark``), as MediaPipe's own face-mesh graph does: the next crop
is taken around the previous frame's landmarks, and a face is dropped when the model's presence score says the
crop lost it. Faces too small to show their mouth and eyes are not read.

From the landmarks, three ratios that do not depend on the face's size:

* mouth: inner-lip gap / mouth width (points 13-14 over 78-308) - about 0.05-0.15 talking, 0.5-0.8 wide open;
* eyes: lid gap / eye width, the mean of both eyes (159-145 over 33-133, 386-374 over 362-263) - about
  0.25-0.4 open, under 0.12 shut;
* facing: where the nose tip lies between the face's left and right edges (1 between 234 and 454):
  0.5 looking straight at the camera, towards 0 or 1 turned away.

Each read face is one :attr:`~onlook.types.ObservationKind.FACE_STATE` observation; a state that
turns on (the mouth opens wide, the eyes close, the face turns to the camera) or off is also reported
as a change, once (``attrs["change"]``, ``attrs["on"]``), which is what memory keeps as a sighting and what alerts
fire on.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

import cv2
import numpy as np

from onlook.errors import ConfigError, ModelCorrupt
from onlook.types import Box, Observation, ObservationKind
from onlook.vocabulary import BodyState

__all__ = ["FaceMesh", "FaceMeshModel", "FaceStateReader", "FaceReading", "FACE_STATES"]

FACE_STATES = (BodyState.MOUTH_OPEN, BodyState.EYES_CLOSED, BodyState.FACING_CAMERA)
"""The states this module reads, in the order they are reported."""

# Landmark indices of MediaPipe's 468-point mesh (also in the model's manifest, ``landmarks``).
_LIPS = (13, 14, 78, 308)
_LEFT_EYE = (159, 145, 33, 133)
_RIGHT_EYE = (386, 374, 362, 263)
_NOSE, _FACE_L, _FACE_R = 1, 234, 454


class FaceMeshModel(Protocol):
    """A face-landmark model: a square RGB crop in, 468 points in crop pixels and a presence probability out."""

    size: int
    """Side of the square crop, pixels."""

    def predict(self, rgb: np.ndarray) -> tuple[np.ndarray, float]:
        """``rgb`` uint8 ``[size, size, 3]`` -> points ``[468, 3]`` (x, y in crop pixels) and presence 0..1."""
        ...


class FaceMesh:
    """The shipped face-mesh ONNX file, run with onnxruntime.

    Raises:
        ModelMissing: The file or its manifest is not there.
        ModelCorrupt: It does not match its manifest, or onnxruntime cannot load it.
    """

    name = "face_landmark"

    def __init__(self, directory: Path | None = None, *, threads: int = 1) -> None:
        from onlook import models

        path = models.model_file(self.name, directory)
        m = models.manifest(self.name, directory)
        try:
            self.size = int(m["inputs"][0]["shape"][1])
        except (KeyError, TypeError, ValueError, IndexError):
            raise ModelCorrupt(f"model {self.name!r}: manifest lacks inputs[0].shape") from None
        self._session = models.onnx_session(self.name, path, threads=threads, what="face state")
        self._input = self._session.get_inputs()[0].name
        outputs = [o.name for o in self._session.get_outputs()]
        if not {"landmarks", "presence"} <= set(outputs):
            raise ModelCorrupt(f"model {self.name!r}: outputs {outputs}, expected landmarks and presence")

    def predict(self, rgb: np.ndarray) -> tuple[np.ndarray, float]:
        x = (rgb.astype(np.float32) * (1.0 / 255.0))[np.newaxis]
        points, presence = self._session.run(["landmarks", "presence"], {self._input: x})
        logit = float(np.asarray(presence).ravel()[0])
        return np.asarray(points, np.float32).reshape(-1, 3), 1.0 / (1.0 + math.exp(-max(-50.0, min(50.0, logit))))


@dataclass(frozen=True, slots=True)
class FaceReading:
    """The ratios read off one face (see the module docstring for their scales)."""

    mouth: float
    eyes: float
    facing: float
    presence: float


@dataclass(slots=True)
class _Face:
    id: int
    cx: float  # crop centre and side, pixels of the analysed image
    cy: float
    side: float
    t: float
    states: dict[BodyState, bool] = field(default_factory=dict)
    last_read_t: float = 0.0


def _dist(p: np.ndarray, a: int, b: int) -> float:
    return float(np.linalg.norm(p[a, :2] - p[b, :2]))


def read_ratios(points: np.ndarray, presence: float = 1.0) -> FaceReading:
    """The mouth, eye and facing ratios of 468 mesh points (any pixel scale)."""
    mouth = _dist(points, _LIPS[0], _LIPS[1]) / max(_dist(points, _LIPS[2], _LIPS[3]), 1e-6)
    eyes = [_dist(points, e[0], e[1]) / max(_dist(points, e[2], e[3]), 1e-6) for e in (_LEFT_EYE, _RIGHT_EYE)]
    span = points[_FACE_R, 0] - points[_FACE_L, 0]
    facing = float((points[_NOSE, 0] - points[_FACE_L, 0]) / span) if abs(span) > 1e-6 else 0.5
    return FaceReading(round(mouth, 3), round(float(np.mean(eyes)), 3), round(facing, 3), round(presence, 3))


class FaceStateReader:
    """Follows faces with the face mesh and reports their state and its changes.

    Args:
        model: The landmark model (:class:`FaceMesh`, or a fake in tests).
        min_face_px: Faces whose box is shorter than this (pixels of the analysed image) are not read: below
            it the lips and lids are a pixel or two.
        mouth_open: Mouth ratio from which the mouth is "open" (wide: speech stays well below it).
        mouth_closed: Ratio under which an open mouth counts as closed again (hysteresis: no flicker).
        eyes_closed: Eye ratio under which the eyes are "closed".
        eyes_open: Ratio over which closed eyes count as open again.
        facing_within: The face looks at the camera while its facing ratio is within this of 0.5.
        min_presence: Presence under which the crop lost the face (it is dropped).
        max_faces: At most this many faces followed at once (the largest).
        crop_scale: Crop side as a multiple of the face box's side (MediaPipe's 1.5).

    Example:
        >>> class Open:  # a fake mesh: a face with a wide-open mouth, eyes open, looking at the camera
        ...     size = 192
        ...     def predict(self, rgb):
        ...         p = np.zeros((468, 3), np.float32)
        ...         p[78, 0], p[308, 0], p[13, 1], p[14, 1] = 70, 120, 100, 140       # mouth 50 wide, 40 open
        ...         p[33, 0], p[133, 0], p[159, 1], p[145, 1] = 40, 80, 60, 72       # eyes 40 wide, 12 open
        ...         p[362, 0], p[263, 0], p[386, 1], p[374, 1] = 110, 150, 60, 72
        ...         p[234, 0], p[454, 0], p[1, 0] = 30, 160, 95
        ...         return p, 0.99
        >>> face = Observation(0.0, ObservationKind.FACE, "face", 0.9, box=(0.3, 0.2, 0.6, 0.7))
        >>> obs = FaceStateReader(Open()).update(np.zeros((144, 176, 3), np.uint8), 0.0, [face])
        >>> obs[0].label, obs[0].attrs["mouth_open"], obs[0].attrs["eyes_closed"], obs[0].attrs["facing_camera"]
        ('mouth open, facing the camera', True, False, True)
    """

    def __init__(self, model: FaceMeshModel, *, min_face_px: float = 40.0, mouth_open: float = 0.35,
                 mouth_closed: float = 0.25, eyes_closed: float = 0.12, eyes_open: float = 0.17,
                 facing_within: float = 0.15, min_presence: float = 0.5, max_faces: int = 4,
                 crop_scale: float = 1.5) -> None:
        if not (0 < mouth_closed <= mouth_open and 0 < eyes_closed <= eyes_open and 0 < facing_within < 0.5):
            raise ConfigError("face state thresholds: need mouth_closed <= mouth_open, eyes_closed <= eyes_open "
                              "and 0 < facing_within < 0.5")
        self.model = model
        self.min_face_px = float(min_face_px)
        self.mouth_open, self.mouth_closed = float(mouth_open), float(mouth_closed)
        self.eyes_closed, self.eyes_open = float(eyes_closed), float(eyes_open)
        self.facing_within = float(facing_within)
        self.min_presence = float(min_presence)
        self.max_faces = int(max_faces)
        self.crop_scale = float(crop_scale)
        self._faces: list[_Face] = []
        self._next_id = 1

    def reset(self) -> None:
        """Forget every face (a cut)."""
        self._faces = []

    @property
    def following(self) -> int:
        """Faces followed now."""
        return len(self._faces)

    def update(self, image: np.ndarray, t: float, faces: list[Observation]) -> list[Observation]:
        """Read the followed faces in ``image`` (BGR) at ``t``, taking up new ones from ``faces``.

        Args:
            image: The analysed frame.
            t: Its stream time.
            faces: Face detections of this frame (may be empty: faces already followed are read anyway).

        Returns:
            One ``face_state`` observation per face read, then one per state that changed.
        """
        h, w = image.shape[:2]
        for f in faces:
            if f.box is None:
                continue
            x0, y0, x1, y1 = f.box[0] * w, f.box[1] * h, f.box[2] * w, f.box[3] * h
            side = max(x1 - x0, y1 - y0)
            if side < self.min_face_px:
                continue
            cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
            known = next((g for g in self._faces if abs(g.cx - cx) < 0.5 * g.side and abs(g.cy - cy) < 0.5 * g.side),
                         None)
            if known is None:
                self._faces.append(_Face(self._next_id, cx, cy, side * self.crop_scale, t))
                self._next_id += 1
        if len(self._faces) > self.max_faces:
            self._faces.sort(key=lambda g: -g.side)
            del self._faces[self.max_faces:]
        out: list[Observation] = []
        changes: list[Observation] = []
        kept: list[_Face] = []
        for g in self._faces:
            res = self._read(image, g)
            if res is None:
                continue
            reading, box = res
            if reading.presence < self.min_presence:
                continue
            kept.append(g)
            states = self._states(g, reading)
            on = [s for s in FACE_STATES if states[s]]
            label = ", ".join(_LABELS[s] for s in on) if on else "neutral"
            attrs = {"mouth_open": states[BodyState.MOUTH_OPEN], "eyes_closed": states[BodyState.EYES_CLOSED],
                     "facing_camera": states[BodyState.FACING_CAMERA], "mouth": reading.mouth,
                     "eyes": reading.eyes, "facing": reading.facing, "face": g.id}
            obs = Observation(t=t, kind=ObservationKind.FACE_STATE, label=label, score=reading.presence, box=box,
                              attrs=attrs)
            out.append(obs)
            for s in FACE_STATES:
                before = g.states.get(s)
                if before is not None and before != states[s]:
                    changes.append(Observation(t=t, kind=ObservationKind.FACE_STATE, label=s.value,
                                               score=reading.presence, box=box,
                                               attrs={"change": s.value, "on": states[s], "face": g.id,
                                                      "since": round(g.last_read_t, 3)}))
            g.states = states
            g.last_read_t = t
            g.t = t
        self._faces = kept
        return out + changes

    def _read(self, image: np.ndarray, g: _Face) -> tuple[FaceReading, Box] | None:
        h, w = image.shape[:2]
        n = self.model.size
        s = n / g.side
        m = np.array([[s, 0, n / 2 - g.cx * s], [0, s, n / 2 - g.cy * s]], np.float32)
        crop = cv2.warpAffine(image, m, (n, n), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT)
        points, presence = self.model.predict(cv2.cvtColor(crop, cv2.COLOR_BGR2RGB))
        if points.shape[0] < 468:
            return None
        reading = read_ratios(points, presence)
        # Follow the face: the next crop is centred on these landmarks, as wide as they are times crop_scale.
        xs = points[:, 0] / s + (g.cx - n / 2 / s)
        ys = points[:, 1] / s + (g.cy - n / 2 / s)
        x0, x1, y0, y1 = float(xs.min()), float(xs.max()), float(ys.min()), float(ys.max())
        side = max(x1 - x0, y1 - y0)
        if side >= self.min_face_px * 0.5:
            g.cx, g.cy, g.side = (x0 + x1) / 2, (y0 + y1) / 2, side * self.crop_scale
        box = (max(0.0, x0 / w), max(0.0, y0 / h), min(1.0, x1 / w), min(1.0, y1 / h))
        return reading, tuple(round(v, 4) for v in box)  # type: ignore[return-value]

    def _states(self, g: _Face, r: FaceReading) -> dict[BodyState, bool]:
        was = g.states
        mouth = r.mouth >= (self.mouth_closed if was.get(BodyState.MOUTH_OPEN) else self.mouth_open)
        eyes = r.eyes <= (self.eyes_open if was.get(BodyState.EYES_CLOSED) else self.eyes_closed)
        facing = abs(r.facing - 0.5) <= self.facing_within
        return {BodyState.MOUTH_OPEN: mouth, BodyState.EYES_CLOSED: eyes, BodyState.FACING_CAMERA: facing}


_LABELS = {BodyState.MOUTH_OPEN: "mouth open", BodyState.EYES_CLOSED: "eyes closed",
           BodyState.FACING_CAMERA: "facing the camera"}
