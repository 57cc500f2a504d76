"""Reading text (signs, plates, captions) with RapidOCR, plus a scripted fake.

RapidOCR runs PaddleOCR's PP-OCR detection and recognition models on
onnxruntime; the weights ship inside ``rapidocr-onnxruntime``. OCR is the
most expensive detector (a few hundred ms for a full 640x480 frame), so it
is loaded on first use and, when the pipeline passes changed regions, runs
only on crops around them.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from onlook.errors import ModelError
from onlook.perception.faces import Roi, normalise_box, overlaps_any, plan_crops, roi_boxes
from onlook.types import Box, Observation, ObservationKind

__all__ = ["OcrDetector", "FakeTextDetector", "text_words"]

_WORD = re.compile(r"[^\W_]+")


def text_words(text: str) -> list[str]:
    """Lower-cased alphanumeric words of ``text``, as stored in ``attrs["words"]``.

    Example:
        >>> text_words("TAXI-42, Café!")
        ['taxi', '42', 'café']
    """
    return _WORD.findall(text.lower())


class OcrDetector:
    """Reads text lines with RapidOCR (PP-OCRv4 detection + recognition).

    Satisfies the pipeline's ``RegionDetector`` protocol (``name = "text"``).
    Each recognised line becomes one observation whose label is the text and
    whose ``attrs["words"]`` holds its lower-cased alphanumeric words.

    Args:
        min_score: Lines recognised with less confidence are dropped.
        threads: onnxruntime intra-op threads per model.
        max_side: The text detector sees at most this many pixels on the
            longer side (RapidOCR's default upscales a 640x480 frame to
            981x736, tripling the cost for little gain on video text).
        use_angle_cls: Also run the 180-degree orientation classifier; off by
            default because text in camera footage is rarely upside down.
        engine: A ready RapidOCR-like callable, for tests; default builds one
            lazily on the first :meth:`detect`.

    Raises:
        ModelError: On first use, when ``rapidocr_onnxruntime`` cannot be
            imported or its models fail to load.

    Example:
        >>> ocr = OcrDetector()                                 # doctest: +SKIP
        >>> [o.label for o in ocr.detect(frame.image, frame.pts)]  # doctest: +SKIP
        ['TAXI 42']
    """

    name = "text"

    def __init__(
        self,
        min_score: float = 0.5,
        *,
        threads: int = 2,
        max_side: int = 960,
        use_angle_cls: bool = False,
        engine: Callable[..., Any] | None = None,
    ) -> None:
        if not 0.0 <= min_score <= 1.0:
            raise ValueError(f"min_score must be in [0, 1], got {min_score}")
        self.min_score = float(min_score)
        self.threads = max(1, int(threads))
        self.max_side = int(max_side)
        self.use_angle_cls = use_angle_cls
        self._engine = engine
        self._lock = threading.Lock()

    def load(self) -> None:
        """Load the OCR models now instead of on the first frame.

        Raises:
            ModelError: The models cannot be loaded.
        """
        self._get_engine()

    def _get_engine(self) -> Callable[..., Any]:
        with self._lock:
            if self._engine is None:
                try:
                    from rapidocr_onnxruntime import RapidOCR
                except ImportError as exc:
                    raise ModelError("text reading needs RapidOCR: "
                                     "pip install rapidocr-onnxruntime") from exc
                try:
                    self._engine = RapidOCR(
                        text_score=self.min_score,
                        intra_op_num_threads=self.threads,
                        inter_op_num_threads=1,
                        det_limit_side_len=self.max_side,
                        det_limit_type="max",
                    )
                except Exception as exc:  # its loader raises bare Exceptions
                    raise ModelError(f"cannot load RapidOCR models: {exc}") from exc
            return self._engine

    def detect(self, image: np.ndarray, t: float,
               rois: Sequence[Roi] | None = None) -> list[Observation]:
        """Read the text lines in ``image``, only around ``rois`` when given.

        Args:
            image: ``HxWx3`` ``uint8`` BGR pixels.
            t: Stream time of the frame, copied into the observations.
            rois: Changed pixel rectangles ``(x0, y0, x1, y1)``; ``None`` for
                the whole image.

        Returns:
            One ``kind="text"`` observation per line, top to bottom, boxes
            normalised to the full image.

        Raises:
            ModelError: The OCR models could not be loaded.
        """
        # Text smaller than ~10 px tall is unreadable anyway; crops are padded
        # generously because a changed region often covers only part of a word.
        crops = plan_crops(image.shape, rois, pad=0.5, pad_px=24, min_side=10)
        if not crops:
            return []
        engine = self._get_engine()
        h, w = image.shape[:2]
        out: list[Observation] = []
        for x0, y0, x1, y1 in crops:
            crop = np.ascontiguousarray(image[y0:y1, x0:x1])
            result, _ = engine(crop, use_cls=self.use_angle_cls)
            for quad, text, score in result or ():
                text, score = str(text).strip(), float(score)
                words = text_words(text)
                if score < self.min_score or not words:
                    continue
                pts = np.asarray(quad, dtype=np.float64).reshape(-1, 2)
                box = normalise_box(pts[:, 0].min() + x0, pts[:, 1].min() + y0,
                                    pts[:, 0].max() + x0, pts[:, 1].max() + y0, w, h)
                out.append(Observation(t=t, kind=ObservationKind.TEXT, label=text, score=round(score, 4),
                                       box=box, attrs={"words": words}))
        out.sort(key=lambda o: (o.box[1], o.box[0]) if o.box else (0.0, 0.0))
        return out


TextScript = (Sequence[tuple[float, float, str, Box]]
              | Callable[[float], Sequence[tuple[str, Box]]])


class FakeTextDetector:
    """Returns scripted text lines, for tests of everything downstream.

    Args:
        script: Either ``(start, end, text, box)`` spans (the line is visible
            for every ``start <= t <= end``) or a function
            ``t -> [(text, box), ...]``.
        score: Score given to every line.

    Attributes:
        calls: ``(t, rois)`` of every :meth:`detect` call.

    Example:
        >>> import numpy as np
        >>> det = FakeTextDetector([(0.0, 5.0, "TAXI 42", (0.1, 0.1, 0.5, 0.2))])
        >>> [(o.label, o.attrs["words"]) for o in det.detect(np.zeros((8, 8, 3), np.uint8), 1.0)]
        [('TAXI 42', ['taxi', '42'])]
    """

    name = "text"

    def __init__(self, script: TextScript = (), *, score: float = 0.95) -> None:
        self.script = script
        self.score = score
        self.calls: list[tuple[float, list[Roi] | None]] = []

    def detect(self, image: np.ndarray, t: float,
               rois: Sequence[Roi] | None = None) -> list[Observation]:
        """Scripted lines at ``t`` that overlap ``rois`` (all when ``None``)."""
        self.calls.append((t, None if rois is None else [tuple(r) for r in rois]))  # type: ignore[misc]  # tuple() of a Roi is a Roi; mypy sees tuple[Any, ...]
        if callable(self.script):
            lines = [(text, tuple(box)) for text, box in self.script(t)]
        else:
            lines = [(text, tuple(box)) for start, end, text, box in self.script
                     if start <= t <= end]
        regions = roi_boxes(image.shape, rois)
        return [Observation(t=t, kind=ObservationKind.TEXT, label=text, score=self.score, box=box,  # type: ignore[arg-type]  # a scripted box: four numbers
                            attrs={"words": text_words(text)})
                for text, box in lines if overlaps_any(box, regions)]  # type: ignore[arg-type]  # as above
