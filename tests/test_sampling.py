"""Tests for onlook.sampling: the fps grid and the tile redundancy gate."""

from __future__ import annotations

import numpy as np
import pytest

from onlook.sampling import FpsSampler, GateResult, GlanceSampler, RedundancyGate, resize_for_analysis
from onlook.types import Frame

# --- FpsSampler ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fps", "pts", "expected"),
    [
        # Regular 10 Hz source sampled at 2 fps: every fifth frame (0.1 * 5 lands on the grid).
        (2.0, [i / 10 for i in range(12)],
         [True, False, False, False, False, True, False, False, False, False, True, False]),
        # Irregular timing: each grid point keeps exactly one frame, the first at or after it.
        (1.0, [0.0, 0.3, 0.99, 1.0, 1.5, 2.2, 2.9, 3.05, 3.9, 4.0],
         [True, False, False, True, False, True, False, True, False, True]),
        # A jump (outage, reconnect) keeps one frame, not a burst, and the grid stays aligned.
        (1.0, [0.0, 10.0, 10.5, 10.99, 11.0, 11.2, 12.0],
         [True, True, False, False, True, False, True]),
        # The first frame is kept wherever the stream starts; the grid starts there.
        (4.0, [7.3, 7.4, 7.55, 7.6, 7.8, 7.85],
         [True, False, True, False, True, False]),
        # Duplicate timestamps are kept once.
        (1.0, [0.0, 0.0, 1.0, 1.0], [True, False, True, False]),
    ],
    ids=["regular", "irregular", "jump", "offset-start", "duplicates"],
)
def test_fps_sampler_keeps_grid(fps: float, pts: list[float], expected: list[bool]) -> None:
    s = FpsSampler(fps)
    assert [s.keep(p) for p in pts] == expected


@pytest.mark.parametrize(
    ("fps", "error"),
    [(0.0, ValueError), (-1.0, ValueError), (0.5, None), (30.0, None)],
)
def test_fps_sampler_rejects_bad_rate(fps: float, error: type[Exception] | None) -> None:
    if error is None:
        assert FpsSampler(fps).period == pytest.approx(1 / fps)
    else:
        with pytest.raises(error):
            FpsSampler(fps)


@pytest.mark.parametrize(("src_fps", "fps", "seconds"), [(30, 10, 10), (25, 2, 20), (29.97, 1, 30)])
def test_fps_sampler_long_run_rate(src_fps: float, fps: float, seconds: int) -> None:
    s = FpsSampler(fps)
    kept = sum(s.keep(i / src_fps) for i in range(int(src_fps * seconds)))
    assert kept == pytest.approx(fps * seconds, abs=1)


def test_fps_sampler_jitter_never_bursts() -> None:
    rng = np.random.default_rng(1)
    pts = np.cumsum(rng.uniform(0.01, 0.08, size=2000))
    s = FpsSampler(2.0)
    kept = [p for p in pts if s.keep(float(p))]
    gaps = np.diff(kept)
    # Never two kept frames closer than one source step below the period.
    assert gaps.min() > 0.5 - 0.08 - 1e-9
    assert len(kept) == pytest.approx(pts[-1] * 2.0, abs=2)


def test_fps_sampler_as_iterator_wraps_frames() -> None:
    img = np.zeros((2, 2, 3), np.uint8)
    frames = [Frame("cam", i, i / 10, 0.0, img) for i in range(20)]
    kept = list(FpsSampler(2.0)(iter(frames)))
    assert [f.seq for f in kept] == [0, 5, 10, 15]


# --- RedundancyGate --------------------------------------------------------------------------

H, W, TILE = 96, 128, 16  # a 6 x 8 tile grid


@pytest.fixture
def background() -> np.ndarray:
    """A flat grey picture."""
    return np.full((H, W, 3), 100, np.uint8)


def with_square(bg: np.ndarray, x: int, y: int, size: int = TILE, value: int = 250) -> np.ndarray:
    img = bg.copy()
    img[y:y + size, x:x + size] = value
    return img


def test_first_frame_is_all_changed(background: np.ndarray) -> None:
    gate = RedundancyGate(tile=TILE)
    r = gate.update(background)
    assert r.first and not r.skip
    assert r.changed.shape == (H // TILE, W // TILE)
    assert r.changed.all() and r.changed_fraction == 1.0


def test_identical_frame_is_skipped(background: np.ndarray) -> None:
    gate = RedundancyGate(tile=TILE)
    gate.update(background)
    r = gate.update(background.copy())
    assert not r.first and r.skip
    assert r.changed_fraction == 0.0 and not r.changed.any()
    assert r.rois(background.shape) == []
    assert gate.skipped_frames == 1


def test_sensor_noise_below_threshold_is_skipped(background: np.ndarray) -> None:
    rng = np.random.default_rng(0)
    gate = RedundancyGate(tile=TILE)
    gate.update(background)
    noisy = np.clip(background.astype(int) + rng.integers(-4, 5, background.shape), 0, 255).astype(np.uint8)
    assert gate.update(noisy).skip


def test_moved_square_changes_only_its_tiles(background: np.ndarray) -> None:
    gate = RedundancyGate(tile=TILE)
    gate.update(with_square(background, 0, 0))
    r = gate.update(with_square(background, 64, 48))
    expected = np.zeros((H // TILE, W // TILE), bool)
    expected[0, 0] = True  # where the square was
    expected[3, 4] = True  # where it is now
    np.testing.assert_array_equal(r.changed, expected)
    assert r.changed_fraction == pytest.approx(2 / expected.size)
    assert not r.skip
    assert r.diff[0, 0] > gate.threshold and r.diff[1, 1] == pytest.approx(0.0)


def test_rois_cover_the_change(background: np.ndarray) -> None:
    gate = RedundancyGate(tile=TILE)
    gate.update(with_square(background, 0, 0))
    r = gate.update(with_square(background, 64, 48))
    tight = r.rois(background.shape, pad_tiles=0)
    assert sorted(tight) == [(0, 0, 16, 16), (64, 48, 80, 64)]
    padded = r.rois(background.shape)
    assert len(padded) == 2
    for x0, y0, x1, y1 in tight:
        assert any(px0 <= x0 and py0 <= y0 and px1 >= x1 and py1 >= y1 for px0, py0, px1, py1 in padded)
    for x0, y0, x1, y1 in padded:
        assert 0 <= x0 < x1 <= W and 0 <= y0 < y1 <= H


def test_neighbouring_changes_group_into_one_roi(background: np.ndarray) -> None:
    gate = RedundancyGate(tile=TILE)
    gate.update(background)
    r = gate.update(with_square(background, 32, 32, size=2 * TILE))
    assert r.changed.sum() == 4
    assert r.rois(background.shape, pad_tiles=0) == [(32, 32, 64, 64)]


def test_unanalysed_square_stays_changed_until_analysed(background: np.ndarray) -> None:
    # The reference moves only where tiles were analysed, so a square that stays put
    # after appearing is changed once, then skipped.
    gate = RedundancyGate(tile=TILE)
    gate.update(background)
    img = with_square(background, 64, 48)
    assert gate.update(img).changed.sum() == 1
    assert gate.update(img).skip


def test_slow_drift_accumulates_until_it_crosses(background: np.ndarray) -> None:
    gate = RedundancyGate(tile=TILE, threshold=12.0)
    gate.update(background)
    results = []
    for step in range(1, 6):  # +5 grey levels per frame: below threshold each step
        img = background.copy()
        img[:TILE, :TILE] = 100 + 5 * step
        results.append(bool(gate.update(img).changed[0, 0]))
    assert results == [False, False, True, False, False]


def test_min_fraction_treats_small_change_as_noise(background: np.ndarray) -> None:
    gate = RedundancyGate(tile=TILE, min_fraction=0.1)
    gate.update(background)
    assert gate.update(with_square(background, 64, 48)).skip  # 1 of 48 tiles < 10 %
    big = with_square(background, 0, 0, size=4 * TILE)  # 16 of 48 tiles
    assert gate.update(big).changed.sum() == 16


def test_force_marks_everything(background: np.ndarray) -> None:
    gate = RedundancyGate(tile=TILE)
    gate.update(background)
    r = gate.update(background, force=True)
    assert not r.first and r.changed.all() and not r.skip


def test_reset_makes_next_frame_first(background: np.ndarray) -> None:
    gate = RedundancyGate(tile=TILE)
    gate.update(background)
    gate.reset()
    r = gate.update(background)
    assert r.first and r.changed.all()
    assert gate.update(background).skip


def test_size_change_counts_as_first(background: np.ndarray) -> None:
    gate = RedundancyGate(tile=TILE)
    gate.update(background)
    assert gate.update(np.full((64, 64, 3), 100, np.uint8)).first


def test_partial_tiles_round_up() -> None:
    gate = RedundancyGate(tile=TILE)
    r = gate.update(np.zeros((H + 5, W + 9, 3), np.uint8))
    assert r.changed.shape == (H // TILE + 1, W // TILE + 1)


def test_grey_input_is_accepted(background: np.ndarray) -> None:
    gate = RedundancyGate(tile=TILE)
    grey = background[..., 0].copy()
    gate.update(grey)
    assert gate.update(grey).skip


def test_skipped_area_fraction(background: np.ndarray) -> None:
    gate = RedundancyGate(tile=TILE)
    assert gate.skipped_area_fraction == 0.0  # nothing sampled yet
    gate.update(with_square(background, 0, 0))  # first: all analysed
    gate.update(with_square(background, 0, 0))  # skipped
    gate.update(with_square(background, 64, 48))  # 2 of 48 tiles
    gate.update(with_square(background, 64, 48))  # skipped
    assert gate.frames == 4 and gate.skipped_frames == 2
    assert gate.skipped_area_fraction == pytest.approx(1 - (1 + 0 + 2 / 48 + 0) / 4)


def test_gate_result_skip_property() -> None:
    grid = np.zeros((2, 2), bool)
    assert GateResult(grid, grid.astype(np.float32), 8, 0.0).skip
    assert not GateResult(grid, grid.astype(np.float32), 8, 0.0, first=True).skip


@pytest.mark.parametrize(
    ("shape", "max_width", "expected"),
    [((480, 640, 3), 320, (240, 320, 3)), ((48, 64, 3), 320, (48, 64, 3)), ((10, 1000, 3), 100, (1, 100, 3))],
)
def test_resize_for_analysis_never_upscales(shape: tuple, max_width: int, expected: tuple) -> None:
    assert resize_for_analysis(np.zeros(shape, np.uint8), max_width).shape == expected


def test_glances_never_move_which_frames_are_analysed():
    from onlook.sampling import FrameRole, GlanceSampler

    rng = np.random.default_rng(1)
    pts = np.cumsum(rng.uniform(0.01, 0.09, 400))  # irregular timing, about 20 fps
    alone, both = FpsSampler(2.0), GlanceSampler(2.0, 12.5)
    roles = [both.classify(float(t)) for t in pts]
    assert [alone.keep(float(t)) for t in pts] == [r is FrameRole.ANALYSE for r in roles]
    glances = sum(r is FrameRole.GLANCE for r in roles)
    span = pts[-1] - pts[0]
    assert 9.0 * span < glances <= 12.5 * span + 1  # the glance grid; analysed frames come on top
    # not above the analysis rate: no glances at all
    assert all(GlanceSampler(2.0, 2.0).classify(float(t)) is not FrameRole.GLANCE for t in pts)


def test_glanced_frames_may_come_as_thumbnails_unless_asked_for_whole() -> None:
    s = GlanceSampler(2.0, 10.0, glance_size=(48, 27))
    sizes = []
    for k in range(6):
        assert s.keep(k / 10)
        sizes.append(s.thumb())
    assert sizes == [None, (48, 27), (48, 27), (48, 27), (48, 27), None]  # analysed frames come whole
    s.keep(0.6)
    s.full_next()
    assert s.keep(0.7) and s.thumb() is None  # asked for: the next kept frame is whole...
    assert s.keep(0.8) and s.thumb() == (48, 27)  # ...and only that one
    s.full_next()
    assert s.keep(0.9) and s.thumb() is None  # a glance asked for whole
    s.full_next()
    assert s.keep(1.0) and s.thumb() is None  # an analysed frame answers the request too...
    assert s.keep(1.1) and s.thumb() == (48, 27)  # ...so the glance after it is a thumbnail again
    s.whole_from = 1.15
    assert s.keep(1.2) and s.thumb() is None  # a file's last seconds come whole
    assert GlanceSampler(2.0, 10.0).keep(0.1) and GlanceSampler(2.0, 10.0).thumb() is None  # no size: whole


def test_the_perceiver_may_ask_for_glanced_frames_whole() -> None:
    s = GlanceSampler(2.0, 10.0, glance_size=(48, 27))
    asked: list[float] = []
    s.whole = lambda pts: asked.append(pts) or pts >= 0.3  # a face is followed from 0.3 s on
    sizes = []
    for k in range(6):
        assert s.keep(k / 10)
        sizes.append(s.thumb())
    assert sizes == [None, (48, 27), (48, 27), None, None, None]
    assert asked == [0.1, 0.2, 0.3, 0.4]  # asked about glances only


def test_the_glance_rate_is_known_before_the_perceiver_is_built() -> None:
    from onlook.config import Settings
    from onlook.perception.pipeline import glance_fps_for

    assert glance_fps_for(Settings()) == Settings().perception.shot_fps  # the shot model glances
    assert glance_fps_for(Settings(shots="off")) == 8.0  # only faces are read between analysed frames
    assert glance_fps_for(Settings(shots="off", face_state_fps=0.0)) is None
    assert glance_fps_for(Settings(shots="off", detect_faces=False)) is None
