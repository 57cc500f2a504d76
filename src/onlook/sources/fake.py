"""An in-memory source for testing the stages after the source."""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator, Sized

import numpy as np

from onlook.errors import ConfigError
from onlook.sources.base import BaseSource, SourceInfo, SourceKind
from onlook.types import Frame, Gap

__all__ = ["FakeSource"]


class FakeSource(BaseSource):
    """Frames from memory, behaving like any other :class:`Source`.

    The counterpart of httpx's ``MockTransport``: later stages are tested
    against it without files, FFmpeg or threads. Items may be ready-made
    :class:`~onlook.types.Frame` objects (passed through untouched) or
    ``HxWx3`` ``uint8`` arrays, which become frames with ``seq = i``,
    ``pts = i / fps`` and ``wall`` the time they are yielded.

    Args:
        frames: Frames or arrays; any iterable, consumed lazily (a generator
            makes an endless stream).
        fps: Rate used to stamp arrays and reported in :attr:`info`.
        stream_id: Stream id of frames built from arrays.
        kind: Kind reported in :attr:`info`.
        error: Raised after the last item, to imitate a failing source.
        gaps: Gaps to report, as a live source would have recorded them.
        uri: URI reported in :attr:`info` (default ``fake://<stream_id>``).

    Example:
        >>> import numpy as np
        >>> src = FakeSource([np.zeros((4, 6, 3), np.uint8)] * 3, fps=10, stream_id="cam")
        >>> [(f.stream_id, f.seq, f.pts) for f in src]
        [('cam', 0, 0.0), ('cam', 1, 0.1), ('cam', 2, 0.2)]
    """

    def __init__(
        self,
        frames: Iterable[Frame | np.ndarray],
        *,
        fps: float = 10.0,
        stream_id: str = "default",
        kind: SourceKind = "file",
        error: BaseException | None = None,
        gaps: Iterable[Gap] = (),
        uri: str | None = None,
    ) -> None:
        if not fps > 0:
            raise ConfigError(f"fps must be positive, got {fps!r}")
        count = len(frames) if isinstance(frames, Sized) else None
        items = iter(frames)
        # Peek at the first item for the frame size, then put it back.
        first = next(items, None)
        width = height = 0
        if first is not None:
            img = first.image if isinstance(first, Frame) else np.asarray(first)
            height, width = int(img.shape[0]), int(img.shape[1])
            items = _chain_one(first, items)
        info = SourceInfo(uri=uri or f"fake://{stream_id}", kind=kind, fps=float(fps),
                          duration_s=None if count is None else count / fps,
                          width=width, height=height, frame_count=count)
        super().__init__(info, stream_id)
        self._items = items
        self._error = error
        self._gaps.extend(gaps)

    def _frames(self) -> Iterator[Frame]:
        fps = float(self.info.fps or 1.0)
        for i, item in enumerate(self._items):
            if self._closed.is_set():
                return
            if isinstance(item, Frame):
                yield item
            else:
                yield Frame(self.stream_id, i, i / fps, time.time(), np.asarray(item))
        if self._error is not None:
            raise self._error


def _chain_one(first: Frame | np.ndarray, rest: Iterator[Frame | np.ndarray]) -> Iterator[Frame | np.ndarray]:
    yield first
    yield from rest
