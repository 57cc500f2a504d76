"""Track state: the learnt height line, confirmation rules and parts of bigger people."""

from __future__ import annotations

import numpy as np
import pytest

from onlook.perception.people.crossing import Edges
from onlook.perception.people.hog import HogVerifier
from onlook.perception.people.state import HeightModel, Track, maybe_confirm, part_of_bigger, ref_size, still_there

EDGES = Edges(240, 320, 0.02)


def _track(box, **kw) -> Track:
    b = np.asarray(box, np.float64)
    kw.setdefault("last_seen", 0.0)
    return Track(1, b.copy(), 0.0, kw.pop("origin", "inside"), "inside", b.copy(), **kw)


def test_height_model_knows_nothing_from_few_samples():
    hm = HeightModel(240)
    for y in range(7):
        hm.add(100.0 + y, 40.0)
    assert hm.expected(100.0) is None


def test_height_model_fits_the_line_people_grow_along():
    hm = HeightModel(240)
    for y in range(40, 201, 10):  # 17 people, height = 0.5 * foot_y + 10
        hm.add(float(y), 0.5 * y + 10)
    assert hm.expected(100.0) == pytest.approx(60.0)
    assert hm.expected(150.0) == pytest.approx(85.0)


def test_height_model_never_lets_people_shrink_towards_the_bottom():
    hm = HeightModel(240)
    for y in range(40, 201, 10):
        hm.add(float(y), 100.0 - 0.2 * y)  # a slope no elevated camera sees: a constant instead
    median = float(np.median([100.0 - 0.2 * y for y in range(40, 201, 10)]))
    assert hm.expected(60.0) == pytest.approx(median) and hm.expected(190.0) == pytest.approx(median)


def test_ref_size_scales_a_tracks_own_size_with_the_row_it_walks_to():
    hm = HeightModel(240)
    for y in range(40, 201, 10):
        hm.add(float(y), 0.5 * y + 10)
    tr = _track([0, 60, 10, 100], size=(50.0, 20.0))  # expected 60 at row 100, itself 50 tall
    h, w = ref_size(tr, 150.0, hm)  # expected 85 at row 150: 85 / 60 bigger
    assert h == pytest.approx(50 * 85 / 60) and w == pytest.approx(20 * 85 / 60)
    tr.size = (20.0, 10.0)  # a third of the expected height: learnt half hidden, not trusted
    assert ref_size(tr, 150.0, hm) == pytest.approx((85.0, 0.38 * 85))


def test_a_small_box_inside_a_much_taller_person_is_part_of_them():
    big = _track([100, 40, 160, 200], confirmed=True)
    hand = _track([120, 90, 135, 130])
    other = _track([250, 150, 262, 186])
    tracks = [big, hand, other]
    assert part_of_bigger(hand, tracks, EDGES)
    assert not part_of_bigger(other, tracks, EDGES)
    big.confirmed = False  # only confirmed people have parts
    assert not part_of_bigger(hand, tracks, EDGES)


def _walker(**kw) -> Track:
    # 30 px tall and 10 wide (too small for HOG at scale 1), walked 20 px, seen 3 times.
    return _track([100, 100, 110, 130], **{"hits": 3, "disp": 20.0, "plausible": 1, **kw})


def _hog() -> HogVerifier:
    hog = HogVerifier()
    hog.begin(np.zeros((240, 320, 3), np.uint8), 1.0, None, (240, 320))
    return hog


def _confirm(tr: Track) -> bool:
    return maybe_confirm(tr, tracks=[tr], edges=EDGES, heights=HeightModel(240), hog=_hog(),
                         hog_threshold=-1.0, hog_veto=-2.0, min_height=0.035)


def test_someone_emerging_inside_who_walks_is_confirmed():
    tr = _walker()
    assert _confirm(tr) and tr.confirmed and tr.hog_tries == 0


def test_emerging_inside_needs_three_sightings_and_a_walk():
    assert not _confirm(_track([100, 100, 110, 130], hits=2, disp=20.0, plausible=1))
    assert not _confirm(_track([100, 100, 110, 130], hits=3, disp=10.0, plausible=1))  # under half its height


def test_something_only_seen_inside_a_bigger_moving_mass_is_not_confirmed():
    assert not _confirm(_walker(plausible=0))


def test_someone_who_stopped_is_still_there_while_their_pixels_stay():
    gray = np.full((240, 320), 100, np.uint8)
    tr = _walker()
    tr.template = gray[100:130, 100:110].copy()
    assert still_there(tr, gray, EDGES)
    gray[100:130, 100:110] = 130  # they walked off: what is there now differs by 30 grey levels
    assert not still_there(tr, gray, EDGES)
    tr.disp = 5.0  # never walked anywhere: a ghost
    assert not still_there(tr, np.full((240, 320), 100, np.uint8), EDGES)
