"""Edges and the enter / exit decisions, on hand-placed tracks."""

from __future__ import annotations

import numpy as np

from onlook.perception.people.crossing import Edges, announces_entry, exit_edge, leaving_edge, moved_in
from onlook.perception.people.state import Track

# 200 x 100 work pixels, 2 % margin: 5 px (4 + 1) at the sides, 3 px (2 + 1) at top and bottom.
EDGES = Edges(100, 200, 0.02)


def _track(box, *, vel=(0.0, 0.0), edge="inside", origin="inside", last_seen=0.0, born=0.0, **kw) -> Track:
    b = np.asarray(box, np.float64)
    return Track(1, b.copy(), born, origin, edge, b.copy(), last_seen=last_seen, vel=np.array(vel, np.float64), **kw)


def test_touch_names_the_edge_within_the_margin():
    assert EDGES.touch(np.array([5.0, 40.0, 20.0, 80.0])) == "left"
    assert EDGES.touch(np.array([6.0, 40.0, 20.0, 80.0])) is None
    assert EDGES.touch(np.array([180.0, 40.0, 195.0, 80.0])) == "right"
    assert EDGES.touch(np.array([50.0, 3.0, 60.0, 40.0])) == "top"
    assert EDGES.touch(np.array([50.0, 4.0, 60.0, 96.0])) is None
    assert EDGES.touch(np.array([50.0, 40.0, 60.0, 97.0])) == "bottom"


def test_touch_picks_the_nearest_edge_relative_to_its_margin():
    # 1 px from the left (1/5 of its margin) and 1 px from the top (1/3): left is nearer.
    assert EDGES.touch(np.array([1.0, 1.0, 20.0, 40.0])) == "left"
    assert EDGES.touch(np.array([4.0, 0.0, 20.0, 40.0])) == "top"  # 0/3 beats 4/5


def test_someone_at_an_edge_moving_out_leaves_through_it():
    tr = _track([0, 40, 12, 80], vel=(-20.0, 0.0))
    assert leaving_edge(EDGES, tr, 1.0) == "left"
    assert exit_edge(EDGES, tr, 1.0, lost_s=4.0) == "left"


def test_someone_at_an_edge_still_coming_in_has_not_left():
    # Inward speed 20 px/s against 0.3 * 40 = 12: still coming in, hidden not gone.
    tr = _track([0, 40, 12, 80], vel=(20.0, 0.0))
    assert leaving_edge(EDGES, tr, 1.0) is None
    tr.vel = np.array([11.0, 0.0])
    assert leaving_edge(EDGES, tr, 1.0) == "left"


def test_someone_vanishing_near_an_edge_is_carried_over_it_by_their_speed():
    tr = _track([180, 40, 190, 80], vel=(100.0, 0.0), last_seen=0.0)
    assert EDGES.touch(tr.box) is None
    assert leaving_edge(EDGES, tr, 0.04) is None  # 4 px on it is still 6 px from the right (margin 5)
    assert leaving_edge(EDGES, tr, 0.05) == "right"  # 5 px on it touches it
    assert leaving_edge(EDGES, tr, 0.5) == "right"
    tr.vel = np.array([1.0, 0.0])
    assert leaving_edge(EDGES, tr, 30.0) is None  # the look-ahead is capped at one second


def test_someone_lost_inside_leaves_inside_only_after_lost_s():
    tr = _track([80, 40, 92, 80], last_seen=0.0)
    assert exit_edge(EDGES, tr, 3.0, lost_s=4.0) is None
    assert exit_edge(EDGES, tr, 4.5, lost_s=4.0) == "inside"


def test_moved_in_needs_more_than_a_pixel_inwards():
    tr = _track([0, 40, 10, 80], edge="left")
    tr.box = np.array([0.0, 40.0, 11.0, 80.0])
    assert not moved_in(tr)
    tr.box = np.array([0.0, 40.0, 12.0, 80.0])
    assert moved_in(tr)
    tr.edge = "right"  # moving right is not moving in from the right
    assert not moved_in(tr)


def test_an_entry_is_announced_only_soon_after_it_was_first_seen():
    tr = _track([0, 40, 12, 80], origin="edge", edge="left", born=1.0)
    assert announces_entry(tr, 4.0, 3.0)
    assert not announces_entry(tr, 4.5, 3.0)
    assert not announces_entry(_track([0, 40, 12, 80], origin="initial"), 0.5, 3.0)


def test_a_companion_of_a_group_that_just_came_in_is_announced():
    parent = _track([0, 40, 12, 80], origin="edge", edge="left", born=1.0)
    tr = _track([14, 40, 26, 80], origin="split", edge="left", born=9.0, parent=parent)
    assert announces_entry(tr, 2.0, 3.0)
    assert not announces_entry(tr, 9.0, 3.0)  # the group came in long ago
