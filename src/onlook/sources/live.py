"""Live streams (RTSP, RTMP, HLS, TCP, UDP, webcams) behind a reconnect supervisor."""

from __future__ import annotations

import random
import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from urllib.parse import parse_qs, urlsplit

import av
from av.container import InputContainer
from av.video.stream import VideoStream

from onlook.errors import (
    ConfigError,
    SourceError,
    SourceExhausted,
    UnsupportedSource,
)
from onlook.sources._pyav import (
    FALLBACK_FPS,
    BestEffortPts,
    Damage,
    StreamClock,
    decode_video,
    display_name,
    open_container,
    reason_of,
    source_error,
    stream_duration,
    stream_fps,
    video_stream,
)
from onlook.sources.audio import AudioFeed, AudioTap, first_audio_stream
from onlook.sources.base import BaseSource, SourceInfo, SourceKind, decode_pixels
from onlook.types import Frame, Gap

__all__ = ["Backoff", "LiveSource", "live_options"]

CONNECT_ATTEMPTS = 5
"""Retries of a live source's first connection when neither ``connect_attempts``
nor ``reconnect_attempts`` says otherwise."""

RECONNECT_JITTER = 0.25
"""Each reconnect delay is shortened by up to this fraction at random, so
streams that lost the same camera or network do not all retry in step."""

_POLL_S = 0.05
"""How often a wait checks an outside stop event (a close is seen at once)."""

MAX_CONSECUTIVE_DAMAGE = 250
"""Damaged packets in a row after which a live stream counts as broken and is
reopened (a few are normal on lossy links and are simply skipped)."""

# Enough to find the codec and frame size of one stream without waiting
# seconds for FFmpeg's default probing.
_PROBE = {"analyzeduration": "1000000", "probesize": "1000000"}


def live_options(uri: str) -> dict[str, str]:
    """FFmpeg input options for low latency on a live URI.

    ``fflags=nobuffer`` is deliberately absent: it makes FFmpeg throw away
    the packets it read while probing, which for a stream with one keyframe
    at the start (what ``ffmpeg -f mpegts`` sends) loses that keyframe and
    with it every frame until the next one.
    """
    scheme = urlsplit(uri).scheme.lower() if "://" in uri else ""
    opts = dict(_PROBE)
    if scheme in ("rtsp", "rtsps"):
        # TCP interleaving: no UDP packet loss, works through NAT and firewalls.
        opts.update(rtsp_transport="tcp", max_delay="500000")
    elif scheme == "udp":
        # Keep reading when the consumer is slow rather than aborting.
        opts.update(overrun_nonfatal="1", fifo_size="50000")
    return opts


class Backoff:
    """Exponential reconnect delays: ``base``, doubling, capped at ``cap``, with optional jitter.

    Args:
        base: First delay in seconds.
        cap: Largest delay in seconds (jitter never goes above it).
        jitter: Fraction in ``[0, 1)`` by which each delay is shortened at
            random; ``0`` gives the exact sequence.
        rng: Random source for the jitter (a seeded one for reproducible delays).

    Example:
        >>> b = Backoff(0.5, 3.0)
        >>> [b.next() for _ in range(5)]
        [0.5, 1.0, 2.0, 3.0, 3.0]
        >>> b.reset(); b.next()
        0.5
        >>> all(1.5 <= Backoff(2.0, 30.0, jitter=0.25).next() <= 2.0 for _ in range(100))
        True
    """

    def __init__(self, base: float, cap: float, *, jitter: float = 0.0, rng: random.Random | None = None) -> None:
        if not 0.0 <= jitter < 1.0:
            raise ConfigError(f"jitter must be in [0, 1), got {jitter!r}")
        self.base = base
        self.cap = max(cap, base)
        self.jitter = jitter
        self._rng = rng or random.Random()
        self._delay = base

    def next(self) -> float:
        """The delay to wait now; the one after will be twice as long (up to ``cap``)."""
        delay = self._delay
        self._delay = min(self._delay * 2, self.cap)
        if self.jitter:
            delay *= 1.0 - self.jitter * self._rng.random()
        return delay

    def reset(self) -> None:
        """Start again from ``base`` (after a frame got through)."""
        self._delay = self.base


@dataclass(slots=True)
class _Connection:
    container: InputContainer
    stream: VideoStream

    def close(self) -> None:
        self.container.close()


def _listen_address(uri: str) -> tuple[str, int] | None:
    """Where a ``tcp://HOST:PORT?listen=1`` URL listens (to wake it up), else None."""
    parts = urlsplit(uri)
    if parts.scheme.lower() != "tcp" or parts.port is None:
        return None
    if parse_qs(parts.query).get("listen", ["0"])[-1] in ("", "0"):
        return None
    host = parts.hostname or "127.0.0.1"
    if host in ("0.0.0.0", "::"):
        host = "127.0.0.1" if host == "0.0.0.0" else "::1"
    return host, parts.port


class _Attempt:
    """One connection attempt in a helper thread, which a stop can walk away from.

    PyAV has no way to abort ``av.open`` from outside: its interrupt callback
    only checks the open timeout, and the container does not exist until the
    open returns, so there is nothing to close. The open therefore runs here;
    a caller told to stop abandons it and returns at once, and whatever the
    open returns later (within the open timeout) is closed here, never
    handed out. A ``listen=1`` URL is also woken by a connection of our own,
    so that it stops listening (and frees its port) at once.
    """

    def __init__(self, open_fn: Callable[[], _Connection], uri: str) -> None:
        self._open = open_fn
        self._uri = uri
        self.done = threading.Event()
        self._lock = threading.Lock()
        self._abandoned = False
        self._conn: _Connection | None = None
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name=f"onlook-connect-{display_name(uri)}", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        conn: _Connection | None = None
        error: BaseException | None = None
        try:
            conn = self._open()
        except BaseException as exc:  # handed to the caller, never lost in the thread
            error = exc
        with self._lock:
            abandoned = self._abandoned
            if not abandoned:
                self._conn, self._error = conn, error
        if abandoned and conn is not None:
            conn.close()
        self.done.set()

    def result(self) -> _Connection:
        """The connection, or the attempt's error raised (call once ``done`` is set)."""
        with self._lock:
            if self._error is not None:
                raise self._error
            assert self._conn is not None
            conn, self._conn = self._conn, None
            return conn

    def abandon(self) -> None:
        """Walk away: close what the open returns, and stop a listening open from waiting."""
        with self._lock:
            self._abandoned = True
            conn, self._conn = self._conn, None
        if conn is not None:
            conn.close()
        address = _listen_address(self._uri)
        if address is not None and not self.done.is_set():
            threading.Thread(target=self._wake, args=(address,), name="onlook-connect-wake", daemon=True).start()

    def _wake(self, address: tuple[str, int]) -> None:
        # A few tries: the open may not have bound its socket yet.
        deadline = time.monotonic() + 2.0
        while not self.done.is_set() and time.monotonic() < deadline:
            try:
                socket.create_connection(address, timeout=0.5).close()
            except OSError:
                pass
            self.done.wait(0.05)


class LiveSource(BaseSource):
    """A network stream or capture device that reconnects when it fails.

    The first connection is made when the source is built, retried
    ``connect_attempts`` times (a source that never opened is refused, with
    its reason). While iterating, when the stream errors, stalls longer than
    ``read_timeout_s`` or ends, the supervisor closes it and keeps reopening
    it, waiting between attempts (``reconnect_backoff_s``, doubling up to
    ``reconnect_backoff_max_s``, each delay shortened by up to a quarter at
    random). By default it never gives up: a camera that reboots, or a
    network down for hours, is an outage, not the end of the watch;
    ``reconnect_attempts`` (in a row) or ``max_outage_s`` (seconds down)
    bound it when wanted.

    Every outage is a :class:`~onlook.types.Gap`, recorded *open*
    (``end=None``) as soon as it is detected and replaced in :attr:`gaps` by
    its closed version when the first frame after it arrives; ``on_gap``
    hears both. A source that gives up leaves its last gap open and raises
    :class:`~onlook.errors.SourceExhausted`; one closed or stopped during an
    outage leaves it open too (the stream never came back while watched).

    ``seq`` and ``pts`` run on over reconnects: the first frame is at
    ``pts=0`` and after an outage ``pts`` resumes from the last value plus the
    wall-clock time that passed, so stream time keeps tracking real time and
    ``gap.end - gap.start`` is the length of the outage. A gap's
    ``wall_start`` is the wall time of the last frame before it.

    Stopping never waits for a connection attempt: :meth:`close`, or the
    ``stop`` event of an owner that cannot reach the source yet (it is
    still being built), ends the waits between attempts and walks away from
    an attempt in flight (see :class:`_Attempt`). A source stopped while its
    first connection is made is returned closed and yields nothing.

    Args:
        uri: ``rtsp://``, ``rtmp://``, ``http(s)://``, ``tcp://``, ``udp://``
            URL or a ``/dev/videoN`` device.
        stream_id: Name stamped on every frame.
        kind: ``"live"`` or ``"webcam"`` (recorded in :attr:`info`).
        format: Force an FFmpeg input format (``"v4l2"`` for devices).
        options: FFmpeg options; default :func:`live_options` for the URI.
        open_timeout_s: Give up one connection attempt after this long.
        read_timeout_s: A stream silent this long is stalled.
        reconnect_attempts: Reopen attempts in a row after which an outage
            ends the source; ``None`` (default) for no limit.
        max_outage_s: Seconds one outage may last (from the last frame)
            before the source gives up; ``None`` (default) for no limit.
        connect_attempts: Retries of the very first connection; default
            ``reconnect_attempts``, or :data:`CONNECT_ATTEMPTS` when that is
            ``None``.
        reconnect_backoff_s: First reconnect delay.
        reconnect_backoff_max_s: Largest reconnect delay.
        on_gap: Called (from the thread iterating) with each gap when its
            outage is detected and again when it closes.
        target: Called before every connection attempt with no argument; returns the
            URL and options to open this time (a server's
            :meth:`~onlook.sources.netpolicy.NetPolicy.source_target`: resolved, checked
            and pinned anew each time). An error it raises fails the attempt.
        stop: An outside stop signal, checked between and during attempts.
        audio: Where to put the stream's sound (16 kHz mono, on the frames'
            clock; none is kept while the picture is down); ``None`` ignores it.

    Raises:
        SourceUnreachable: The first connection failed on every attempt
            (likewise SourceTimeout, SourceCorrupt... for other reasons).
        UnsupportedSource: The URL opens but holds no video stream.
        SourceExhausted: (while iterating) the reconnect attempts or the
            longest outage allowed ran out.

    Example:
        >>> src = LiveSource("rtsp://cam.local/stream", max_outage_s=3600)  # doctest: +SKIP
        >>> for frame in src:  # doctest: +SKIP
        ...     ...
    """

    def __init__(
        self,
        uri: str,
        *,
        stream_id: str = "default",
        kind: SourceKind = "live",
        format: str | None = None,
        options: dict[str, str] | None = None,
        open_timeout_s: float = 10.0,
        read_timeout_s: float = 10.0,
        reconnect_attempts: int | None = None,
        max_outage_s: float | None = None,
        connect_attempts: int | None = None,
        reconnect_backoff_s: float = 0.5,
        reconnect_backoff_max_s: float = 30.0,
        on_gap: Callable[[Gap], None] | None = None,
        keep: Callable[[float], bool] | None = None,
        thumb: Callable[[], tuple[int, int] | None] | None = None,
        max_width: int | None = None,
        target: Callable[[], tuple[str, dict[str, str]]] | None = None,
        stop: threading.Event | None = None,
        audio: AudioFeed | None = None,
    ) -> None:
        if connect_attempts is None:
            connect_attempts = CONNECT_ATTEMPTS if reconnect_attempts is None else reconnect_attempts
        if (reconnect_attempts is not None and reconnect_attempts < 0) or connect_attempts < 0:
            raise ConfigError(f"reconnect and connect attempts must be >= 0, got {reconnect_attempts}, "
                              f"{connect_attempts}")
        if max_outage_s is not None and not max_outage_s > 0:
            raise ConfigError(f"max_outage_s must be positive, got {max_outage_s!r}")
        if not (open_timeout_s > 0 and read_timeout_s > 0 and reconnect_backoff_s > 0):
            raise ConfigError("timeouts and reconnect_backoff_s must be positive")
        self._uri = uri
        self._format = format
        self._options = live_options(uri) if options is None else dict(options)
        self._target = target
        self._timeout = (float(open_timeout_s), float(read_timeout_s))
        self._attempts = None if reconnect_attempts is None else int(reconnect_attempts)
        self._connect_attempts = int(connect_attempts)
        self._max_outage = None if max_outage_s is None else float(max_outage_s)
        self._backoff = Backoff(reconnect_backoff_s, reconnect_backoff_max_s, jitter=RECONNECT_JITTER)
        self._on_gap = on_gap
        self._keep = keep  # consumer's sampler: skip pixel conversion of frames it won't use
        self._thumb = thumb  # ... and decode those it only glances at straight to a thumbnail
        self._max_width = max_width
        self._stop = stop
        self.damage = Damage()

        self._audio_feed: AudioFeed | None = None
        self._tap: AudioTap | None = None
        # Built before the first connection so close() works during its retries.
        super().__init__(SourceInfo(uri, kind, None, None, 0, 0, None), stream_id)
        conn = self._connect_first()
        if conn is None:  # stopped while connecting: a closed source that yields nothing
            self._finite = False
            self.close()
            return
        stream = conn.stream
        duration = None
        if urlsplit(uri).scheme.lower() in ("http", "https"):
            # An HTTP URL with a known end (a file, a finished HLS playlist)
            # is read once like a file; reconnecting would replay it.
            duration = stream_duration(conn.container, stream)
        self._finite = duration is not None
        self._info = SourceInfo(uri=uri, kind="file" if self._finite else kind,
                                fps=stream_fps(stream), duration_s=duration,
                                width=stream.codec_context.width,
                                height=stream.codec_context.height, frame_count=None)
        self._resource = conn
        self._audio_feed = audio if audio is not None and first_audio_stream(conn.container) is not None else None
        # Sound is stamped on the frames' clock, so none is kept on a connection until
        # its first frame has set that clock (after a reconnect the old offset is stale).
        self._clock: StreamClock | None = None
        self._clock_set = False
        self._tap = (AudioTap(self._audio_feed, stream_id,
                              lambda raw: self._clock.map(raw) if self._clock and self._clock_set else None)
                     if self._audio_feed is not None else None)

    @property
    def audio(self) -> AudioFeed | None:
        """The stream's sound as it is decoded with the frames; None when it has no audio track."""
        return self._audio_feed

    @property
    def corrupt_packets(self) -> int:
        """Damaged packets skipped so far (normal in small numbers on lossy links)."""
        return self.damage.packets

    # -- stopping

    def _stopping(self) -> bool:
        return self._closed.is_set() or (self._stop is not None and self._stop.is_set())

    def _sleep(self, seconds: float) -> bool:
        """Wait ``seconds``; True (at once) when the source is closed or told to stop."""
        if self._stop is None:
            return self._closed.wait(seconds)
        deadline = time.monotonic() + seconds
        while not self._stopping():
            left = deadline - time.monotonic()
            if left <= 0:
                return False
            self._closed.wait(min(left, _POLL_S))
        return True

    # -- connecting

    def _open(self) -> _Connection:
        uri, options = self._target() if self._target is not None else (self._uri, self._options)
        container = open_container(uri, network=True, format=self._format,
                                   options=options, timeout=self._timeout)
        try:
            stream = video_stream(container, self._uri)
            # Latency over throughput: slice threads only (frame threads hold
            # frames back) and no decoder-side reordering delay.
            stream.codec_context.thread_type = "SLICE"
            stream.codec_context.flags |= av.codec.context.Flags.low_delay
        except BaseException:
            container.close()
            raise
        return _Connection(container, stream)

    def _attempt(self) -> _Connection | None:
        """One connection attempt; None when a stop came first (the attempt is abandoned)."""
        if self._stopping():
            return None
        attempt = _Attempt(self._open, self._uri)
        try:
            while not attempt.done.wait(_POLL_S):
                if self._stopping():
                    attempt.abandon()
                    return None
        except BaseException:  # Ctrl-C while connecting: nothing is left open or listening
            attempt.abandon()
            raise
        if self._stopping():
            attempt.abandon()
            return None
        return attempt.result()

    def _connect_first(self) -> _Connection | None:
        tries = 0
        while True:
            tries += 1
            try:
                conn = self._attempt()
            except UnsupportedSource:
                raise  # opened fine and holds no video: retrying will not help
            except SourceError as exc:
                if tries > self._connect_attempts:
                    if tries > 1:
                        exc.args = (f"{exc} (gave up after {tries} attempts)",)
                    raise
                if self._sleep(self._backoff.next()):
                    return None
            else:
                self._backoff.reset()
                return conn

    # -- reading

    def _frames(self) -> Iterator[Frame]:
        conn = self._take_resource()
        if not isinstance(conn, _Connection):
            return
        clock: StreamClock | None = None
        seq = 0
        attempts = 0  # reopen attempts in the outage going on
        last_wall: float | None = None
        outage: _Outage | None = None
        while True:
            reason = "stream ended"
            try:
                if clock is None:
                    clock = self._clock = StreamClock(1.0 / (stream_fps(conn.stream) or FALLBACK_FPS))
                if self._tap is not None:
                    self._clock_set = False
                    self._tap.attach(first_audio_stream(conn.container))
                best_effort = BestEffortPts()
                for vf in self._decode(conn):
                    wall = time.time()
                    if outage is not None:
                        # The first frame after an outage ends it, whether or not the consumer keeps it.
                        clock.resume(wall - outage.gap.wall_start)
                        pts = clock(best_effort(vf))
                        self._replace(outage.index, Gap(outage.gap.start, pts, outage.gap.wall_start, wall,
                                                        outage.gap.reason))
                        outage = None
                        attempts = 0
                        self._backoff.reset()
                    else:
                        pts = clock(best_effort(vf))
                    last_wall = wall
                    self._clock_set = True  # the sound of this connection can be stamped now
                    if self._keep is not None and not self._keep(pts):
                        seq += 1  # seq counts decoded frames, so skipped ones leave a visible hole
                        continue
                    image, small = decode_pixels(vf, self._max_width, self._thumb)
                    yield Frame(self.stream_id, seq, pts, wall, image, thumbnail=small)
                    seq += 1
                    if self._stopping():
                        return
            except SourceError as exc:
                if self._finite:
                    raise
                reason = reason_of(exc)
            finally:
                if self._tap is not None:
                    self._tap.attach(None)  # hand over the sound of this connection
                conn.close()
            if self._stopping() or self._finite:
                return
            if outage is None:
                start = clock.last if clock is not None and clock.last is not None else 0.0
                wall_start = last_wall if last_wall is not None else time.time()
                outage = _Outage(len(self._gaps), Gap(start, None, wall_start, None, reason),
                                 time.monotonic() - max(0.0, time.time() - wall_start))
                self._record(outage.gap)
            while True:
                down = time.monotonic() - outage.since
                if self._attempts is not None and attempts >= self._attempts:
                    raise source_error(
                        SourceExhausted, "read", self._uri,
                        f"gave up after {self._attempts} reconnect attempt(s) (last: {reason})")
                if self._max_outage is not None and down >= self._max_outage:
                    raise source_error(
                        SourceExhausted, "read", self._uri,
                        f"gave up after {down:.0f}s down, {attempts} reconnect attempt(s) (last: {reason})")
                attempts += 1
                delay = self._backoff.next()
                if self._max_outage is not None:
                    delay = min(delay, self._max_outage - down)
                if self._sleep(delay):
                    return
                try:
                    opened = self._attempt()
                except SourceError as exc:
                    reason = reason_of(exc)
                    continue
                if opened is None:
                    return  # stopped while connecting
                conn = opened
                break

    def _decode(self, conn: _Connection) -> Iterator[av.VideoFrame]:
        return decode_video(conn.container, conn.stream, self.damage, uri=self._uri, network=True,
                            read_timeout_s=self._timeout[1],
                            max_consecutive_damage=MAX_CONSECUTIVE_DAMAGE, audio=self._tap)

    def _record(self, gap: Gap) -> None:
        self._gaps.append(gap)
        if self._on_gap is not None:
            self._on_gap(gap)

    def _replace(self, index: int, gap: Gap) -> None:
        self._gaps[index] = gap
        if self._on_gap is not None:
            self._on_gap(gap)

    def __repr__(self) -> str:
        return f"LiveSource({display_name(self._uri)!r}, {self._info.kind}, gaps={len(self._gaps)})"


@dataclass(slots=True)
class _Outage:
    index: int  # of its gap in ``gaps``
    gap: Gap  # open
    since: float  # monotonic time of the last frame before it
