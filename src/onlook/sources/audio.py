"""Sound beside the frames: an audio track decoded in the source's worker, handed over bounded.

A file or live source whose container has an audio stream demuxes it with
the video and passes its packets to an :class:`AudioTap`. The tap decodes
them with PyAV, resamples to 16 kHz mono ``float32``
(``av.AudioResampler``), stamps each run with the *video's* stream clock
(so a word said at ``t`` sits beside the frame at ``t``, and sound before
the first frame or during a reconnect, when that clock has no offset, is
not kept) and puts :class:`~onlook.types.AudioChunk` values on an
:class:`AudioFeed`, the bounded queue a speech worker reads.

The Frame iterator is untouched: the feed is a side channel,
``source.audio`` (``None`` for a source without sound). A broken audio
track never stops the video: every decoding error is caught and counted
here, and after ``max_errors`` in a row the tap gives up on the track and
says why in :attr:`AudioTap.broken`.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable

import av
import numpy as np

from onlook.types import AudioChunk

__all__ = ["AudioFeed", "AudioTap", "first_audio_stream"]

log = logging.getLogger(__name__)

SAMPLE_RATE = 16000


def first_audio_stream(container: av.container.InputContainer) -> av.audio.stream.AudioStream | None:
    """The container's first audio stream whose codec FFmpeg can decode, or None."""
    try:
        for s in container.streams.audio:
            if s.codec_context is not None and s.codec_context.name:
                return s
    except Exception:  # noqa: BLE001 - a track FFmpeg cannot describe is a track we do without
        log.debug("audio stream unusable", exc_info=True)
    return None


class AudioFeed:
    """A bounded queue of audio chunks between a source's decoder and a speech worker.

    Args:
        max_s: Seconds of sound it holds at most.
        drop_oldest: When full, drop the oldest chunk and count it (live
            streams, paced files: the worker stays near the present); else the
            decoder waits (files read at full speed: nothing is lost, and
            ingest goes at the pace of transcription).

    Example:
        >>> feed = AudioFeed(max_s=1.0)
        >>> feed.put(AudioChunk("s", 0.0, np.zeros(16000, np.float32)))
        >>> feed.put(AudioChunk("s", 1.0, np.zeros(16000, np.float32)))
        >>> feed.dropped_s, feed.get(0).pts
        (1.0, 1.0)
    """

    def __init__(self, max_s: float = 30.0, *, drop_oldest: bool = True) -> None:
        self.max_s = max_s
        self.drop_oldest = drop_oldest
        self._q: deque[AudioChunk] = deque()
        self._held_s = 0.0
        self._cond = threading.Condition()
        self._closed = False
        self.dropped_s = 0.0
        self.received_s = 0.0

    @property
    def closed(self) -> bool:
        return self._closed

    def put(self, chunk: AudioChunk) -> None:
        """Queue a chunk (dropping the oldest, or waiting, when full); ignored once closed."""
        with self._cond:
            if self._closed:
                return
            self.received_s += chunk.duration
            while self._q and self._held_s + chunk.duration > self.max_s:
                if self.drop_oldest:
                    old = self._q.popleft()
                    self._held_s -= old.duration
                    self.dropped_s += old.duration
                else:
                    self._cond.wait(0.5)
                    if self._closed:
                        return
            self._q.append(chunk)
            self._held_s += chunk.duration
            self._cond.notify_all()

    def get(self, timeout: float | None = None) -> AudioChunk | None:
        """The oldest chunk, waiting up to ``timeout``; None on timeout or once closed and empty."""
        with self._cond:
            deadline = None if timeout is None else time.monotonic() + timeout
            while not self._q and not self._closed:
                left = None if deadline is None else deadline - time.monotonic()
                if left is not None and left <= 0:
                    return None
                self._cond.wait(left)
            if not self._q:
                return None
            chunk = self._q.popleft()
            self._held_s -= chunk.duration
            self._cond.notify_all()
            return chunk

    @property
    def pending(self) -> int:
        """Chunks queued now."""
        with self._cond:
            return len(self._q)

    @property
    def exhausted(self) -> bool:
        """Closed and nothing left to read."""
        with self._cond:
            return self._closed and not self._q

    def close(self) -> None:
        """No more chunks will come (end of stream, or stop); waiters wake up."""
        with self._cond:
            self._closed = True
            self._cond.notify_all()

    def abort(self) -> None:
        """Close and throw away what is queued (stopping, not finishing)."""
        with self._cond:
            self._closed = True
            self._q.clear()
            self._held_s = 0.0
            self._cond.notify_all()


class AudioTap:
    """Decodes one audio stream's packets into 16 kHz mono chunks on a feed.

    Args:
        feed: Where chunks go.
        stream_id: Stamped on every chunk.
        clock: Maps a raw audio time (seconds) to stream time, or returns
            ``None`` while the video clock has no offset (before the first
            frame, during a reconnect): that sound is not kept.
        chunk_s: Decoded sound is handed over in runs of about this length.
        max_errors: Undecodable packets in a row after which the track is given up.
    """

    def __init__(self, feed: AudioFeed, stream_id: str, clock: Callable[[float], float | None], *,
                 chunk_s: float = 0.2, max_errors: int = 50) -> None:
        self.feed = feed
        self.stream_id = stream_id
        self.clock = clock
        self.chunk_s = chunk_s
        self.max_errors = max_errors
        self.errors = 0
        self.consecutive = 0
        self.broken: str | None = None
        self._stream: av.audio.stream.AudioStream | None = None
        self._resampler: av.AudioResampler | None = None
        self._pending: list[np.ndarray] = []
        self._pending_t: float | None = None
        self._pending_n = 0
        self._next_raw: float | None = None

    def attach(self, stream: av.audio.stream.AudioStream | None) -> None:
        """Decode this stream from now on (a new connection): flushes what is pending."""
        self._emit()
        self._stream = stream
        self._resampler = None
        self._next_raw = None
        self.consecutive = 0

    @property
    def stream(self) -> av.audio.stream.AudioStream | None:
        """The stream being decoded, or None once given up."""
        return None if self.broken else self._stream

    def decode(self, packet: av.Packet) -> None:
        """Decode one packet of the attached stream; never raises."""
        if self.broken or self._stream is None:
            return
        try:
            frames = self._stream.codec_context.decode(packet)
            for frame in frames:
                self._frame(frame)
            self.consecutive = 0
        except Exception as e:  # noqa: BLE001 - a broken audio track must never stop the video
            self.errors += 1
            self.consecutive += 1
            self._resampler = None
            if self.consecutive >= self.max_errors:
                self.broken = f"{self.consecutive} undecodable audio packets in a row ({type(e).__name__})"
                log.warning("audio of stream %s given up: %s", self.stream_id, self.broken)
                self._emit()

    def _frame(self, frame: av.AudioFrame) -> None:
        raw = float(frame.pts * frame.time_base) if frame.pts is not None and frame.time_base else self._next_raw
        if frame.sample_rate:
            self._next_raw = (raw if raw is not None else 0.0) + frame.samples / frame.sample_rate
        if raw is None:
            return
        if self._resampler is None:
            self._resampler = av.AudioResampler(format="flt", layout="mono", rate=SAMPLE_RATE)
        parts = [o.to_ndarray().reshape(-1) for o in self._resampler.resample(frame)]
        samples = np.concatenate(parts).astype(np.float32, copy=False) if parts else np.zeros(0, np.float32)
        t = self.clock(raw)
        if t is None or not len(samples):
            self._emit()
            return
        if self._pending_t is not None and abs(self._pending_t + self._pending_n / SAMPLE_RATE - t) > 0.05:
            self._emit()  # not contiguous: hand over what is pending first
        if self._pending_t is None:
            self._pending_t = t
        self._pending.append(samples)
        self._pending_n += len(samples)
        if self._pending_n >= self.chunk_s * SAMPLE_RATE:
            self._emit()

    def _emit(self) -> None:
        if self._pending_t is not None and self._pending_n:
            samples = np.concatenate(self._pending) if len(self._pending) > 1 else self._pending[0]
            self.feed.put(AudioChunk(self.stream_id, self._pending_t, np.ascontiguousarray(samples, np.float32),
                                     SAMPLE_RATE, time.time()))
        self._pending, self._pending_t, self._pending_n = [], None, 0

    def finish(self) -> None:
        """End of the track: hand over what is pending and close the feed."""
        self._emit()
        self.feed.close()
