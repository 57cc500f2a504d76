"""Association: gating, cutting wide blobs, absorbing pieces."""

from __future__ import annotations

import numpy as np

from onlook.perception.people.association import Associator, split_wide
from onlook.perception.people.crossing import Edges
from onlook.perception.people.state import Blob, HeightModel, Track


def _assoc() -> Associator:
    return Associator(Edges(240, 320, 0.02), HeightModel(240), lost_s=4.0)


def _track(box, **kw) -> Track:
    b = np.asarray(box, np.float64)
    return Track(1, b.copy(), 0.0, "inside", "inside", b.copy(), last_seen=kw.pop("last_seen", 10.0), **kw)


def test_cost_is_lowest_for_the_predicted_box_and_gates_far_blobs_out():
    a = _assoc()
    tr = _track([100, 100, 110, 130], confirmed=True)
    p = tr.box.copy()
    assert a.cost(tr, p, p.copy(), 10.0) == -1.0  # no distance, no size change, full overlap
    # 0.5 heights away, no overlap: the distance is the cost.
    assert a.cost(tr, p, p + np.array([15.0, 0, 15.0, 0]), 10.0) == 0.5
    assert a.cost(tr, p, p + np.array([30.0, 0, 30.0, 0]), 10.0) is None  # 1 height > 0.8: gated
    tr.last_seen = 9.0  # lost a second: the gate widens to 1.4 heights
    assert a.cost(tr, p, p + np.array([30.0, 0, 30.0, 0]), 10.0) == 1.0


def test_cost_rejects_a_blob_of_another_size():
    a = _assoc()
    tr = _track([100, 100, 110, 130], confirmed=True)
    tall = np.array([100.0, 30.0, 110.0, 130.0])  # 100 / 30 tall: over 3 times
    assert a.cost(tr, tr.box.copy(), tall, 10.0) is None


def test_split_wide_cuts_at_a_deep_valley_between_two_people():
    mask = np.zeros((30, 26), bool)
    mask[:, 0:10] = True
    mask[:, 16:26] = True
    pieces = split_wide(Blob(np.array([50.0, 20.0, 76.0, 50.0]), mask), 30.0)
    assert [q.box.tolist() for q in pieces] == [[50.0, 20.0, 60.0, 50.0], [66.0, 20.0, 76.0, 50.0]]


def test_split_wide_leaves_one_solid_body_whole():
    mask = np.ones((30, 26), bool)
    b = Blob(np.array([50.0, 20.0, 76.0, 50.0]), mask)
    assert split_wide(b, 30.0) == [b]


def test_a_speck_next_to_someone_is_absorbed_as_noise():
    a = _assoc()
    tr = _track([100, 100, 110, 130])
    speck = Blob(np.array([112.0, 110.0, 114.0, 112.0]), np.ones((2, 2), bool))
    far = Blob(np.array([200.0, 110.0, 202.0, 112.0]), np.ones((2, 2), bool))
    assert a.absorb(speck, [tr], [tr.box.copy()], {})
    assert not a.absorb(far, [tr], [tr.box.copy()], {})


def test_a_piece_of_someone_joins_their_box():
    a = _assoc()
    tr = _track([100, 100, 110, 130])
    head = Blob(np.array([101.0, 96.0, 109.0, 101.0]), np.ones((5, 8), bool))
    meas = {0: np.array([100.0, 100.0, 110.0, 130.0])}
    assert a.absorb(head, [tr], [tr.box.copy()], meas)
    assert meas[0].tolist() == [100.0, 96.0, 110.0, 130.0]
