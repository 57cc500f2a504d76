"""PyAV plumbing shared by the file, live and image sources.

Everything that touches ``av`` directly lives here: opening a container with
timeouts, decoding packet by packet so one damaged packet does not end a
stream, turning raw frame times into a monotonic clock, and mapping
``av.error`` / ``OSError`` onto onlook's exception tree so that no raw FFmpeg
error ever reaches a caller.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import av
import av.error
from av.container import InputContainer
from av.video.codeccontext import VideoCodecContext
from av.video.stream import VideoStream

from onlook.errors import (
    SourceCorrupt,
    SourceError,
    SourceNotFound,
    SourceTimeout,
    SourceUnreachable,
    UnsupportedSource,
)

FALLBACK_FPS = 25.0
"""Frame rate assumed to step pts when neither the frame nor the stream has one."""

# FFmpeg's own error classes, plus the OSErrors PyAV raises for I/O.
_AV_ERRORS: tuple[type[BaseException], ...] = (av.error.FFmpegError, OSError)


def display_name(uri: str) -> str:
    """The URI as it may appear in messages: any password replaced by ``***``."""
    if "://" not in uri:
        return uri
    parts = urlsplit(uri)
    if parts.password is None:
        return uri
    host = parts.hostname or ""
    if parts.port is not None:
        host = f"{host}:{parts.port}"
    netloc = f"{parts.username}:***@{host}"
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))


def source_error(cls: type[SourceError], action: str, uri: str, reason: str) -> SourceError:
    """Build ``cls("cannot ACTION 'uri': REASON")`` and remember the bare reason.

    The reason is kept on the exception (``exc.reason``) so that a reconnect
    supervisor can record it in a :class:`~onlook.types.Gap` without parsing
    the message.
    """
    err = cls(f"cannot {action} {display_name(uri)!r}: {reason}", source=uri)
    err.reason = reason  # type: ignore[attr-defined]  # an attribute only these errors carry
    return err


def reason_of(err: BaseException) -> str:
    """The short reason stored by :func:`source_error`, else the message."""
    return str(getattr(err, "reason", None) or err)


def _strerror(exc: BaseException) -> str:
    text = getattr(exc, "strerror", None) or str(exc) or type(exc).__name__
    return text[:1].lower() + text[1:]


def map_error(
    exc: BaseException,
    uri: str,
    *,
    action: str,
    network: bool,
    timeout_s: float | None = None,
) -> SourceError:
    """Translate a PyAV or OS error into the matching :class:`SourceError`.

    Args:
        exc: What PyAV raised.
        uri: The source, for the message.
        action: ``"open"`` or ``"read"``, for the message.
        network: Whether the source is reached over the network; then plain
            I/O errors mean the peer is unreachable rather than a broken file.
        timeout_s: The timeout in force, for the message of a timeout.
    """
    if isinstance(exc, SourceError):
        return exc
    took = f" after {timeout_s:g}s" if timeout_s else ""
    if isinstance(exc, av.error.ExitError):
        # PyAV's interrupt callback aborts a blocking call once its timeout
        # passes, and FFmpeg reports that as "immediate exit requested".
        return source_error(SourceTimeout, action, uri, f"timed out{took}")
    if isinstance(exc, TimeoutError):
        return source_error(SourceTimeout, action, uri, f"timed out{took}")
    if isinstance(exc, av.error.HTTPNotFoundError):
        return source_error(SourceNotFound, action, uri, "HTTP 404 not found")
    if isinstance(exc, av.error.HTTPError):
        return source_error(SourceUnreachable, action, uri, _strerror(exc))
    if isinstance(exc, FileNotFoundError):
        return source_error(SourceNotFound, action, uri, "no such file")
    if isinstance(exc, PermissionError):
        return source_error(SourceError, action, uri, "permission denied")
    if isinstance(exc, ConnectionRefusedError):
        return source_error(SourceUnreachable, action, uri, "connection refused")
    if isinstance(exc, ConnectionError):
        return source_error(SourceUnreachable, action, uri, _strerror(exc))
    if isinstance(exc, av.error.ProtocolNotFoundError):
        return source_error(UnsupportedSource, action, uri, "FFmpeg has no protocol for this URL")
    if isinstance(exc, (av.error.DemuxerNotFoundError, av.error.DecoderNotFoundError,
                        av.error.PatchWelcomeError)):
        return source_error(UnsupportedSource, action, uri, _strerror(exc))
    if isinstance(exc, av.error.InvalidDataError):
        return source_error(SourceCorrupt, action, uri, "invalid data")
    if network and isinstance(exc, OSError):
        # FFmpeg reports an unknown host or a dropped route as a bare EIO.
        return source_error(SourceUnreachable, action, uri, _strerror(exc))
    return source_error(SourceError, action, uri, _strerror(exc))


# First bytes of containers FFmpeg reads. A file that starts like one of these
# but will not open is damaged (SourceCorrupt); anything else is not media at
# all (UnsupportedSource).
_MAGIC: tuple[tuple[int, bytes], ...] = (
    (4, b"ftyp"), (4, b"moov"), (4, b"mdat"), (4, b"free"), (4, b"wide"), (4, b"skip"),
    (0, b"\x1a\x45\xdf\xa3"),  # Matroska / WebM
    (0, b"RIFF"),  # AVI, WAV
    (0, b"FLV"),
    (0, b"OggS"),
    (0, b"\x00\x00\x01\xba"),  # MPEG program stream
    (0, b"\x00\x00\x01\xb3"),  # MPEG-1/2 video
    (0, b"\x00\x00\x00\x01"),  # H.264/H.265 Annex B
    (0, b"\x30\x26\xb2\x75"),  # ASF / WMV
    (0, b"\xff\xd8\xff"),  # JPEG
    (0, b"\x89PNG"),
    (0, b"GIF8"),
    (0, b"BM"),
)


def looks_like_media(path: str | Path) -> bool:
    """Whether a file starts with the signature of a container FFmpeg reads."""
    try:
        with open(path, "rb") as f:
            head = f.read(512)
    except OSError:
        return False
    if len(head) >= 189 and head[0] == 0x47 and head[188] == 0x47:  # MPEG-TS sync bytes
        return True
    return any(head[off:off + len(sig)] == sig for off, sig in _MAGIC)


def open_container(
    uri: str,
    *,
    network: bool,
    format: str | None = None,
    options: dict[str, str] | None = None,
    timeout: tuple[float | None, float | None] | None = None,
) -> InputContainer:
    """``av.open`` for reading, with every failure mapped to a SourceError."""
    started = time.monotonic()
    try:
        return av.open(uri, "r", format=format, options=dict(options or {}), timeout=timeout,
                       metadata_errors="replace")
    except _AV_ERRORS as exc:
        open_timeout = timeout[0] if timeout else None
        if (network and open_timeout and isinstance(exc, av.error.InvalidDataError)
                and time.monotonic() - started >= 0.9 * open_timeout):
            # Some protocols (RTSP) turn the timeout interrupt into "invalid data".
            raise source_error(SourceTimeout, "open", uri, f"timed out after {open_timeout:g}s") from exc
        if not network and isinstance(exc, av.error.InvalidDataError):
            raise _invalid_file(uri) from exc
        raise map_error(exc, uri, action="open", network=network, timeout_s=open_timeout) from exc


def _invalid_file(uri: str) -> SourceError:
    path = uri[len("file://"):] if uri.startswith("file://") else uri
    try:
        empty = Path(path).stat().st_size == 0
    except OSError:
        empty = False
    if empty:
        return source_error(UnsupportedSource, "open", uri, "the file is empty")
    if looks_like_media(path):
        return source_error(SourceCorrupt, "open", uri,
                            "the container is damaged or truncated (FFmpeg found invalid data)")
    return source_error(UnsupportedSource, "open", uri, "not a video file FFmpeg can read")


def video_stream(container: InputContainer, uri: str) -> VideoStream:
    """The first real video stream (cover art does not count)."""
    for stream in container.streams.video:
        if not stream.disposition & av.stream.Disposition.attached_pic:
            return stream
    found: list[str] = sorted({str(s.type) for s in container.streams}) or ["nothing"]
    raise source_error(UnsupportedSource, "open", uri, f"no video stream (found {', '.join(found)})")


def stream_fps(stream: VideoStream) -> float | None:
    """The stream's native frame rate, when the container knows one."""
    for rate in (stream.average_rate, stream.guessed_rate, stream.base_rate):
        if rate and 0 < float(rate) <= 1000:
            return float(rate)
    return None


def stream_duration(container: InputContainer, stream: VideoStream) -> float | None:
    if stream.duration is not None and stream.time_base:
        return float(stream.duration * stream.time_base)
    if container.duration is not None:
        return container.duration / av.time_base
    return None


@dataclass(slots=True)
class Damage:
    """Packets the decoder rejected, counted while decoding."""

    packets: int = 0
    consecutive: int = 0
    last_pts: float | None = None


def decode_video(
    container: InputContainer,
    stream: VideoStream,
    damage: Damage,
    *,
    uri: str,
    network: bool,
    read_timeout_s: float | None = None,
    max_consecutive_damage: int | None = None,
    audio: Any = None,
) -> Iterator[av.VideoFrame]:
    """Demux and decode one video stream, surviving damaged packets.

    With ``audio`` (an :class:`~onlook.sources.audio.AudioTap`), the packets
    of its stream are demuxed too and handed to it; it never raises, so a
    broken audio track cannot end the video.

    A packet the decoder rejects is skipped and counted in ``damage`` (the
    caller decides whether that is fatal), unless ``max_consecutive_damage``
    packets in a row were rejected: then SourceCorrupt is raised. A demuxer
    error first drains the frames the decoder still holds, then raises the
    mapped error, so every frame that can be decoded is delivered before it.
    """
    codec = stream.codec_context
    sound = audio.stream if audio is not None else None
    packets = container.demux(stream, sound) if sound is not None else container.demux(stream)
    while True:
        try:
            packet = next(packets)
        except StopIteration:
            return
        except _AV_ERRORS as exc:
            err = map_error(exc, uri, action="read", network=network, timeout_s=read_timeout_s)
            yield from _drain(codec)
            raise err from exc
        if sound is not None and packet.stream is sound:
            audio.decode(packet)
            continue
        try:
            frames = codec.decode(packet)
        except av.error.FFmpegError:
            damage.packets += 1
            damage.consecutive += 1
            if packet.pts is not None and packet.time_base:
                damage.last_pts = float(packet.pts * packet.time_base)
            if max_consecutive_damage is not None and damage.consecutive >= max_consecutive_damage:
                raise source_error(SourceCorrupt, "decode", uri,
                                   f"{damage.consecutive} undecodable packets in a row") from None
            continue
        if frames:
            damage.consecutive = 0
        yield from frames


def _drain(codec: VideoCodecContext) -> Iterator[av.VideoFrame]:
    try:
        frames = codec.decode(None)
    except av.error.FFmpegError:
        return
    yield from frames


class BestEffortPts:
    """FFmpeg's ``best_effort_timestamp`` guess, which PyAV does not expose.

    Some files carry presentation times in decode order (B-frames muxed
    without composition offsets, as in OpenCV's ``box.mp4``). Like
    ``guess_correct_pts`` in libavcodec, count how often ``pts`` and ``dts``
    each fail to increase and trust whichever failed less.
    """

    def __init__(self) -> None:
        self._faulty_pts = self._faulty_dts = 0
        self._last_pts: int | None = None
        self._last_dts: int | None = None

    def __call__(self, frame: av.VideoFrame) -> float | None:
        """The frame's time in seconds, or ``None`` if it has neither pts nor dts."""
        pts, dts = frame.pts, frame.dts
        if dts is not None:
            self._faulty_dts += self._last_dts is not None and dts <= self._last_dts
            self._last_dts = dts
        elif pts is not None:
            self._last_dts = pts
        if pts is not None:
            self._faulty_pts += self._last_pts is not None and pts <= self._last_pts
            self._last_pts = pts
        elif dts is not None:
            self._last_pts = dts
        best = pts if pts is not None and (dts is None or self._faulty_pts <= self._faulty_dts) else dts
        if best is None or frame.time_base is None:
            return None
        return float(best * frame.time_base)


class StreamClock:
    """Turns raw frame times into a stream time that never goes backwards.

    Raw times are shifted by an offset. The offset is set by the first frame
    (to ``origin`` when given, so a file's first frame sits at its own start
    time, else so it reads ``0``) and set again at a discontinuity: a frame
    without a time, a jump back of more than ``jump_s`` (an MPEG-TS clock
    wrap, a restarted sender), or an explicit :meth:`resume` after a
    reconnect. A smaller step back is timestamp jitter: that frame is placed
    just after the previous one and the offset is left alone, so the clock
    does not drift.

    Args:
        step: Seconds between frames, used where the raw times say nothing.
        origin: Raw time that maps to ``0``; ``None`` to use the first frame.
        jump_s: Smallest step back treated as a discontinuity.
    """

    TICK = 0.001
    """How far after the previous frame a frame with a stale time is placed."""

    def __init__(self, step: float, origin: float | None = None, jump_s: float = 1.0) -> None:
        self.step = step
        self.jump_s = max(jump_s, 2 * step)
        self.last: float | None = None
        self._offset: float | None = None if origin is None else -origin
        self._advance = step

    def resume(self, advance: float) -> None:
        """Start a new segment ``advance`` seconds after the last frame."""
        self._offset = None
        self._advance = max(advance, self.step)

    def map(self, raw: float) -> float | None:
        """Stream time of another stream's raw time (the audio's) on this clock, without moving it;
        None while the clock has no offset (before its first frame, after :meth:`resume`)."""
        return None if self._offset is None else raw + self._offset

    def __call__(self, raw: float | None) -> float:
        """Stream time in seconds for a frame whose own time is ``raw``."""
        last = self.last
        if raw is None:
            out = 0.0 if last is None else last + self._advance
            self._offset, self._advance = None, self.step
        elif self._offset is None:
            out = 0.0 if last is None else last + self._advance
            self._offset, self._advance = out - raw, self.step
        else:
            out = raw + self._offset
            if last is not None and out <= last:
                if last - out > self.jump_s:
                    out = last + self.step
                    self._offset = out - raw
                else:
                    out = last + self.TICK
        self.last = out
        return out
