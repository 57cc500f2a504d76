"""Realtime pacing: play frames at the speed their timestamps say."""

from __future__ import annotations

import contextlib
import dataclasses
import threading
import time
from collections.abc import Callable, Generator, Iterable, Iterator

from onlook.errors import ConfigError
from onlook.sources.base import Source, WrappedSource
from onlook.types import Frame

__all__ = ["PacedSource", "ResumedSource", "paced"]


def paced(
    frames: Iterable[Frame],
    speed: float = 1.0,
    *,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], object] = time.sleep,
    restamp: bool = True,
) -> Iterator[Frame]:
    """Yield frames no sooner than their pts says, like a live stream would.

    The frame at ``pts`` is released at ``start + (pts - first_pts) / speed``
    where ``start`` is when the first frame arrived. The schedule is fixed
    up front, so sleeps do not accumulate drift; a frame already late (the
    producer or the consumer was slow) is released at once, without sleeping,
    and the frames after it catch up.

    Args:
        frames: Frames with non-decreasing ``pts``.
        speed: Playback rate; ``2.0`` plays twice as fast as real time.
        clock: Monotonic clock in seconds (injectable for tests).
        sleep: Sleep function (injectable; a ``threading.Event.wait`` makes
            the wait interruptible).
        restamp: Set each frame's ``wall`` to the moment it is released, so a
            paced file looks to later stages like a stream arriving now.

    Yields:
        The same frames, in order, at their scheduled times.

    Raises:
        ConfigError: ``speed`` is not positive.

    Example:
        >>> import numpy as np
        >>> from onlook.types import Frame
        >>> img = np.zeros((2, 2, 3), np.uint8)
        >>> fs = [Frame("s", i, i * 0.01, 0.0, img) for i in range(3)]
        >>> [f.seq for f in paced(fs, speed=10)]
        [0, 1, 2]
    """
    if not speed > 0:
        raise ConfigError(f"speed must be positive, got {speed!r}")
    it = iter(frames)
    start: float | None = None
    first_pts = 0.0
    try:
        for frame in it:
            now = clock()
            if start is None:
                start, first_pts = now, frame.pts
            else:
                delay = start + (frame.pts - first_pts) / speed - now
                if delay > 0:
                    sleep(delay)
            if restamp:
                frame = dataclasses.replace(frame, wall=time.time())
            yield frame
    finally:
        close = getattr(it, "close", None)
        if close is not None:
            # ValueError: the inner generator is mid-step in another thread (a close()
            # from outside); that thread sees the stop flag and releases it itself.
            with contextlib.suppress(ValueError):
                close()


class PacedSource(WrappedSource):
    """A source whose frames arrive in real time (see :func:`paced`).

    Wraps a file or image source so that it behaves like a live stream:
    ``open_source(..., realtime=True)`` builds one. Closing it interrupts a
    pending wait at once.

    Args:
        source: The source to pace.
        speed: Playback rate (``1.0`` is real time).
    """

    def __init__(self, source: Source, speed: float = 1.0) -> None:
        if not speed > 0:
            raise ConfigError(f"speed must be positive, got {speed!r}")
        super().__init__(source)
        self.speed = speed
        self._stop = threading.Event()
        self._gen: Generator[Frame, None, None] | None = None

    def __iter__(self) -> Iterator[Frame]:
        if self._gen is None:
            self._gen = self._frames()
        return self._gen

    def _frames(self) -> Generator[Frame, None, None]:
        for frame in paced(self.source, self.speed, sleep=self._stop.wait):
            if self._stop.is_set():
                return
            yield frame

    def close(self) -> None:
        self._stop.set()
        if self._gen is not None:
            # ValueError: running in a decoder thread, which sees _stop and ends.
            with contextlib.suppress(ValueError):
                self._gen.close()
        self.source.close()

    def __repr__(self) -> str:
        return f"PacedSource({self.source!r}, speed={self.speed:g})"


class ResumedSource(WrappedSource):
    """A finite source fast-forwarded past the stream time a store already holds.

    Frames up to ``after`` are decoded and dropped without pacing (wrap this in a
    :class:`PacedSource` to pace the rest), so a file interrupted by a restart
    carries on where it was, at once.

    Args:
        source: The source to resume (a file or an image folder).
        after: Stream time (seconds) already stored; frames at or before it are skipped.

    Example:
        >>> import numpy as np
        >>> from onlook.sources import FakeSource
        >>> with ResumedSource(FakeSource([np.zeros((2, 2, 3), np.uint8)] * 4, fps=2), after=0.5) as src:
        ...     [f.pts for f in src]
        [1.0, 1.5]
    """

    def __init__(self, source: Source, after: float) -> None:
        super().__init__(source)
        self.after = after

    def __iter__(self) -> Iterator[Frame]:
        # 1 µs of slack: a pts read back from the store was rounded.
        return (frame for frame in self.source if frame.pts > self.after + 1e-6)

    def __repr__(self) -> str:
        return f"ResumedSource({self.source!r}, after={self.after:g})"
