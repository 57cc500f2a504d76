"""The second shipped detector (OpenImages: box, shoe) beside COCO's: its model, the detector set's schedule, and
the tracker keeping classes nobody looked for."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from fake_models import BoxModel, read_frame

from onlook import models
from onlook.config import Settings
from onlook.errors import ConfigError, ModelCorrupt
from onlook.perception.objects import (
    Detection,
    DetectorSet,
    ObjectDetector,
    ObjectTracker,
    OpenImagesSSD,
    TrackState,
)
from onlook.perception.pipeline import Perceiver
from onlook.types import Frame, ObservationKind
from onlook.vocabulary import OBJECT_WORDS, Label

pytestmark = pytest.mark.timeout(120)


IMG = np.zeros((240, 320, 3), np.uint8)


def test_the_extra_detector_reports_only_what_the_first_lacks():
    coco = ObjectDetector(BoxModel([Label.CAR, Label.CUP], [((0.1, 0.1, 0.3, 0.3), [0.9, 0.0])]))
    # The OpenImages model knows cars and cups too (a mug is a cup): those stay COCO's.
    oi = ObjectDetector(BoxModel([Label.CAR, Label.CUP, Label.BOX],
                                  [((0.1, 0.1, 0.3, 0.3), [0.8, 0.0, 0.0]),
                                   ((0.5, 0.5, 0.7, 0.8), [0.0, 0.6, 0.0]),
                                   ((0.2, 0.4, 0.6, 0.9), [0.0, 0.0, 0.5])]))
    ds = DetectorSet(coco, [(oi, 2.0)])
    assert oi.classes == {Label.BOX}
    assert ds.classes == {Label.CAR, Label.CUP, Label.BOX}
    found, looked = ds.detect(IMG, 0.0)
    assert [(d.label, d.score) for d in found] == [(Label.CAR, 0.9), (Label.BOX, 0.5)]
    assert looked == {Label.CAR, Label.CUP, Label.BOX}


def test_the_extra_detector_runs_on_its_own_schedule_and_when_forced():
    coco_model = BoxModel([Label.CAR], [])
    oi_model = BoxModel([Label.BOX], [((0.2, 0.4, 0.6, 0.9), [0.5])])
    ds = DetectorSet(ObjectDetector(coco_model), [(ObjectDetector(oi_model), 2.0)])
    looked = [ds.detect(IMG, t)[1] for t in (0.0, 0.5, 1.0, 1.5, 1.9, 2.4)]
    assert coco_model.calls == 6
    assert oi_model.calls == 2  # at 0 and at 1.9 (a tenth early is on time: frames are off the grid)
    assert [Label.BOX in lk for lk in looked] == [True, False, False, False, True, False]
    ds.detect(IMG, 2.5, force=True)
    assert oi_model.calls == 3
    ds.detect(IMG, 1.0)  # time ran backwards (a new stream): it looks again
    assert oi_model.calls == 4
    with pytest.raises(ConfigError):
        DetectorSet(ObjectDetector(coco_model), [(ObjectDetector(oi_model), -1.0)])


def test_a_detector_left_with_no_class_finds_nothing_and_costs_nothing():
    model = BoxModel([Label.CAR], [((0.1, 0.1, 0.3, 0.3), [0.9])])
    det = ObjectDetector(model)
    det.restrict(frozenset())
    assert det.detect(IMG) == [] and model.calls == 0


def _box(score: float = 0.5) -> Detection:
    return Detection(Label.BOX, score, (0.4, 0.2, 0.9, 0.6))


def _car(x: float, score: float = 0.9) -> Detection:
    return Detection(Label.CAR, score, (x, 0.1, x + 0.2, 0.3))


def test_a_class_nobody_looked_for_is_neither_lost_nor_dropped():
    tr = ObjectTracker(warmup_s=0.0, tentative_s=1.5, lost_s=5.0)
    coco_only = frozenset({Label.CAR})
    both = frozenset({Label.CAR, Label.BOX})
    tr.update([_car(0.0), _box()], 0.0, looked_for=both)
    # COCO runs every half second, the OpenImages model every two: the box is only looked for at 0 and 2.
    for t in (0.5, 1.0, 1.5):
        res = tr.update([_car(0.1 * t)], t, looked_for=coco_only)
        assert [o.label for o in res.objects if o.label == "box"] == []  # still tentative, but kept
    res = tr.update([_car(0.2), _box()], 2.0, looked_for=both)
    boxes = [o for o in res.objects if o.label == "box"]
    assert len(boxes) == 1  # seen twice: confirmed, although 2 s apart (> tentative_s)
    appear = [e for e in res.events if e.kind == ObservationKind.APPEAR and e.label == "box"]
    assert len(appear) == 1
    for t in (2.5, 3.0, 3.5):
        res = tr.update([_car(0.2)], t, looked_for=coco_only)
        assert [o.track_id for o in res.objects if o.label == "box"] == [boxes[0].track_id]
        assert not [e for e in res.events if e.label == "box"]
    # Looked for and not seen: now it is lost (reported no more), and gone after lost_s.
    res = tr.update([_car(0.2)], 4.0, looked_for=both)
    assert not [o for o in res.objects if o.label == "box"]
    assert [t.state for t in tr._tracks if t.label is Label.BOX] == [TrackState.LOST]
    res = tr.update([_car(0.2)], 7.5, looked_for=both)
    assert [e.kind for e in res.events if e.label == "box"] == [ObservationKind.DISAPPEAR]


def test_without_looked_for_every_class_counts_as_looked_for():
    tr = ObjectTracker(warmup_s=0.0, tentative_s=1.5, confirm_hits=2)
    tr.update([_box()], 0.0)
    tr.update([], 2.0)  # the box was looked for and not seen for longer than tentative_s
    res = tr.update([_box()], 2.5)
    assert not res.objects  # a new tentative track, not the old one confirmed


def test_the_perceiver_runs_the_extra_detector_less_often_and_keeps_its_objects():
    coco_model = BoxModel([Label.CAR], [((0.4, 0.1, 0.8, 0.5), [0.9])])
    oi_model = BoxModel([Label.BOX], [((0.1, 0.6, 0.4, 0.9), [0.55])])
    ds = DetectorSet(ObjectDetector(coco_model), [(ObjectDetector(oi_model, min_score=0.3), 2.0)])
    p = Perceiver(Settings(object_interval_s=0.5, object_refresh_s=0.5), objects=ds)
    seen = []
    for i in range(10):
        img = np.full((120, 160, 3), 60, np.uint8)
        img[40:80, 10 + 10 * i: 40 + 10 * i] = 230  # something moves every frame
        a = p.analyze(Frame(image=img, pts=i * 0.5, seq=i, wall=0.0, stream_id="s"))
        seen.append(sorted(o.label for o in a.observations if o.kind == ObservationKind.OBJECT))
    assert coco_model.calls == 10 and oi_model.calls == 3  # at 0, 2 and 4 s
    # The car (0.9) is believed at once; the box (0.55) once seen twice, at its second run at 2 s, and from
    # then on it is kept between runs.
    assert seen[:4] == [["car"]] * 4
    assert seen[4:] == [["box", "car"]] * 6


def test_switches_choose_the_detectors():
    s = Settings()
    assert s.perception.detect_openimages and s.perception.openimages_interval_s == 2.0
    assert not Settings(detect_openimages=False).perception.detect_openimages


# ---------------------------------------------------------------- the shipped model


def test_the_shipped_openimages_model_matches_its_manifest():
    m = models.manifest("oidv4_ssd")
    assert m["licence"] == "Apache-2.0" and m["source"]["package"] == "@mediapipe/objectron"
    assert len(m["labels"]) == len(m["source_labels"]) == 23
    named = {Label(v) for v in m["labels"] if v is not None}
    assert {Label.BOX, Label.SHOE, Label.CUP, Label.CAR} <= named
    assert models.model_file("oidv4_ssd").stat().st_size == m["bytes"]
    model = OpenImagesSSD()
    assert model.size == 300 and len(model.labels) == 23


def test_a_corrupt_openimages_model_is_one_clear_line(tmp_path: Path):
    src = models.model_file("oidv4_ssd").parent
    shutil.copy(src / "oidv4_ssd.json", tmp_path / "oidv4_ssd.json")
    (tmp_path / "oidv4_ssd.onnx").write_bytes(b"\0" * 100)
    with pytest.raises(ModelCorrupt) as e:
        OpenImagesSSD(tmp_path)
    assert "\n" not in str(e.value)


def test_the_new_classes_have_words():
    # A box is also what COCO (no box class) calls a book; the OpenImages class is among them.
    assert Label.BOX in OBJECT_WORDS["boxes"] and Label.BOX in OBJECT_WORDS["parcel"]
    assert OBJECT_WORDS["shoes"] == {Label.SHOE} and OBJECT_WORDS["sneakers"] == {Label.SHOE}


@pytest.mark.footage
def test_box_mp4_shows_the_yellow_box_held_over_the_table(footage: Callable[[str], Path]):
    # Frame 390 (15.6 s) of box.mp4, looked at: a hand from the left holds a yellow tin box with painted
    # landscapes above a table with a white cloth, in the upper right half of the picture.
    det = ObjectDetector(OpenImagesSSD(), min_score=0.3)
    found = det.detect(read_frame(footage("box.mp4"), 390))
    box = next(d for d in found if d.label is Label.BOX)
    x0, y0, x1, y1 = box.box
    assert 0.35 <= x0 <= 0.55 and x1 >= 0.85 and 0.05 <= y0 <= 0.25 and 0.4 <= y1 <= 0.6
    assert not [d for d in found if d.label is Label.SHOE]


@pytest.mark.footage
def test_vtest_has_no_boxes(footage: Callable[[str], Path]):
    # Frame 100 of vtest.avi: pedestrians on a plaza, two parked vehicles; nothing box-shaped big enough.
    det = ObjectDetector(OpenImagesSSD(), min_score=0.3)
    assert not [d for d in det.detect(read_frame(footage("vtest.avi"), 100)) if d.label is Label.BOX]
