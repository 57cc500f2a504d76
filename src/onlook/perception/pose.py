"""Body pose: standing, sitting, lying, an arm raised, from the shipped BlazePose model (``pose_landmark``).

Each tracked person tall enough in the picture is cropped (a square 1.25x the longer side of their box) and
read by MediaPipe's full pose landmark model, converted to ONNX. From the 33 landmarks that are visible:

* **lying**: the torso (mid-shoulders to mid-hips) is closer to horizontal than to vertical;
* **sitting**: the torso is upright and a thigh (hip to knee) is closer to horizontal than to vertical;
* **standing**: the torso and both thighs are upright;
* **arm raised**: a wrist is above the shoulders.

A posture that the visible points do not settle (the legs are hidden, a close-up) is not reported. As with
face state, each read person is one :attr:`~onlook.types.ObservationKind.POSE` observation (``label``: the
posture), and a state that turns on or off is also a change (``attrs["change"]``, ``attrs["on"]``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

import cv2
import numpy as np

from onlook.errors import ConfigError, ModelCorrupt
from onlook.types import Observation, ObservationKind
from onlook.vocabulary import BodyState

__all__ = ["PoseModel", "PoseLandmarks", "PoseReader", "posture", "POSE_STATES"]

POSE_STATES = (BodyState.STANDING, BodyState.SITTING, BodyState.LYING, BodyState.ARM_RAISED)
"""The states this module reads."""

_NOSE, _L_SH, _R_SH, _L_WR, _R_WR, _L_HIP, _R_HIP, _L_KNEE, _R_KNEE = 0, 11, 12, 15, 16, 23, 24, 25, 26


class PoseModel(Protocol):
    """A pose model: a square RGB crop in; 33 points ``[33, 4]`` (x, y in crop pixels, z, visibility 0..1) and
    the probability that a person fills the crop out."""

    size: int

    def predict(self, rgb: np.ndarray) -> tuple[np.ndarray, float]: ...


class PoseLandmarks:
    """The shipped pose-landmark ONNX file, run with onnxruntime.

    Raises:
        ModelMissing: The file or its manifest is not there.
        ModelCorrupt: It does not match its manifest, or onnxruntime cannot load it.
    """

    name = "pose_landmark"

    def __init__(self, directory: Path | None = None, *, threads: int = 2) -> None:
        from onlook import models

        path = models.model_file(self.name, directory)
        m = models.manifest(self.name, directory)
        try:
            self.size = int(m["inputs"][0]["shape"][1])
        except (KeyError, TypeError, ValueError, IndexError):
            raise ModelCorrupt(f"model {self.name!r}: manifest lacks inputs[0].shape") from None
        self._session = models.onnx_session(self.name, path, threads=threads, what="body pose")
        self._input = self._session.get_inputs()[0].name
        outputs = [o.name for o in self._session.get_outputs()]
        if not {"landmarks", "presence"} <= set(outputs):
            raise ModelCorrupt(f"model {self.name!r}: outputs {outputs}, expected landmarks and presence")

    def predict(self, rgb: np.ndarray) -> tuple[np.ndarray, float]:
        x = (rgb.astype(np.float32) * (1.0 / 255.0))[np.newaxis]
        lm, presence = self._session.run(["landmarks", "presence"], {self._input: x})
        pts = np.asarray(lm, np.float32).reshape(-1, 5)[:33]
        vis = 1.0 / (1.0 + np.exp(-np.clip(pts[:, 3], -50.0, 50.0)))
        return np.concatenate([pts[:, :3], vis[:, None]], axis=1), float(np.asarray(presence).ravel()[0])


def _tilt(a: np.ndarray, b: np.ndarray) -> float:
    """Degrees between the segment a->b and the vertical (0: upright, 90: horizontal)."""
    dx, dy = float(b[0] - a[0]), float(b[1] - a[1])
    return math.degrees(math.atan2(abs(dx), abs(dy) + 1e-9))


def posture(points: np.ndarray, min_visibility: float = 0.5) -> tuple[BodyState | None, bool]:
    """The posture (standing / sitting / lying, or None when the points do not settle it) and whether an arm
    is raised, from 33 pose points ``[33, 4]`` (x, y, z, visibility).

    Example:
        >>> p = np.zeros((33, 4), np.float32); p[:, 3] = 1.0
        >>> p[[11, 12], :2] = [[90, 60], [110, 60]]; p[[23, 24], :2] = [[92, 120], [108, 120]]
        >>> p[[25, 26], :2] = [[92, 170], [108, 170]]; p[[15, 16], :2] = [[80, 110], [120, 110]]
        >>> posture(p)
        (<BodyState.STANDING: 'standing'>, False)
        >>> p[[25, 26], :2] = [[140, 125], [150, 128]]  # thighs forward: sitting
        >>> p[15, :2] = [70, 30]                        # and a wrist above the shoulders
        >>> posture(p)
        (<BodyState.SITTING: 'sitting'>, True)
    """
    vis = points[:, 3] >= min_visibility
    if not (vis[_L_SH] and vis[_R_SH] and vis[_L_HIP] and vis[_R_HIP]):
        return None, False
    sh = (points[_L_SH, :2] + points[_R_SH, :2]) / 2
    hip = (points[_L_HIP, :2] + points[_R_HIP, :2]) / 2
    raised = any(vis[w] and points[w, 1] < min(points[_L_SH, 1], points[_R_SH, 1]) for w in (_L_WR, _R_WR))
    torso = _tilt(sh, hip)
    if torso > 60:
        return BodyState.LYING, raised
    thighs = [_tilt(points[h, :2], points[k, :2]) for h, k in ((_L_HIP, _L_KNEE), (_R_HIP, _R_KNEE))
              if vis[h] and vis[k]]
    if not thighs or torso > 35:
        return None, raised
    if max(thighs) > 55:
        return BodyState.SITTING, raised
    if max(thighs) < 35:
        return BodyState.STANDING, raised
    return None, raised


@dataclass(slots=True)
class _Seen:
    states: dict[BodyState, bool] = field(default_factory=dict)
    t: float = 0.0


class PoseReader:
    """Reads the pose of tracked people big enough to show it, and reports changes.

    Args:
        model: The pose model (:class:`PoseLandmarks`, or a fake in tests).
        min_person_px: People shorter than this (pixels of the analysed image) are not read.
        min_presence: Crops the model says hold no person are skipped.
        max_people: At most this many people read per frame (the tallest).
        crop_scale: Crop side as a multiple of the person box's longer side.
    """

    def __init__(self, model: PoseModel, *, min_person_px: float = 96.0, min_presence: float = 0.5,
                 max_people: int = 2, crop_scale: float = 1.25) -> None:
        if min_person_px <= 0 or not 0 < min_presence < 1 or max_people < 1:
            raise ConfigError("pose: min_person_px > 0, 0 < min_presence < 1 and max_people >= 1 are needed")
        self.model = model
        self.min_person_px = float(min_person_px)
        self.min_presence = float(min_presence)
        self.max_people = int(max_people)
        self.crop_scale = float(crop_scale)
        self._seen: dict[int, _Seen] = {}

    def reset(self) -> None:
        """Forget every person's last pose (a cut)."""
        self._seen = {}

    def update(self, image: np.ndarray, t: float, people: list[Observation]) -> list[Observation]:
        """Read the pose of ``people`` (person observations of this frame) in ``image`` (BGR) at ``t``."""
        h, w = image.shape[:2]
        tall = [p for p in people if p.box is not None and (p.box[3] - p.box[1]) * h >= self.min_person_px]
        tall.sort(key=lambda p: -(p.box[3] - p.box[1]))  # type: ignore[index]
        out: list[Observation] = []
        changes: list[Observation] = []
        n = self.model.size
        for p in tall[:self.max_people]:
            assert p.box is not None
            x0, y0, x1, y1 = p.box[0] * w, p.box[1] * h, p.box[2] * w, p.box[3] * h
            cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
            s = n / (self.crop_scale * max(x1 - x0, y1 - y0))
            m = np.array([[s, 0, n / 2 - cx * s], [0, s, n / 2 - cy * s]], np.float32)
            crop = cv2.warpAffine(image, m, (n, n), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT)
            points, presence = self.model.predict(cv2.cvtColor(crop, cv2.COLOR_BGR2RGB))
            if presence < self.min_presence:
                continue
            pose, raised = posture(points)
            states = {BodyState.ARM_RAISED: raised}
            if pose is not None:
                states.update({st: st == pose for st in (BodyState.STANDING, BodyState.SITTING, BodyState.LYING)})
            attrs = {st.value: v for st, v in states.items()} | {"person": p.track_id}
            label = (pose.value if pose is not None else "unknown") + (", arm raised" if raised else "")
            out.append(Observation(t=t, kind=ObservationKind.POSE, label=label, score=round(presence, 3), box=p.box,
                                   track_id=p.track_id, attrs=attrs))
            key = p.track_id if p.track_id is not None else -1
            seen = self._seen.setdefault(key, _Seen(t=t))
            for st, v in states.items():
                before = seen.states.get(st)
                if before is not None and before != v:
                    changes.append(Observation(t=t, kind=ObservationKind.POSE, label=st.value, score=round(presence, 3),
                                               box=p.box, track_id=p.track_id,
                                               attrs={"change": st.value, "on": v, "person": p.track_id,
                                                      "since": round(seen.t, 3)}))
            seen.states.update(states)
            seen.t = t
        if len(self._seen) > 256:  # people long gone
            live = {p.track_id for p in people}
            self._seen = {k: v for k, v in self._seen.items() if k in live}
        return out + changes
