"""A decoder thread per source and a bounded queue to the consumer."""

from __future__ import annotations

import contextlib
import threading
from collections import deque
from collections.abc import Iterator

from onlook.errors import ConfigError
from onlook.sources._pyav import display_name
from onlook.sources.base import Source, WrappedSource
from onlook.types import Frame

__all__ = ["ThreadedSource"]


class ThreadedSource(WrappedSource):
    """Decodes a source in a daemon thread and hands frames over a bounded queue.

    PyAV releases the GIL while it demuxes and decodes, so decoding in a
    thread overlaps with the consumer's work. The queue holds at most
    ``maxsize`` frames; when it is full:

    * ``drop_oldest=True`` (live streams, realtime files): the oldest queued
      frame is thrown away and counted in :attr:`dropped`, so the consumer
      always gets the newest picture and never falls further behind;
    * ``drop_oldest=False`` (files read as fast as possible): the decoder
      waits, since the consumer sets the pace and no frame need be lost.

    An error raised by the source in the thread is raised again in the
    consumer once the frames queued before it have been delivered. The thread
    starts on the first ``iter()``.

    Args:
        source: The source to decode in the thread. It is owned from now on:
            closing this closes it.
        maxsize: Queue capacity in frames.
        drop_oldest: Drop the oldest frame when full (else block the decoder).
        join_timeout_s: How long :meth:`close` waits for the thread. A thread
            blocked in a network read ends on its own once the read times out.

    Example:
        >>> import numpy as np
        >>> from onlook.sources import FakeSource
        >>> fake = FakeSource([np.zeros((2, 2, 3), np.uint8)] * 3, fps=10)
        >>> with ThreadedSource(fake, maxsize=2, drop_oldest=False) as src:
        ...     [f.seq for f in src]
        [0, 1, 2]
    """

    def __init__(
        self,
        source: Source,
        maxsize: int = 8,
        *,
        drop_oldest: bool = True,
        join_timeout_s: float = 2.0,
    ) -> None:
        if maxsize < 1:
            raise ConfigError(f"queue maxsize must be >= 1, got {maxsize}")
        super().__init__(source)
        self.maxsize = maxsize
        self.drop_oldest = drop_oldest
        self.join_timeout_s = join_timeout_s
        self._queue: deque[Frame] = deque()
        self._cond = threading.Condition()
        self._stop = threading.Event()
        self._done = False  # producer finished (end, error or stop)
        self._error: BaseException | None = None
        self._dropped = 0
        self._thread: threading.Thread | None = None

    @property
    def dropped(self) -> int:
        """Frames thrown away because the queue was full, plus the source's own."""
        return self._dropped + self.source.dropped

    def __iter__(self) -> Iterator[Frame]:
        with self._cond:
            if self._thread is None and not self._stop.is_set():
                self._thread = threading.Thread(
                    target=self._produce, name=f"onlook-decode-{display_name(self.info.uri)}", daemon=True)
                self._thread.start()
        return self._consume()

    # -- decoder thread

    def _produce(self) -> None:
        it = iter(self.source)
        try:
            for frame in it:
                if not self._put(frame):
                    break
        except BaseException as exc:  # handed to the consumer, never lost in the thread
            self._error = exc
        finally:
            close = getattr(it, "close", None)
            if close is not None:
                # The consumer may be closing it at the same moment (ValueError);
                # either way it is stopping and there is no one to tell.
                with contextlib.suppress(Exception):
                    close()
            with self._cond:
                self._done = True
                self._cond.notify_all()

    def _put(self, frame: Frame) -> bool:
        with self._cond:
            while len(self._queue) >= self.maxsize:
                if self._stop.is_set():
                    return False
                if self.drop_oldest:
                    self._queue.popleft()
                    self._dropped += 1
                else:
                    self._cond.wait()
            if self._stop.is_set():
                return False
            self._queue.append(frame)
            self._cond.notify_all()
            return True

    # -- consumer

    def _consume(self) -> Iterator[Frame]:
        while True:
            with self._cond:
                while not self._queue and not self._done and not self._stop.is_set():
                    self._cond.wait()
                if self._queue:
                    frame = self._queue.popleft()
                    self._cond.notify_all()  # room for a blocked decoder
                elif self._error is not None and not self._stop.is_set():
                    err, self._error = self._error, None
                    raise err
                else:
                    return
            yield frame

    def close(self) -> None:
        """Stop the decoder thread (waiting at most ``join_timeout_s``) and the source."""
        with self._cond:
            self._stop.set()
            self._queue.clear()
            self._cond.notify_all()
        # Close the source before joining: that interrupts a reconnect
        # backoff or a pacing wait in the thread, which may take seconds.
        self.source.close()
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(self.join_timeout_s)

    def __repr__(self) -> str:
        mode = "drop oldest" if self.drop_oldest else "block"
        return f"ThreadedSource({self.source!r}, maxsize={self.maxsize}, {mode}, dropped={self.dropped})"
