"""Objects: decoding and NMS with a fake model, the tracker's stages and events, the shipped SSD on real frames."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np
import pytest
from fake_models import BoxModel, read_frame

from onlook import models
from onlook.config import Settings
from onlook.errors import ModelCorrupt, ModelMissing
from onlook.perception.objects import CocoSSD, Detection, ObjectDetector, ObjectTracker, nms
from onlook.perception.pipeline import Perceiver, capabilities_for
from onlook.types import Capability, Frame, ObservationKind
from onlook.vocabulary import Label

pytestmark = pytest.mark.timeout(120)


def test_detector_keeps_the_best_class_per_box_and_suppresses_overlaps_per_class():
    labels = [Label.PERSON, Label.CAR, None, Label.DOG]
    model = BoxModel(labels, [
        ((0.1, 0.1, 0.5, 0.5), [0.0, 0.9, 0.95, 0.1]),   # the unused column is ignored: a car
        ((0.1, 0.12, 0.5, 0.52), [0.0, 0.8, 0.0, 0.0]),  # the same car again: suppressed
        ((0.1, 0.12, 0.5, 0.52), [0.0, 0.0, 0.0, 0.6]),  # a dog in the same place: another class, kept
        ((0.6, 0.6, 0.9, 0.9), [0.99, 0.0, 0.0, 0.0]),   # a person: left to the people tracker
        ((0.6, 0.0, 0.9, 0.3), [0.0, 0.1, 0.0, 0.2]),    # below min_score
        ((-0.1, 0.8, 0.3, 1.2), [0.0, 0.7, 0.0, 0.0]),   # off the frame: clipped
    ])
    det = ObjectDetector(model)
    found = det.detect(np.zeros((240, 320, 3), np.uint8))
    assert [(d.label, d.score) for d in found] == [(Label.CAR, 0.9), (Label.CAR, 0.7), (Label.DOG, 0.6)]
    assert found[0].box == pytest.approx((0.1, 0.1, 0.5, 0.5))
    assert found[1].box == pytest.approx((0.8, 0.0, 1.0, 0.3))
    assert model.seen[0].shape == (300, 300, 3) and model.seen[0].dtype == np.uint8


def test_the_detector_gives_the_model_rgb():
    model = BoxModel([Label.CAR], [])
    img = np.zeros((60, 80, 3), np.uint8)
    img[..., 0] = 200  # blue in BGR
    assert ObjectDetector(model).detect(img) == []
    assert model.seen[0][..., 2].mean() == pytest.approx(200) and model.seen[0][..., 0].max() == 0


def test_nms_keeps_separate_boxes():
    boxes = np.array([[0, 0, 1, 1], [0.05, 0, 1, 1], [0.5, 0.5, 1.5, 1.5]], float)
    assert nms(boxes, np.array([0.5, 0.9, 0.8]), 0.5) == [1, 2]


def _d(label: Label, score: float, box) -> Detection:
    return Detection(label, score, tuple(box))


def test_an_object_moving_in_from_the_edge_appears_once_then_disappears_after_lost_s():
    tr = ObjectTracker(warmup_s=1.0, lost_s=2.0)
    assert tr.update([], 0.0).events == []
    events = []
    for i in range(6):
        x = 0.0 + 0.05 * i
        res = tr.update([_d(Label.CAR, 0.6, (x, 0.4, x + 0.3, 0.7))], 1.0 + 0.5 * i)
        events += res.events
        if i >= 1:
            assert [o.label for o in res.objects] == ["car"] and res.objects[0].track_id == 1
    assert [(e.kind, e.label, e.attrs["edge"]) for e in events] == [(ObservationKind.APPEAR, "car", "left")]
    assert events[0].t == 1.5 and events[0].attrs["first_seen"] == 1.0
    assert tr.update([], 5.0).events == []  # unseen 1.5 s: lost, not gone
    gone = tr.update([], 6.0).events
    assert [(e.kind, e.label, e.track_id) for e in gone] == [(ObservationKind.DISAPPEAR, "car", 1)]
    assert gone[0].attrs["dwell_s"] == 2.5 and gone[0].attrs["edge"] == "inside"


def test_objects_present_at_the_start_or_after_a_cut_were_already_there():
    tr = ObjectTracker(warmup_s=2.0)
    dog = [_d(Label.DOG, 0.8, (0.4, 0.4, 0.6, 0.8))]
    assert all(tr.update(dog, t).events == [] for t in (0.0, 0.5, 1.0))
    assert len(tr.update(dog, 1.5).objects) == 1
    res = tr.update([_d(Label.CAT, 0.8, (0.1, 0.1, 0.3, 0.3))], 10.0, scene_cut=True)
    assert res.events == [] and tr.tracks == 1  # the dog's track went with the cut, silently


def test_one_doubtful_detection_neither_starts_a_track_nor_confirms_one():
    tr = ObjectTracker(warmup_s=0.0)
    for t in (0.0, 0.5, 1.0):
        res = tr.update([_d(Label.BOTTLE, 0.3, (0.2, 0.2, 0.3, 0.4))], t)
        assert res.objects == [] and res.events == []
    assert tr.tracks == 0


def test_a_doubtful_detection_keeps_a_seen_track_on_its_path():
    tr = ObjectTracker(warmup_s=0.0, lost_s=1.0)
    box = (0.2, 0.2, 0.4, 0.6)
    tr.update([_d(Label.DOG, 0.8, box)], 0.0)
    tr.update([_d(Label.DOG, 0.8, box)], 0.5)
    for t in (1.0, 1.5, 2.0, 2.5):  # half hidden: the model is unsure, the track carries on
        res = tr.update([_d(Label.DOG, 0.3, box)], t)
        assert [o.track_id for o in res.objects] == [1] and res.events == []


def test_a_track_carries_on_across_confusable_classes_and_reports_the_most_frequent():
    tr = ObjectTracker(warmup_s=0.0)
    box = (0.3, 0.3, 0.6, 0.6)
    for t, lab in ((0.0, Label.CAR), (0.5, Label.TRUCK), (1.0, Label.CAR), (1.5, Label.CAR)):
        res = tr.update([_d(lab, 0.6, box)], t)
    assert tr.tracks == 1 and [o.label for o in res.objects] == ["car"]
    res = tr.update([_d(Label.DOG, 0.6, box)], 2.0)  # not a vehicle: a new track
    assert tr.tracks == 2


def test_tentative_flicker_at_a_low_rate_still_confirms():
    tr = ObjectTracker(warmup_s=0.0)
    bike = [_d(Label.BICYCLE, 0.5, (0.4, 0.5, 0.6, 0.9))]
    assert tr.update(bike, 0.0).objects == []
    assert tr.update([], 0.5).objects == []  # missed once
    assert [o.label for o in tr.update(bike, 1.0).objects] == ["bicycle"]


def test_held_objects_are_reported_while_the_picture_stands_still():
    tr = ObjectTracker(warmup_s=0.0, lost_s=2.0)
    car = [_d(Label.CAR, 0.9, (0.1, 0.5, 0.4, 0.8))]
    tr.update(car, 0.0)
    tr.update(car, 0.5)
    for t in np.arange(1.0, 30.0, 0.5):  # nothing changed for half a minute: the parked car is still there
        res = tr.current(float(t), unchanged=True)
        assert [o.label for o in res.objects] == ["car"] and res.events == []
    assert res.objects[0].attrs["stationary"] is True


def test_the_perceiver_runs_objects_on_a_schedule_and_keeps_them_between_runs():
    model = BoxModel([Label.CAR], [((0.4, 0.1, 0.8, 0.5), [0.9])])
    p = Perceiver(Settings(object_interval_s=1.0), objects=ObjectDetector(model))
    counts = []
    for i in range(8):
        img = np.full((120, 160, 3), 60, np.uint8)
        img[40:80, 10 + 15 * i: 40 + 15 * i] = 230  # something moves every frame
        a = p.analyze(Frame(image=img, pts=i * 0.5, seq=i, wall=0.0, stream_id="s"))
        counts.append(sum(1 for o in a.observations if o.kind == ObservationKind.OBJECT))
    assert len(model.seen) == 4  # at 0, 1, 2, 3 s
    assert counts == [1] * 8
    cars = [o for o in a.observations if o.kind == ObservationKind.OBJECT]
    assert cars[0].attrs["region"] == "middle left" and "colors" in cars[0].attrs
    assert Capability.OBJECTS in p.capabilities


def test_objects_can_be_switched_off():
    assert Capability.OBJECTS not in capabilities_for(Settings(detect_objects=False))
    assert Capability.OBJECTS in capabilities_for(Settings())


# ---------------------------------------------------------------- the shipped model


def test_the_shipped_model_matches_its_manifest():
    m = models.manifest("coco_ssd")
    assert m["licence"].startswith("Apache-2.0")
    assert len(m["labels"]) == 90 and sum(v is not None for v in m["labels"]) == 80
    assert {Label(v) for v in m["labels"] if v is not None} | {Label.PERSON} >= {Label.CAR, Label.DOG, Label.TIE}
    assert models.model_file("coco_ssd").stat().st_size == m["bytes"]


def test_a_corrupt_or_missing_model_is_one_clear_line(tmp_path: Path):
    src = models.model_file("coco_ssd").parent
    with pytest.raises(ModelMissing):
        CocoSSD(tmp_path)
    shutil.copy(src / "coco_ssd.json", tmp_path / "coco_ssd.json")
    (tmp_path / "coco_ssd.onnx").write_bytes(b"not a model")
    with pytest.raises(ModelCorrupt) as e:
        CocoSSD(tmp_path)
    assert "\n" not in str(e.value)
    m = json.loads((src / "coco_ssd.json").read_text())
    m["labels"][0] = "spaceship"
    shutil.copy(src / "coco_ssd.onnx", tmp_path / "coco_ssd.onnx")
    (tmp_path / "coco_ssd.json").write_text(json.dumps(m))
    with pytest.raises(ModelCorrupt, match="spaceship"):
        CocoSSD(tmp_path)


@pytest.fixture(scope="module")
def coco() -> ObjectDetector:
    return ObjectDetector(CocoSSD(), exclude=frozenset())


@pytest.mark.footage
def test_vtest_shows_people_and_the_two_parked_cars(footage: Callable[[str], Path], coco: ObjectDetector):
    # Frame 100 (10 s) of vtest.avi, looked at: pedestrians on the plaza, a white van and a car parked at
    # the top right.
    found = [d for d in coco.detect(read_frame(footage("vtest.avi"), 100)) if d.score >= 0.4]
    cars = [d for d in found if d.label is Label.CAR]
    assert len(cars) == 2
    for c in cars:  # both up in the top-right corner
        assert (c.box[0] + c.box[2]) / 2 > 0.75 and (c.box[1] + c.box[3]) / 2 < 0.25
    assert sum(d.label is Label.PERSON for d in found) >= 2


@pytest.mark.footage
def test_bikes_shows_the_cyclist_and_the_bicycle(footage: Callable[[str], Path], coco: ObjectDetector):
    # Frame 120 (4.8 s) of bikes.mp4: a cyclist riding across the middle of the picture.
    found = coco.detect(read_frame(footage("bikes.mp4"), 120))
    person = next(d for d in found if d.label is Label.PERSON)
    bike = next(d for d in found if d.label is Label.BICYCLE)
    assert person.score >= 0.6 and bike.score >= 0.4
    # the bicycle is under the rider
    assert (bike.box[1] + bike.box[3]) / 2 > (person.box[1] + person.box[3]) / 2


@pytest.mark.footage
def test_a_still_face_close_up_has_no_vehicles(footage: Callable[[str], Path], coco: ObjectDetector):
    img = read_frame(footage("box.mp4"), 10)
    vehicles = {Label.CAR, Label.TRUCK, Label.BUS, Label.BICYCLE, Label.MOTORCYCLE}
    assert not [d for d in coco.detect(img) if d.label in vehicles and d.score >= 0.4]


def test_time_per_stage_is_reported():
    model = BoxModel([Label.CAR], [((0.4, 0.1, 0.8, 0.5), [0.9])])
    p = Perceiver(Settings(), objects=ObjectDetector(model))
    for i in range(3):
        img = np.full((120, 160, 3), 60, np.uint8)
        img[40:80, 10 + 15 * i: 40 + 15 * i] = 230
        p.analyze(Frame(image=img, pts=i * 0.5, seq=i, wall=0.0, stream_id="s"))
    ms = p.stage_ms()
    assert {"gate", "objects", "shots"} <= set(ms) and all(v >= 0 for v in ms.values())


def test_a_wide_picture_is_read_in_overlapping_tiles_and_boxes_come_back_in_frame_fractions():
    # One car at the left quarter of each tile the model sees: two tiles, two cars, placed in the frame.
    model = BoxModel([Label.CAR], [((0.2, 0.0, 0.8, 0.25), [0.9])])
    det = ObjectDetector(model, max_aspect=1.5)
    assert det.tiles(640, 272) == [(0, 408), (232, 640)]
    found = det.detect(np.zeros((272, 640, 3), np.uint8))
    assert len(model.seen) == 2
    xs = sorted(d.box[0] for d in found)
    assert xs == pytest.approx([0.0, 232 / 640], abs=1e-3)
    assert all(d.box[2] - d.box[0] == pytest.approx(0.25 * 408 / 640, abs=1e-3) for d in found)
    # A 4:3 picture is one call on the whole frame.
    model.seen.clear()
    det.detect(np.zeros((480, 640, 3), np.uint8))
    assert len(model.seen) == 1


def test_a_late_cut_keeps_the_tracks_that_began_in_the_new_shot():
    tr = ObjectTracker(warmup_s=1.0, confirm_hits=1)
    old = [_d(Label.CAR, 0.9, (0.1, 0.5, 0.3, 0.8))]
    tr.update(old, 0.0)
    new = [_d(Label.DOG, 0.9, (0.6, 0.5, 0.8, 0.8))]
    tr.update(old + new, 1.5)  # the dog first seen at 1.5 s, after a cut at 1.2 s confirmed only at 2.0 s
    dog = tr.update(new, 2.0, scene_cut=True, cut_t=1.2).objects
    assert [o.label for o in dog] == ["dog"]
    res = tr.update(old, 2.5, scene_cut=True)  # a cut now: every track goes, silently (no disappear)
    assert [o.label for o in res.objects] == ["car"] and res.objects[0].track_id != dog[0].track_id
    assert res.events == []  # the car was there when the shot began: no appear either


class _BlindPeople:
    """A people tracker that can never model the view (as with a moving camera)."""

    def update(self, image, t, *, changed=None, scene_cut=False):
        from onlook.perception.people import PeopleResult

        return PeopleResult(blind=True)


def test_where_the_people_tracker_is_blind_the_detector_s_people_are_reported():
    # A person box from the detector, walking in from the left edge over four runs.
    rows = lambda x: [((0.2, x, 0.9, x + 0.2), [0.95, 0.0])]  # noqa: E731
    model = BoxModel([Label.PERSON, Label.CAR], rows(0.0))
    p = Perceiver(Settings(object_interval_s=0.5, object_refresh_s=0.5), people=_BlindPeople(),
                  objects=ObjectDetector(model, exclude=frozenset()))
    seen = []
    kinds = []
    for i in range(6):
        model.rows = rows(0.0 + 0.05 * i)
        img = np.full((120, 160, 3), 60, np.uint8)
        img[30:100, 5 + 8 * i: 35 + 8 * i] = 200
        a = p.analyze(Frame(image=img, pts=2.5 + i * 0.5, seq=i, wall=0.0, stream_id="s"))
        seen.append(a.people)
        kinds += [o.kind for o in a.observations if o.kind in (ObservationKind.ENTER, ObservationKind.PERSON)]
    assert seen[-1] == 1
    people = [o for o in a.observations if o.kind == ObservationKind.PERSON]
    assert people[0].track_id >= 1_000_000 and people[0].attrs["state"] == "detected"
    assert "colors" in people[0].attrs
    assert ObservationKind.OBJECT not in {o.kind for o in a.observations}  # a person is not an "object"


@pytest.mark.footage
def test_bikes_moving_camera_shows_the_cyclist_as_a_person(footage: Callable[[str], Path]):
    # bikes.mp4, 4.3-5.3 s (looked at): a cyclist in a black T-shirt rides across the middle of a shot
    # filmed from a moving car; the background model sees only motion everywhere.
    from onlook.perception.pipeline import build_perceiver

    p = build_perceiver(Settings(detect_faces=False, detect_text=False))
    cap = cv2.VideoCapture(str(footage("bikes.mp4")))
    fps = cap.get(cv2.CAP_PROP_FPS)
    counts = {}
    i = 0
    while True:
        ok, img = cap.read()
        if not ok or i / fps > 5.6:
            break
        frame = Frame(image=img, pts=i / fps, seq=i, wall=0.0, stream_id="b")
        p.glance(frame)
        if i % 12 == 0:
            counts[round(i / fps, 2)] = p.analyze(frame).people
        i += 1
    cap.release()
    assert max(v for t, v in counts.items() if 4.3 <= t <= 5.3) >= 1, counts


def test_a_car_that_drives_in_and_parks_becomes_stationary_and_moving_again_when_it_leaves():
    tr = ObjectTracker(confirm_hits=1, warmup_s=0.0, still_s=2.0)

    def run(t: float, x: float) -> bool:
        res = tr.update([Detection(Label.CAR, 0.9, (x, 0.4, x + 0.2, 0.6))], t)
        return res.objects[0].attrs["stationary"]

    driving = [run(0.5 * i, 0.05 * i) for i in range(6)]  # 0.05 of the frame every half second
    assert driving == [True, False, False, False, False, False]  # first sight: nothing known of it moving yet
    # Parked at x = 0.25 from 2.5 s on, with detector jitter well under the threshold.
    parked = [run(2.5 + 0.5 * i, 0.25 + (0.004 if i % 2 else -0.004)) for i in range(1, 7)]
    assert parked == [False, False, False, True, True, True]  # still for 2 s: stationary from 4.5 s
    assert [run(6.5, 0.3), run(7.0, 0.35)] == [False, False]  # it drives off


class SizedModel:
    """A stand-in model that sees a bright square only when it is at least ``min_px`` wide in its 300x300 input."""

    size = 300
    labels = [Label.SPORTS_BALL]

    def __init__(self, min_px: int = 20):
        self.min_px = min_px
        self.calls = 0

    def predict(self, rgb: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        self.calls += 1
        ys, xs = np.nonzero(rgb[:, :, 0] > 200)
        if not len(xs) or xs.max() - xs.min() + 1 < self.min_px:
            return np.zeros((0, 4), np.float32), np.zeros((0, 1), np.float32)
        s = 300.0
        box = [ys.min() / s, xs.min() / s, (ys.max() + 1) / s, (xs.max() + 1) / s]
        return np.array([box], np.float32), np.array([[0.9]], np.float32)


def test_a_small_changed_thing_is_found_in_a_native_scale_window_and_placed_in_theread_frame():
    img = np.zeros((480, 640, 3), np.uint8)
    img[100:114, 500:514] = 255  # 14 px: 6.6 px of the whole picture's 300x300 copy, 14 in a 300 window
    region = [(480, 80, 540, 130)]  # what the gate says changed
    whole = ObjectDetector(SizedModel(min_px=10), max_crops=0)
    assert whole.detect(img, region) == []
    model = SizedModel(min_px=10)
    det = ObjectDetector(model, max_crops=2)
    assert det.crops(640, 480, region) == [(340, 0, 640, 300)]  # centred on it, pushed inside the picture
    found = det.detect(img, region)
    assert model.calls == 2 and len(found) == 1
    x0, y0, x1, y1 = found[0].box
    assert abs(x0 - 500 / 640) < 0.01 and abs(x1 - 514 / 640) < 0.01
    assert abs(y0 - 100 / 480) < 0.01 and abs(y1 - 114 / 480) < 0.01


def test_windows_skip_big_regions_small_pictures_and_repeats():
    det = ObjectDetector(SizedModel(), max_crops=2)
    assert det.crops(640, 480, [(0, 0, 500, 400)]) == []  # big: the whole picture shows it well
    assert det.crops(176, 144, [(10, 10, 30, 30)]) == []  # the window would be most of the picture
    two = det.crops(640, 480, [(20, 20, 60, 60), (30, 30, 50, 50), (580, 400, 620, 440)])
    assert len(two) == 2 and all(x1 - x0 == 300 and y1 - y0 == 300 for x0, y0, x1, y1 in two)
    assert all(0 <= x0 and x1 <= 640 and 0 <= y0 and y1 <= 480 for x0, y0, x1, y1 in two)
    assert ObjectDetector(SizedModel(), max_crops=0).crops(640, 480, [(20, 20, 60, 60)]) == []


def test_something_a_window_cuts_is_left_to_the_whole_picture():
    img = np.zeros((480, 640, 3), np.uint8)
    img[130:170, 200:420] = 255  # a long thing; the region around its right end gives a window that cuts it
    det = ObjectDetector(SizedModel(min_px=10), max_crops=1)
    found = det.detect(img, [(380, 120, 430, 180)])
    assert len(found) == 1  # only the whole picture's box, not a second, cut one
    assert abs(found[0].box[0] - 200 / 640) < 0.01


def test_the_perceiver_reads_what_changed_at_native_scale_when_crops_are_on():
    def run(crops: int) -> list[str]:
        p = Perceiver(Settings(object_interval_s=0.5, detect_people=False),
                      objects=ObjectDetector(SizedModel(min_px=10), max_crops=crops, exclude=frozenset()))
        labels = []
        for i in range(6):
            img = np.full((480, 640, 3), 40, np.uint8)
            img[200:214, 300 + 8 * i:314 + 8 * i] = 255  # a small thing rolling across the middle
            a = p.analyze(Frame(image=img, pts=i * 0.5, seq=i, wall=0.0, stream_id="s"))
            labels += [o.label for o in a.observations if o.kind == ObservationKind.OBJECT]
        return labels

    assert run(0) == []
    assert set(run(1)) == {"sports ball"}
