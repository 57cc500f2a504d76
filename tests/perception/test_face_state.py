"""Face state: the ratios, the reader's following, hysteresis and changes (fake mesh), the shipped mesh on
carphone_pristine.mp4 (mouth wide open at 1.9-2.1 s), and the model file's checks."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np
import pytest

from onlook import models
from onlook.config import Settings
from onlook.errors import ConfigError, ModelCorrupt
from onlook.perception.face_state import FaceMesh, FaceStateReader, read_ratios
from onlook.perception.pipeline import Perceiver, build_perceiver, capabilities_for
from onlook.types import Capability, Frame, Observation, ObservationKind

pytestmark = pytest.mark.timeout(120)


def _points(mouth_gap: float = 5.0, eye_gap: float = 12.0, nose_x: float = 95.0) -> np.ndarray:
    """468 mesh points of a front-facing face in a 192-pixel crop (only the points the ratios read are set)."""
    p = np.zeros((468, 3), np.float32)
    p[:, 0], p[:, 1] = 96, 96
    p[78, 0], p[308, 0], p[13, 1], p[14, 1] = 70, 120, 120, 120 + mouth_gap   # mouth 50 wide
    p[33, 0], p[133, 0], p[159, 1], p[145, 1] = 40, 80, 60, 60 + eye_gap     # eyes 40 wide
    p[362, 0], p[263, 0], p[386, 1], p[374, 1] = 110, 150, 60, 60 + eye_gap
    p[234, 0], p[454, 0], p[1, 0] = 30, 160, nose_x
    p[10], p[152] = (96, 20, 0), (96, 176, 0)  # forehead, chin: the face spans the crop
    return p


class ScriptedMesh:
    """A fake mesh: returns the scripted points (and presence) one call after another."""

    size = 192

    def __init__(self, script: list[tuple[np.ndarray, float]]) -> None:
        self.script = list(script)
        self.calls = 0

    def predict(self, rgb: np.ndarray) -> tuple[np.ndarray, float]:
        assert rgb.shape == (192, 192, 3) and rgb.dtype == np.uint8
        pts, presence = self.script[min(self.calls, len(self.script) - 1)]
        self.calls += 1
        return pts, presence


FACE = Observation(0.0, ObservationKind.FACE, "face", 0.9, box=(0.3, 0.2, 0.6, 0.7))
IMG = np.zeros((144, 176, 3), np.uint8)


def test_ratios_scale_free():
    r = read_ratios(_points(mouth_gap=30.0, eye_gap=12.0))
    assert r.mouth == pytest.approx(0.6) and r.eyes == pytest.approx(0.3) and r.facing == pytest.approx(0.5, abs=0.01)
    assert read_ratios(_points() * 3).mouth == pytest.approx(read_ratios(_points()).mouth)


def test_mouth_opening_and_closing_are_changes_once_each_with_hysteresis():
    gaps = [5, 5, 30, 20, 10, 5, 5]  # talking, wide open, still open (above the closing ratio), closed
    mesh = ScriptedMesh([(_points(mouth_gap=g), 0.99) for g in gaps])
    reader = FaceStateReader(mesh)
    changes, opened = [], []
    for i in range(len(gaps)):
        obs = reader.update(IMG, i * 0.5, [FACE] if i == 0 else [])
        opened.append(next(o for o in obs if "change" not in o.attrs).attrs["mouth_open"])
        changes += [(o.t, o.attrs["change"], o.attrs["on"], o.attrs["since"]) for o in obs if "change" in o.attrs]
    assert opened == [False, False, True, True, False, False, False]
    assert changes == [(1.0, "mouth_open", True, 0.5), (2.0, "mouth_open", False, 1.5)]


def test_closed_eyes_and_a_turned_face():
    mesh = ScriptedMesh([(_points(eye_gap=2.0, nose_x=150.0), 0.99)])
    o = FaceStateReader(mesh).update(IMG, 0.0, [FACE])[0]
    assert o.attrs["eyes_closed"] is True and o.attrs["facing_camera"] is False and o.label == "eyes closed"


def test_a_lost_face_is_dropped_and_small_faces_are_not_read():
    mesh = ScriptedMesh([(_points(), 0.99), (_points(), 0.1)])
    reader = FaceStateReader(mesh)
    assert len(reader.update(IMG, 0.0, [FACE])) == 1 and reader.following == 1
    assert reader.update(IMG, 0.5, []) == [] and reader.following == 0
    tiny = Observation(0.0, ObservationKind.FACE, "face", 0.9, box=(0.3, 0.2, 0.4, 0.3))  # 17 px
    assert reader.update(IMG, 1.0, [tiny]) == [] and mesh.calls == 2


def test_the_same_face_detected_again_is_not_a_second_face():
    mesh = ScriptedMesh([(_points(), 0.99)])
    reader = FaceStateReader(mesh)
    reader.update(IMG, 0.0, [FACE])
    reader.update(IMG, 0.5, [FACE])
    assert reader.following == 1


def test_bad_thresholds_are_a_config_error():
    with pytest.raises(ConfigError):
        FaceStateReader(ScriptedMesh([]), mouth_open=0.2, mouth_closed=0.3)


def test_face_state_is_a_capability_with_faces_and_can_be_switched_off():
    assert Capability.FACE_STATE in capabilities_for(Settings())
    assert Capability.FACE_STATE not in capabilities_for(Settings(face_state=False))
    assert Capability.FACE_STATE not in capabilities_for(Settings(detect_faces=False))


class _OneFace:
    def detect(self, image, t, rois=None):
        return [Observation(t, ObservationKind.FACE, "face", 0.9, box=(0.3, 0.2, 0.6, 0.7))]


def test_the_perceiver_reads_followed_faces_between_face_detections():
    mesh = ScriptedMesh([(_points(mouth_gap=g), 0.99) for g in (5, 5, 30, 30)])
    p = Perceiver(Settings(face_interval_s=10.0), faces=_OneFace(), face_state=FaceStateReader(mesh))
    kinds = []
    for i in range(4):
        img = np.full((144, 176, 3), 40, np.uint8)
        img[20:60, 20 + 30 * i: 60 + 30 * i] = 200  # the picture changes every frame
        a = p.analyze(Frame("s", i, i * 0.5, 0.0, img))
        kinds.append([o.attrs.get("change") for o in a.observations if o.kind == ObservationKind.FACE_STATE])
    assert mesh.calls == 4  # read on every frame though faces were detected only on the first
    assert kinds == [[None], [None], [None, "mouth_open"], [None]]
    assert Capability.FACE_STATE in p.capabilities and "face_state" in p.stage_ms()


def test_a_blink_between_analysed_frames_is_read_on_the_glances():
    # Analysed at 0.0 and 0.5; glanced every 0.1 s between. The eyes shut only at 0.2 s.
    script = [(_points(eye_gap=1.0 if t == 0.2 else 12.0), 0.99) for t in (0.0, 0.1, 0.2, 0.3, 0.4, 0.5)]
    mesh = ScriptedMesh(script)
    p = Perceiver(Settings(face_interval_s=10.0, face_state_fps=10.0), faces=_OneFace(),
                  face_state=FaceStateReader(mesh))
    assert p.glances and p.glance_fps == 10.0  # no shot detector: glances only for the faces
    assert not p.wants_whole(0.0)  # no face followed yet: glances may stay thumbnails
    p.analyze(Frame("s", 0, 0.0, 0.0, IMG))
    assert p.wants_whole(0.1)
    for i in range(1, 5):
        assert p.glance(Frame("s", i, i / 10, 0.0, IMG)) is False
    # A thumbnail is not read: too small to show a face.
    p.glance(Frame("s", 9, 0.45, 0.0, np.zeros((27, 48, 3), np.uint8), thumbnail=True))
    moved = IMG.copy()
    moved[20:60, 20:60] = 200  # the picture changed: the analysed frame reads the face too
    a = p.analyze(Frame("s", 5, 0.5, 0.0, moved))
    changes = [(o.t, o.attrs["change"], o.attrs["on"]) for o in a.observations if "change" in o.attrs]
    assert changes == [(0.2, "eyes_closed", True), (0.3, "eyes_closed", False)]
    assert mesh.calls == 6


def test_face_reads_between_frames_can_be_switched_off():
    mesh = ScriptedMesh([(_points(), 0.99)])
    p = Perceiver(Settings(face_interval_s=10.0, face_state_fps=0.0, shots="off"), faces=_OneFace(),
                  face_state=FaceStateReader(mesh))
    assert not p.glances
    p.analyze(Frame("s", 0, 0.0, 0.0, IMG))
    assert not p.wants_whole(0.1) and p.glance(Frame("s", 1, 0.1, 0.0, IMG)) is False
    assert mesh.calls == 1


def test_the_shipped_mesh_matches_its_manifest():
    m = models.manifest("face_landmark")
    assert m["licence"] == "Apache-2.0" and m["source"]["package"] == "mediapipe"
    assert models.model_file("face_landmark").stat().st_size == m["bytes"]
    mesh = FaceMesh()
    pts, presence = mesh.predict(np.zeros((192, 192, 3), np.uint8))
    assert pts.shape == (468, 3) and 0.0 <= presence <= 1.0


def test_a_corrupt_mesh_file_is_one_clear_line(tmp_path: Path):
    for f in ("face_landmark.onnx", "face_landmark.json"):
        shutil.copy(models.MODELS_DIR / f, tmp_path / f)
    with open(tmp_path / "face_landmark.onnx", "r+b") as fh:
        fh.seek(1000)
        fh.write(b"\0" * 64)
    with pytest.raises(ModelCorrupt, match="face_landmark") as e:
        FaceMesh(tmp_path)
    assert "\n" not in str(e.value)


@pytest.mark.footage
def test_carphone_mouth_wide_open_at_two_seconds_only(footage: Callable[[str], Path]):
    # carphone_pristine.mp4 (looked at, frame by frame): the man in the bow tie talks with small mouth
    # movements, opens his mouth wide at 1.87-2.17 s (frames 56-65), talks again, and opens it wide once
    # more from about 3.4 s.
    p = build_perceiver(Settings(detect_text=False, detect_objects=False))
    cap = cv2.VideoCapture(str(footage("carphone_pristine.mp4")))
    fps = cap.get(cv2.CAP_PROP_FPS)
    opened: dict[float, bool] = {}
    changes = []
    i = 0
    while True:
        ok, img = cap.read()
        if not ok or i / fps > 3.1:
            break
        frame = Frame("c", i, i / fps, 0.0, img)
        p.glance(frame)
        if i % 15 == 0:
            a = p.analyze(frame)
            for o in a.observations:
                if o.kind == ObservationKind.FACE_STATE:
                    if "change" in o.attrs:
                        changes.append((round(o.t, 1), o.attrs["change"], o.attrs["on"]))
                    else:
                        opened[round(o.t, 1)] = o.attrs["mouth_open"]
        i += 1
    cap.release()
    assert opened[2.0] is True
    assert not any(v for t, v in opened.items() if t != 2.0), opened
    # Read between analysed frames too (face_state_fps), the opening is placed within a read of when it
    # happened (1.87 s and 2.17 s), not at the next analysed frame (2.0 s and 2.5 s).
    mouth = [(t, on) for t, c, on in changes if c == "mouth_open"]
    assert len(mouth) == 2 and mouth[0][1] and not mouth[1][1], changes
    assert 1.8 <= mouth[0][0] <= 2.0 and 2.1 <= mouth[1][0] <= 2.35, changes
