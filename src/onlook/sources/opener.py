"""``open_source``: one entry point that picks the right source for a URI."""

from __future__ import annotations

import threading
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import unquote, urlsplit

from onlook.errors import ConfigError, SourceNotFound, UnsupportedSource
from onlook.sources._pyav import source_error
from onlook.sources.audio import AudioFeed
from onlook.sources.base import Source
from onlook.sources.file import FileSource
from onlook.sources.images import ImageFolderSource
from onlook.sources.live import LiveSource, live_options
from onlook.sources.pacing import PacedSource
from onlook.sources.threaded import ThreadedSource
from onlook.types import Gap

if TYPE_CHECKING:
    from onlook.sources.netpolicy import NetPolicy

__all__ = ["LIVE_SCHEMES", "open_source"]

LIVE_SCHEMES = frozenset({"rtsp", "rtsps", "rtmp", "rtmps", "http", "https", "tcp", "udp"})
"""URL schemes opened as live streams (HTTP only when it has no known end)."""


def open_source(
    uri: str,
    *,
    stream_id: str = "default",
    open_timeout_s: float = 10.0,
    read_timeout_s: float = 10.0,
    reconnect_attempts: int | None = None,
    max_outage_s: float | None = None,
    connect_attempts: int | None = None,
    reconnect_backoff_s: float = 0.5,
    reconnect_backoff_max_s: float = 30.0,
    realtime: bool = False,
    speed: float = 1.0,
    image_fps: float = 1.0,
    queue_size: int = 8,
    keep: Callable[[float], bool] | None = None,
    thumb: Callable[[], tuple[int, int] | None] | None = None,
    max_width: int | None = None,
    on_gap: Callable[[Gap], None] | None = None,
    net_policy: NetPolicy | None = None,
    stop: threading.Event | None = None,
    audio: bool = False,
    audio_buffer_s: float = 30.0,
) -> Source:
    """Open a video file, folder of images, network stream or webcam.

    What ``uri`` may be:

    * a path to anything FFmpeg opens, or a ``file://`` URL;
    * a folder of ``.jpg``/``.png``/``.bmp`` images, played in name order
      at ``image_fps``;
    * ``rtsp://``, ``rtmp://``, ``http(s)://`` (HLS ``.m3u8`` too),
      ``tcp://`` or ``udp://`` (MPEG-TS) for a live stream, which keeps
      reconnecting on failure (by default for as long as it is read) and
      records each outage as a :class:`~onlook.types.Gap`, open while it
      lasts; an HTTP URL with a known duration is read once, like a file;
    * ``/dev/videoN`` for a V4L2 capture device.

    The source decodes in its own thread behind a queue of ``queue_size``
    frames. For live streams and ``realtime`` files the oldest frame is
    dropped when the consumer falls behind (see ``source.dropped``); a file
    read at full speed never drops, the decoder waits for the consumer.

    Args:
        uri: What to open (see above).
        stream_id: Name stamped on every frame.
        open_timeout_s: Give up one network connection attempt after this.
        read_timeout_s: A live stream silent this long is stalled and reopened.
        reconnect_attempts: Reopen attempts in a row after which an outage
            ends a live stream; ``None`` (default) for no limit.
        max_outage_s: Seconds one outage of a live stream may last before
            it is given up; ``None`` (default) for no limit.
        connect_attempts: Retries of a live stream's first connection
            (default ``reconnect_attempts``, or 5 when that is ``None``).
        reconnect_backoff_s: First reconnect delay; doubles on each failure.
        reconnect_backoff_max_s: Largest reconnect delay.
        realtime: Pace a file or image folder at its own rate, so it behaves
            like a live stream (live sources are real time already).
        speed: Playback rate when ``realtime`` (``2.0`` = twice real time).
        image_fps: Rate at which a folder's images are stamped.
        queue_size: Frames buffered between the decoder thread and the
            consumer; ``0`` decodes in the consumer's thread instead.
        on_gap: Called with each gap a live stream records: open when its
            outage is detected, closed when frames return (from the decoder
            thread when ``queue_size`` > 0).
        stop: Set it to make a live stream give up connecting or
            reconnecting at once, even while ``open_source`` is still making
            its first connection (the source then comes back closed).
        keep: Optional predicate on a frame's pts; frames it rejects are
            skipped before pixel conversion (pass a sampler's ``keep`` so
            frames that would be dropped anyway cost only their decode).
        thumb: Optional, called after ``keep`` accepted a frame: the ``(width, height)`` to decode it at
            when only a thumbnail of it is wanted (pass a :class:`~onlook.sampling.GlanceSampler`'s
            ``thumb``), else None; such frames come with ``Frame.thumbnail`` set.
        max_width: Shrink frames wider than this in the decoder thread (area
            averaging), for consumers that only analyse smaller images.
        net_policy: What a network URL may reach (a server's policy for URLs its
            clients name): checked here, then resolved, checked and pinned again
            on every connection attempt. None (the CLI, the operator) reaches anything.
        audio: Also decode the sound (files and network streams that have
            it) onto ``source.audio``, an :class:`~onlook.sources.audio.AudioFeed`
            of 16 kHz mono chunks on the frames' clock; ``source.audio`` is
            ``None`` for a source without sound.
        audio_buffer_s: Seconds of sound the feed holds. Live streams and
            paced files drop the oldest when it is full; a file read at full
            speed waits for the reader instead.

    Returns:
        An open :class:`Source`; use it as a context manager or ``close()`` it.

    Raises:
        SourceNotFound: No such file, folder or device.
        UnsupportedSource: Unknown URL scheme, not media, or no video stream.
        SourceCorrupt: The container cannot be parsed.
        SourceUnreachable: A live stream refused or could not be reached on
            every attempt.
        SourceTimeout: A live stream did not answer in time on every attempt.
        TargetNotAllowed: ``net_policy`` refuses the URL (a listening source), or refused
            its address on every attempt.
        ConfigError: A setting is out of range.

    Example:
        >>> with open_source("clip.mp4") as src:  # doctest: +SKIP
        ...     for frame in src:
        ...         print(frame.seq, round(frame.pts, 2), frame.image.shape)
        0 0.0 (48, 64, 3)
        1 0.04 (48, 64, 3)
    """
    if queue_size < 0:
        raise ConfigError(f"queue_size must be >= 0, got {queue_size}")
    if not (open_timeout_s > 0 and read_timeout_s > 0):
        raise ConfigError("open_timeout_s and read_timeout_s must be positive")
    if not speed > 0:
        raise ConfigError(f"speed must be positive, got {speed!r}")

    source: Source
    scheme = urlsplit(uri).scheme.lower() if "://" in uri else ""
    if scheme in LIVE_SCHEMES:
        target = None
        if net_policy is not None:
            net_policy.source_mode(uri)  # a listening source or foreign URL options: refused before any attempt
            target = partial(net_policy.source_target, uri, live_options(uri))
        feed = AudioFeed(audio_buffer_s, drop_oldest=True) if audio else None
        source = LiveSource(
            uri, stream_id=stream_id, open_timeout_s=open_timeout_s,
            read_timeout_s=read_timeout_s, reconnect_attempts=reconnect_attempts,
            max_outage_s=max_outage_s, connect_attempts=connect_attempts,
            reconnect_backoff_s=reconnect_backoff_s,
            reconnect_backoff_max_s=reconnect_backoff_max_s, on_gap=on_gap, keep=keep, thumb=thumb,
            max_width=max_width, target=target, stop=stop, audio=feed)
        if feed is not None and source.info.kind == "file" and not realtime:
            feed.drop_oldest = False  # an HTTP file read at full speed: lose nothing
    elif scheme and scheme != "file":
        raise source_error(UnsupportedSource, "open", uri, f"unsupported URL scheme {scheme + '://'!r}")
    else:
        path = _local_path(uri) if scheme == "file" else uri
        if path.startswith("/dev/video"):
            if not Path(path).exists():
                raise source_error(SourceNotFound, "open", uri, "no such device")
            source = LiveSource(
                path, stream_id=stream_id, kind="webcam", format="v4l2",
                open_timeout_s=open_timeout_s, read_timeout_s=read_timeout_s,
                reconnect_attempts=reconnect_attempts, max_outage_s=max_outage_s,
                connect_attempts=connect_attempts, reconnect_backoff_s=reconnect_backoff_s,
                reconnect_backoff_max_s=reconnect_backoff_max_s, on_gap=on_gap, keep=keep, thumb=thumb,
                max_width=max_width, stop=stop)
        elif Path(path).is_dir():
            source = ImageFolderSource(path, fps=image_fps, stream_id=stream_id)
        elif not Path(path).exists():
            raise source_error(SourceNotFound, "open", uri, "no such file or folder")
        else:
            feed = AudioFeed(audio_buffer_s, drop_oldest=realtime) if audio else None
            source = FileSource(path, stream_id=stream_id, keep=keep, thumb=thumb, max_width=max_width, audio=feed)

    finite = source.info.kind in ("file", "images")
    if realtime and finite:
        source = PacedSource(source, speed)
    if queue_size == 0:
        return source
    return ThreadedSource(source, queue_size, drop_oldest=not finite or realtime)


def _local_path(uri: str) -> str:
    parts = urlsplit(uri)
    if parts.netloc not in ("", "localhost"):
        raise source_error(UnsupportedSource, "open", uri, "file:// URLs must name a local file")
    return unquote(parts.path)
