"""Shot boundaries from TransNetV2, run only where the picture jumps.

TransNetV2 (Soucek & Lokoc, 2020) judges each frame of a run of consecutive 48x27 thumbnails: the
probability that the frame is the last of its shot. It was trained on full-rate video, so it is fed
at a "glance" rate (``shot_fps``, default 25) well above the 2 fps analysis rate; at 2 fps it misses
most cuts (tools/models/README.md has the measurements). Thumbnails are cheap; the model is not
(one 48-frame run is 120-260 ms on two cores), so it runs only around a *candidate*: a frame whose
thumbnail differs from the previous one by more than a fixed camera's noise and ordinary motion
do. A fixed camera with nothing jumping never runs it.

A run is placed so the candidate lies inside the run's judged middle frames with the model's 12
frames of context after it, so a cut is confirmed about 16 glance frames (0.6 s at 25 fps) after
it happened at the earliest, and reported with the stream time of the new shot's first frame.

:class:`ShotDetector` is the stateful part (buffer, candidates, deduplication); the model behind it
is a :class:`ShotModel`, so tests give it a fake one. :class:`TransNetV2` is the real model, read from
the file that ships in :mod:`onlook.models`.
"""

from __future__ import annotations

import bisect
from collections import deque
from pathlib import Path
from typing import Protocol

import cv2
import numpy as np

from onlook.errors import ModelCorrupt
from onlook.types import Observation, ObservationKind

__all__ = ["ShotModel", "TransNetV2", "ShotDetector", "thumbnail", "THUMB_SIZE"]

THUMB_SIZE = (48, 27)
"""Width and height of the thumbnails TransNetV2 reads."""


def thumbnail(image: np.ndarray) -> np.ndarray:
    """The 27x48 RGB uint8 thumbnail of a BGR frame that TransNetV2 expects.

    INTER_AREA averages every source pixel (what ffmpeg's scaler, used in training, does when
    shrinking); measured on bikes.mp4 it gives the package's own cuts.
    """
    small = cv2.resize(image, THUMB_SIZE, interpolation=cv2.INTER_AREA)
    if small.ndim == 2:
        return cv2.cvtColor(small, cv2.COLOR_GRAY2RGB)
    return cv2.cvtColor(small, cv2.COLOR_BGR2RGB)


class ShotModel(Protocol):
    """A model that judges runs of consecutive thumbnails.

    Attributes:
        window: Frames per run.
        context: Frames at each end of a run whose judgement is not trusted (too little context).
        threshold: Probability above which a frame ends its shot.
    """

    window: int
    context: int
    threshold: float

    def predict(self, frames: np.ndarray) -> np.ndarray:
        """Per-frame probabilities ``[window]`` that a frame is the last of its shot.

        Args:
            frames: ``[window, 27, 48, 3]`` uint8 RGB thumbnails, consecutive.
        """
        ...


class TransNetV2:
    """The shipped TransNetV2 ONNX file, run with onnxruntime.

    Args:
        directory: Where the model and its manifest are (default: the shipped models).
        threads: onnxruntime intra-op threads.

    Raises:
        ModelMissing: The file or its manifest is not there.
        ModelCorrupt: It does not match its manifest, or onnxruntime cannot load it.
        ModelError: onnxruntime is not installed.
    """

    name = "transnetv2"

    def __init__(self, directory: Path | None = None, *, threads: int = 2) -> None:
        from onlook import models

        path = models.model_file(self.name, directory)
        m = models.manifest(self.name, directory)
        try:
            w = m["windowing"]
            self.window = int(w["window"])
            self.context = int(w["context"])
            self.threshold = float(w["threshold"])
        except (KeyError, TypeError, ValueError):
            raise ModelCorrupt(f"model {self.name!r}: manifest lacks windowing.window/context/threshold") from None
        if not 0 < 2 * self.context < self.window:
            raise ModelCorrupt(f"model {self.name!r}: manifest windowing {self.window}/{self.context} is impossible")
        self._session = models.onnx_session(self.name, path, threads=threads, what="shot detection")
        self._input = self._session.get_inputs()[0].name

    def predict(self, frames: np.ndarray) -> np.ndarray:
        out = self._session.run(["single_frame"], {self._input: frames[np.newaxis]})[0]
        return np.asarray(out, np.float32).reshape(-1)


class ShotDetector:
    """Find cuts in a stream of frames fed in order, running the model only near candidates.

    Feed every glance-rate frame with :meth:`push`; collect confirmed cuts with :meth:`poll` (they
    come a bounded number of frames late); when the stream ends, :meth:`finish` judges what is pending.

    Args:
        model: The boundary model.
        candidate_diff: Mean absolute RGB difference (0..255) between consecutive thumbnails that
            makes a frame a candidate (a hard cut). Measured on 48x27 thumbnails: fixed cameras stay
            below 10 at full rate and 15 at a third of it, hard cuts are 45 and more; a fast moving
            camera crosses it sometimes, which costs a model run, not a false cut.
        gradual_diff: The same difference against the frame ``context`` frames back: a fade or
            dissolve changes little from one frame to the next but much over half a second.
            Fixed cameras measured up to 22; a moving camera crosses it often, so such candidates
            are taken only where no run has judged yet (at most one run per judged stretch).
        lead: Judged frames a run leaves after its candidate: later candidates that fall there need
            no run of their own, but each one delays the confirmation by a frame.

    Example:
        >>> class Always:
        ...     window, context, threshold = 8, 2, 0.5
        ...     def predict(self, frames):
        ...         d = np.abs(np.diff(frames.astype(int), axis=0)).mean(axis=(1, 2, 3))
        ...         return np.append(d > 50, False).astype(np.float32)
        >>> det = ShotDetector(Always())
        >>> black, white = np.zeros((27, 48, 3), np.uint8), np.full((27, 48, 3), 255, np.uint8)
        >>> for i in range(12):
        ...     det.push(black if i < 5 else white, i / 10)
        >>> [(o.t, o.label) for o in det.poll()]
        [(0.5, 'scene change')]
    """

    def __init__(self, model: ShotModel, *, candidate_diff: float = 20.0, gradual_diff: float = 30.0,
                 lead: int = 0) -> None:
        self.model = model
        self.candidate_diff = candidate_diff
        self.gradual_diff = gradual_diff
        self.window = model.window
        self.context = model.context
        judged = self.window - 2 * self.context
        self.lead = max(0, min(lead, judged - 1))
        # Enough history to place a run that ends ``context`` frames after a candidate's boundary.
        self._frames: deque[tuple[int, float, np.ndarray]] = deque(maxlen=self.window + 2)
        self._n = 0                       # frames pushed so far; the next one gets this index
        self._candidates: list[int] = []  # sorted boundary frame indices (last frame of the old shot)
        self._judged_until = -1           # frames up to this index have been judged
        self._flagged: set[int] = set()   # recent flagged indices, to merge multi-frame transitions
        self._ready: list[Observation] = []
        self._prev: np.ndarray | None = None
        self._gradual_after = 0
        self._last_hard = -(10**9)
        self.runs = 0
        self.candidates = 0

    def push(self, image: np.ndarray, t: float) -> None:
        """Feed the next frame: a BGR image of any size, or an already made 27x48 RGB thumbnail."""
        thumb = image if image.shape[:2] == (THUMB_SIZE[1], THUMB_SIZE[0]) and image.ndim == 3 \
            else thumbnail(image)
        i = self._n
        self._n += 1
        cur = thumb.astype(np.int16)
        if self._prev is not None and i - 1 > self._judged_until:
            if float(np.abs(cur - self._prev).mean()) > self.candidate_diff:
                self._last_hard = i - 1
                if i - 1 not in self._candidates:
                    bisect.insort(self._candidates, i - 1)
                    self.candidates += 1
            back = self._frames[-self.context][2] if len(self._frames) >= self.context else None
            # (a hard candidate among those frames already explains the change)
            if (back is not None and i - 1 >= self._gradual_after and i - 1 - self._last_hard > self.context
                    and float(np.abs(cur - back).mean()) > self.gradual_diff):
                # The model flags a dissolve near its middle, which may still be to come: judge the
                # stretch around this frame (half a run's judged frames later), and take no other
                # gradual candidate until that stretch is judged.
                judged = self.window - 2 * self.context
                k = i - 1 + judged // 2
                self._gradual_after = k + judged - judged // 2  # the next one's stretch starts after k
                if k not in self._candidates:
                    bisect.insort(self._candidates, k)
                    self.candidates += 1
        self._prev = cur
        self._frames.append((i, t, thumb))
        self._run_due(final=False)

    def poll(self) -> list[Observation]:
        """The cuts confirmed since the last call, oldest first."""
        out, self._ready = self._ready, []
        return out

    @property
    def has_ready(self) -> bool:
        """Whether confirmed cuts wait for :meth:`poll`."""
        return bool(self._ready)

    def finish(self) -> None:
        """The stream ended: judge the candidates still waiting for frames after them (padding with
        the last frame); :meth:`poll` then returns what they confirmed."""
        self._run_due(final=True)

    def reset(self) -> None:
        """Forget the history (a new source: its first frame is not a cut)."""
        self._frames.clear()
        self._candidates.clear()
        self._prev = None
        self._judged_until = self._n - 1

    def _run_due(self, *, final: bool) -> None:
        last = self._n - 1
        while self._candidates:
            k = self._candidates[0]
            if k <= self._judged_until:
                self._candidates.pop(0)
                continue
            # The run's judged middle ends ``lead`` frames after k; its context runs to k + lead + context.
            end = k + self.lead + self.context
            if end > last and not final:
                return
            self._run(k)
            self._candidates.remove(k)  # judged (at the end of a stream its stretch may be padding)

    def _run(self, k: int) -> None:
        start = k + self.lead + self.context - self.window + 1
        have = list(self._frames)
        first_i = have[0][0]
        # Pad like the model was trained: repeat the first/last available frame.
        idx = [min(max(j, first_i), have[-1][0]) for j in range(start, start + self.window)]
        by_i = {i: (t, th) for i, t, th in have}
        frames = np.stack([by_i[j][1] for j in idx])
        probs = self.model.predict(frames)
        self.runs += 1
        lo, hi = start + self.context, start + self.window - self.context  # judged [lo, hi)
        for pos in range(self.context, self.window - self.context):
            j = start + pos
            if j <= self._judged_until or j < first_i or j >= have[-1][0]:
                continue  # judged already, padding, or no frame after it to start the new shot
            p = float(probs[pos])
            if p <= self.model.threshold:
                continue
            merged = (j - 1) in self._flagged  # a transition flags several frames: one cut
            self._flagged.add(j)
            if not merged:
                t_new = by_i[j + 1][0]  # the first frame of the new shot
                self._ready.append(Observation(t=t_new, kind=ObservationKind.SCENE_CUT, label="scene change",
                                               score=round(p, 3), attrs={"by": "transnetv2", "p": round(p, 3)}))
        self._judged_until = max(self._judged_until, min(hi, have[-1][0]) - 1)
        self._flagged = {j for j in self._flagged if j >= lo - 1}
