"""Live streams (RTSP, RTMP, HLS, TCP, UDP, webcams) behind a reconnect supervisor."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from urllib.parse import urlsplit

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
from onlook.sources.base import BaseSource, SourceInfo, SourceKind, downscale
from onlook.types import Frame, Gap

__all__ = ["Backoff", "LiveSource", "live_options"]

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
    """Exponential reconnect delays: ``base``, doubling, capped at ``cap``.

    Args:
        base: First delay in seconds.
        cap: Largest delay in seconds.

    Example:
        >>> b = Backoff(0.5, 3.0)
        >>> [b.next() for _ in range(5)]
        [0.5, 1.0, 2.0, 3.0, 3.0]
        >>> b.reset(); b.next()
        0.5
    """

    def __init__(self, base: float, cap: float) -> None:
        self.base = base
        self.cap = max(cap, base)
        self._delay = base

    def next(self) -> float:
        """The delay to wait now; the one after will be twice as long."""
        delay = self._delay
        self._delay = min(self._delay * 2, self.cap)
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


class LiveSource(BaseSource):
    """A network stream or capture device that reconnects when it fails.

    The first connection is made when the source is built. While iterating,
    when the stream errors, stalls longer than ``read_timeout_s`` or ends,
    the supervisor closes it, waits (``reconnect_backoff_s``, doubling up to
    ``reconnect_backoff_max_s``), reopens it, and records a
    :class:`~onlook.types.Gap` from the last frame before the outage to the
    first one after. A frame getting through resets both the delay and the
    attempt count.

    ``seq`` and ``pts`` run on over reconnects: the first frame is at
    ``pts=0`` and after an outage ``pts`` resumes from the last value plus the
    wall-clock time that passed, so stream time keeps tracking real time and
    ``gap.end - gap.start`` is the length of the outage. A gap's
    ``wall_start`` is the wall time of the last frame before it. When the
    attempts run out, a last gap with ``end=None`` is recorded before
    :class:`~onlook.errors.SourceExhausted` is raised.

    Args:
        uri: ``rtsp://``, ``rtmp://``, ``http(s)://``, ``tcp://``, ``udp://``
            URL or a ``/dev/videoN`` device.
        stream_id: Name stamped on every frame.
        kind: ``"live"`` or ``"webcam"`` (recorded in :attr:`info`).
        format: Force an FFmpeg input format (``"v4l2"`` for devices).
        options: FFmpeg options; default :func:`live_options` for the URI.
        open_timeout_s: Give up one connection attempt after this long.
        read_timeout_s: A stream silent this long is stalled.
        reconnect_attempts: Reopen attempts after a failure before giving up;
            also the retries of the very first connection.
        reconnect_backoff_s: First reconnect delay.
        reconnect_backoff_max_s: Largest reconnect delay.
        on_gap: Called with each :class:`~onlook.types.Gap` as it is recorded.
        audio: Where to put the stream's sound (16 kHz mono, on the frames'
            clock; none is kept while the picture is down); ``None`` ignores it.

    Raises:
        SourceUnreachable: The first connection failed on every attempt
            (likewise SourceTimeout, SourceCorrupt... for other reasons).
        UnsupportedSource: The URL opens but holds no video stream.
        SourceExhausted: (while iterating) reconnect attempts ran out.

    Example:
        >>> src = LiveSource("rtsp://cam.local/stream", reconnect_attempts=10)  # doctest: +SKIP
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
        reconnect_attempts: int = 5,
        reconnect_backoff_s: float = 0.5,
        reconnect_backoff_max_s: float = 30.0,
        on_gap: Callable[[Gap], None] | None = None,
        keep: Callable[[float], bool] | None = None,
        max_width: int | None = None,
        audio: AudioFeed | None = None,
    ) -> None:
        if reconnect_attempts < 0:
            raise ConfigError(f"reconnect_attempts must be >= 0, got {reconnect_attempts}")
        if not (open_timeout_s > 0 and read_timeout_s > 0 and reconnect_backoff_s > 0):
            raise ConfigError("timeouts and reconnect_backoff_s must be positive")
        self._uri = uri
        self._format = format
        self._options = live_options(uri) if options is None else dict(options)
        self._timeout = (float(open_timeout_s), float(read_timeout_s))
        self._attempts = int(reconnect_attempts)
        self._backoff = Backoff(reconnect_backoff_s, reconnect_backoff_max_s)
        self._on_gap = on_gap
        self._keep = keep  # consumer's sampler: skip pixel conversion of frames it won't use
        self._max_width = max_width
        self.damage = Damage()

        # Built before the first connection so close() works during its retries.
        super().__init__(SourceInfo(uri, kind, None, None, 0, 0, None), stream_id)
        conn = self._connect_first()
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

    # -- connecting

    def _open(self) -> _Connection:
        container = open_container(self._uri, network=True, format=self._format,
                                   options=self._options, timeout=self._timeout)
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

    def _connect_first(self) -> _Connection:
        tries = 0
        while True:
            tries += 1
            try:
                conn = self._open()
            except UnsupportedSource:
                raise  # opened fine and holds no video: retrying will not help
            except SourceError as exc:
                if tries > self._attempts or self._closed.wait(self._backoff.next()):
                    if tries > 1:
                        exc.args = (f"{exc} (gave up after {tries} attempts)",)
                    raise
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
        attempts_left = self._attempts
        last_wall: float | None = None
        outage: tuple[float, float, str] | None = None  # (start pts, wall_start, reason)
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
                        clock.resume(wall - (last_wall if last_wall is not None else outage[1]))
                    pts = clock(best_effort(vf))
                    self._clock_set = True
                    if self._keep is not None and not self._keep(pts):
                        seq += 1  # seq counts decoded frames, so skipped ones leave a visible hole
                        last_wall = wall
                        continue
                    image = downscale(vf.to_ndarray(format="bgr24"), self._max_width)
                    if outage is not None:
                        self._record(Gap(outage[0], pts, outage[1], wall, outage[2]))
                        outage = None
                    attempts_left = self._attempts
                    self._backoff.reset()
                    yield Frame(self.stream_id, seq, pts, wall, image)
                    seq += 1
                    last_wall = wall
                    if self._closed.is_set():
                        return
            except SourceError as exc:
                if self._finite:
                    raise
                reason = reason_of(exc)
            finally:
                if self._tap is not None:
                    self._tap.attach(None)  # hand over the sound of this connection
                conn.close()
            if self._closed.is_set() or self._finite:
                return
            if outage is None:
                start = clock.last if clock is not None and clock.last is not None else 0.0
                outage = (start, last_wall if last_wall is not None else time.time(), reason)
            while True:
                if attempts_left <= 0:
                    self._record(Gap(outage[0], None, outage[1], None, reason))
                    raise source_error(
                        SourceExhausted, "read", self._uri,
                        f"gave up after {self._attempts} reconnect attempt(s) (last: {reason})")
                attempts_left -= 1
                if self._closed.wait(self._backoff.next()):
                    return
                try:
                    conn = self._open()
                    break
                except SourceError as exc:
                    reason = reason_of(exc)

    def _decode(self, conn: _Connection) -> Iterator[av.VideoFrame]:
        return decode_video(conn.container, conn.stream, self.damage, uri=self._uri, network=True,
                            read_timeout_s=self._timeout[1],
                            max_consecutive_damage=MAX_CONSECUTIVE_DAMAGE, audio=self._tap)

    def _record(self, gap: Gap) -> None:
        self._gaps.append(gap)
        if self._on_gap is not None:
            self._on_gap(gap)

    def __repr__(self) -> str:
        return f"LiveSource({display_name(self._uri)!r}, {self._info.kind}, gaps={len(self._gaps)})"
