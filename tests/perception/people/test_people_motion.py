"""Motion model: foot points, prediction, speed, and boxes fitted into small hand-made masks."""

from __future__ import annotations

import numpy as np
import pytest

from onlook.perception.people.motion import anchor, fit_box, paste, predict, share, tight, update_velocity
from onlook.perception.people.state import Blob, Track


def _track(box, **kw) -> Track:
    b = np.asarray(box, np.float64)
    return Track(1, b.copy(), 0.0, "inside", "inside", b.copy(), last_seen=0.0, **kw)


def test_anchor_is_the_foot_point_or_the_side_an_edge_does_not_cut():
    box = np.array([10.0, 20.0, 30.0, 60.0])
    assert anchor(box, None).tolist() == [20.0, 60.0]
    assert anchor(box, "top").tolist() == [20.0, 60.0]
    assert anchor(box, "right").tolist() == [10.0, 60.0]  # cut on the right: its left side is real
    assert anchor(box, "left").tolist() == [30.0, 60.0]
    assert anchor(box, "bottom").tolist() == [20.0, 20.0]  # feet hidden: follow the head


def test_predict_moves_by_speed_and_damps_lost_tracks():
    tr = _track([0, 0, 10, 20], vel=np.array([10.0, -4.0]))
    assert predict(tr, 0.5).tolist() == [5.0, -2.0, 15.0, 18.0]
    tr.misses = 2  # 0.7 ** 2 of the speed is left
    assert predict(tr, 0.5) == pytest.approx([2.45, -0.98, 12.45, 19.02])
    tr.misses = 50  # the damping stops after six misses
    assert predict(tr, 1.0) == pytest.approx([10 * 0.7**6, -4 * 0.7**6, 10 + 10 * 0.7**6, 20 - 4 * 0.7**6])


def test_update_velocity_takes_the_first_speed_then_averages():
    tr = _track([0, 0, 10, 20])
    tr.last_seen = 1.0
    update_velocity(tr, np.array([4.0, 0.0, 14.0, 20.0]), None, 2.0, 0.5)
    assert tr.vel.tolist() == [4.0, 0.0]
    tr.hits, tr.box = 2, np.array([4.0, 0.0, 14.0, 20.0])
    update_velocity(tr, np.array([4.0, 2.0, 14.0, 22.0]), None, 2.0, 0.5)  # 2 px down in a 1 s gap
    assert tr.vel.tolist() == [2.0, 1.0]


def test_update_velocity_uses_the_frame_step_when_seen_just_now():
    tr = _track([0, 0, 10, 20])
    tr.last_seen = 2.0
    update_velocity(tr, np.array([1.0, 0.0, 11.0, 20.0]), None, 2.0, 0.5)
    assert tr.vel.tolist() == [2.0, 0.0]  # 1 px over dt = 0.5 s


def _block(h=20, w=20, rows=(4, 16), cols=(6, 11)) -> np.ndarray:
    m = np.zeros((h, w), bool)
    m[rows[0]:rows[1], cols[0]:cols[1]] = True
    return m


def test_fit_box_snaps_to_the_pixels_near_the_prediction():
    m = _block()
    assert fit_box(m, np.array([6.0, 4.0, 11.0, 16.0]), 12.0, 5.0) == (6, 4, 11, 16)
    # Two pixels off to the right: a full box two pixels away beats a 4/5 box one pixel away.
    assert fit_box(m, np.array([8.0, 4.0, 13.0, 16.0]), 12.0, 5.0) == (6, 4, 11, 16)


def test_fit_box_finds_nothing_in_an_empty_mask():
    assert fit_box(np.zeros((20, 20), bool), np.array([6.0, 4.0, 11.0, 16.0]), 12.0, 5.0) is None


def test_tight_is_the_bounding_box_with_exclusive_ends():
    m = np.zeros((5, 6), bool)
    m[1, 2] = m[3, 4] = True
    assert tight(m).tolist() == [2.0, 1.0, 5.0, 4.0]


def test_share_gives_each_of_two_side_by_side_people_their_own_pixels():
    m = np.zeros((40, 40), bool)
    m[10:30, 5:15] = True
    m[10:30, 25:35] = True
    a, b = np.array([5.0, 10.0, 15.0, 30.0]), np.array([25.0, 10.0, 35.0, 30.0])
    out, rest = share(m, [a, b], [(20.0, 10.0), (20.0, 10.0)], [1.2, 1.2])
    assert out[0] is not None and out[1] is not None
    assert out[0].tolist() == a.tolist() and out[1].tolist() == b.tolist()
    assert not rest.any()


def test_share_reports_someone_fully_behind_another_as_hidden_and_leaves_the_rest():
    m = np.zeros((40, 60), bool)
    m[10:30, 5:15] = True
    m[10:30, 45:55] = True  # nobody's: far from both boxes
    # Both predicted where the pixels' middle is (9.5, 19.5), so neither box moves.
    a = np.array([4.5, 9.5, 14.5, 29.5])
    out, rest = share(m, [a, a.copy()], [(20.0, 10.0), (20.0, 10.0)], [1.2, 1.2])
    assert out[0] is not None and out[0].tolist() == [5.0, 10.0, 15.0, 30.0]
    assert out[1] is None  # ties go to the first: the second shows no pixel of its own
    assert rest[10:30, 45:55].all() and not rest[:, :40].any()


def test_paste_puts_two_blobs_into_their_union_box():
    a = Blob(np.array([2.0, 3.0, 4.0, 5.0]), np.ones((2, 2), bool))
    b = Blob(np.array([5.0, 6.0, 6.0, 7.0]), np.ones((1, 1), bool))
    m = paste(a, b, np.array([2.0, 3.0, 6.0, 7.0]))
    assert m.shape == (4, 4)
    assert m.sum() == 5 and m[0:2, 0:2].all() and m[3, 3]
