"""The source seam: what every video source looks like to the rest of onlook.

A source is an iterator of :class:`~onlook.types.Frame` with a little state
beside it (what it is, what it missed, what it dropped). Pacing, threading and
reconnection are further sources wrapped around a decoding one, never flags
inside one loop.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, Literal, Protocol, TypeVar, runtime_checkable

import cv2
import numpy as np

from onlook.types import Frame, Gap

__all__ = ["Source", "SourceInfo", "SourceKind", "WrappedSource"]

SourceKind = Literal["file", "live", "images", "webcam"]
"""Where frames come from: a finite file, a network stream, a folder of
images or a local capture device."""


@dataclass(frozen=True, slots=True)
class SourceInfo:
    """What a source is, as far as it is known when it opens.

    Attributes:
        uri: The URI or path the source was opened from.
        kind: ``"file"``, ``"live"``, ``"images"`` or ``"webcam"``.
        fps: Native frame rate, or ``None`` when the container does not say.
        duration_s: Length in seconds, or ``None`` for live or unknown.
        width: Width of the first video frame, in pixels.
        height: Height of the first video frame, in pixels.
        frame_count: Number of frames when the container says, else ``None``.

    Example:
        >>> SourceInfo("clip.mp4", "file", 25.0, 2.0, 64, 48, 50).kind
        'file'
    """

    uri: str
    kind: SourceKind
    fps: float | None
    duration_s: float | None
    width: int
    height: int
    frame_count: int | None = None


@runtime_checkable
class Source(Protocol):
    """An iterable of frames from one stream, and what is known about it.

    Iterating yields :class:`~onlook.types.Frame` objects whose ``seq`` and
    ``pts`` never go backwards over the life of the source, reconnects
    included. A source is single-pass: a second ``iter()`` continues where the
    first stopped. Errors raised while iterating are always
    :class:`~onlook.errors.SourceError` subclasses.

    Example:
        >>> from onlook.sources import FakeSource
        >>> import numpy as np
        >>> with FakeSource([np.zeros((4, 4, 3), np.uint8)] * 2, fps=2) as src:
        ...     [f.pts for f in src]
        [0.0, 0.5]
    """

    @property
    def info(self) -> SourceInfo:
        """What the source is (uri, kind, fps, size...)."""
        ...

    @property
    def gaps(self) -> list[Gap]:
        """Outages of a live source, oldest first (empty for files)."""
        ...

    @property
    def dropped(self) -> int:
        """Frames decoded but thrown away because the consumer fell behind."""
        ...

    def __iter__(self) -> Iterator[Frame]: ...

    def close(self) -> None:
        """Release the decoder, the connection and any thread. Idempotent.

        May be called from a thread other than the one iterating: it then only
        asks the iteration to stop, and the iterating thread releases what it
        holds (a blocked network read ends within ``read_timeout_s``).
        """
        ...

    def __enter__(self) -> Source: ...

    def __exit__(self, *exc_info: object) -> None: ...


def decode_pixels(vf: Any, max_width: int | None, thumb: Callable[[], tuple[int, int] | None] | None
                  ) -> tuple[np.ndarray, bool]:
    """BGR pixels of a decoded PyAV frame: shrunk to ``max_width``, or, when ``thumb()`` names a size, scaled
    straight to it by FFmpeg (area averaging) in the same pass as the colour conversion.

    Returns:
        The image, and whether it is a thumbnail.
    """
    size = thumb() if thumb is not None else None
    if size is not None:
        return vf.to_ndarray(width=size[0], height=size[1], format="bgr24", interpolation="AREA"), True
    return downscale(vf.to_ndarray(format="bgr24"), max_width), False


def downscale(image: np.ndarray, max_width: int | None) -> np.ndarray:
    """Shrink (never enlarge) to at most ``max_width`` wide, with area averaging.

    Sources apply it in their decoder thread when the consumer only analyses
    smaller images, so the work runs beside analysis instead of before it.
    """
    if not max_width:
        return image
    h, w = image.shape[:2]
    if w <= max_width:
        return image
    return cv2.resize(image, (max_width, max(1, round(h * max_width / w))), interpolation=cv2.INTER_AREA)


_W = TypeVar("_W", bound="WrappedSource")


class WrappedSource:
    """A source that wraps another and passes on what it does not change.

    The wrappers (:class:`~onlook.sources.PacedSource`, :class:`~onlook.sources.ThreadedSource`,
    :class:`~onlook.sources.ResumedSource`) change how frames arrive, not what the source
    is: ``info``, ``gaps``, ``dropped`` and ``audio`` are the wrapped source's unless a
    subclass says otherwise. Subclasses implement ``__iter__``; closing closes the wrapped
    source (it is owned from the moment it is wrapped).

    Args:
        source: The source to wrap.
    """

    def __init__(self, source: Source) -> None:
        self.source = source

    @property
    def info(self) -> SourceInfo:
        return self.source.info

    @property
    def gaps(self) -> list[Gap]:
        return self.source.gaps

    @property
    def dropped(self) -> int:
        return self.source.dropped

    @property
    def audio(self) -> object | None:
        """The wrapped source's sound feed, or None without one."""
        return getattr(self.source, "audio", None)

    def __iter__(self) -> Iterator[Frame]:  # pragma: no cover - every subclass has its own
        raise NotImplementedError

    def close(self) -> None:
        self.source.close()

    def __enter__(self: _W) -> _W:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


_S = TypeVar("_S", bound="BaseSource")


class BaseSource:
    """Shared plumbing for concrete sources (not part of the public seam).

    Subclasses implement :meth:`_frames` as a generator and put whatever it
    needs (an open container...) in ``self._resource``. The generator takes the
    resource with :meth:`_take_resource` and releases it itself, because it may
    run in a decoder thread: :meth:`close` then only asks it to stop, and
    never frees a container another thread is reading.
    """

    def __init__(self, info: SourceInfo, stream_id: str) -> None:
        self._info = info
        self.stream_id = stream_id
        self._gaps: list[Gap] = []
        self._gen: Iterator[Frame] | None = None
        self._resource: object | None = None
        self._lock = threading.Lock()
        self._closed = threading.Event()

    @property
    def info(self) -> SourceInfo:
        return self._info

    @property
    def gaps(self) -> list[Gap]:
        return self._gaps

    @property
    def dropped(self) -> int:
        return 0

    @property
    def audio(self) -> object | None:
        """The source's sound (an :class:`~onlook.sources.audio.AudioFeed`), or None without any."""
        return None

    @property
    def closed(self) -> bool:
        """Whether :meth:`close` has been called."""
        return self._closed.is_set()

    def __iter__(self) -> Iterator[Frame]:
        with self._lock:
            if self._gen is None:
                self._gen = iter(()) if self._closed.is_set() else self._frames()
            return self._gen

    def _frames(self) -> Iterator[Frame]:
        raise NotImplementedError

    def _take_resource(self) -> object | None:
        with self._lock:
            res, self._resource = self._resource, None
            return res

    def _release(self, resource: object) -> None:
        close = getattr(resource, "close", None)
        if close is not None:
            close()

    def close(self) -> None:
        self._closed.set()
        gen = self._gen
        if gen is not None and hasattr(gen, "close"):
            # ValueError: running in another thread right now; it checks
            # ``_closed`` after each frame or wait and releases its resources.
            with contextlib.suppress(ValueError):
                gen.close()
        res = self._take_resource()
        if res is not None:
            self._release(res)

    def __enter__(self: _S) -> _S:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __repr__(self) -> str:
        i = self._info
        rate = f" @ {i.fps:g} fps" if i.fps else ""
        return f"{type(self).__name__}({i.uri!r}, {i.kind}, {i.width}x{i.height}{rate})"
