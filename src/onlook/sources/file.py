"""Finite media (a file, or a URL with a known duration) decoded with PyAV."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator

from av.container import InputContainer

from onlook.errors import SourceCorrupt
from onlook.sources._pyav import (
    FALLBACK_FPS,
    BestEffortPts,
    Damage,
    StreamClock,
    decode_video,
    open_container,
    source_error,
    stream_duration,
    stream_fps,
    video_stream,
)
from onlook.sources.audio import AudioFeed, AudioTap, first_audio_stream
from onlook.sources.base import BaseSource, SourceInfo, decode_pixels
from onlook.types import Frame

__all__ = ["FileSource"]


class FileSource(BaseSource):
    """Every frame of a video file, as fast as the consumer takes them.

    The container is opened when the source is built, so a missing,
    non-video or unreadable file fails here rather than on the first frame.
    Files never reconnect: the end of the file is the end of the source.

    **Damaged and truncated files.** Decoding goes on packet by packet and
    skips a packet the decoder rejects, so every frame that can still be
    decoded is yielded. Once the file is read to its end, iteration raises
    :class:`~onlook.errors.SourceCorrupt` if *any* packet was rejected (or
    the demuxer failed part way), and ends cleanly otherwise. What a file cut
    to half its bytes does therefore depends on its container, and is the
    same on every run (decoding uses slice threads only; frame threads would
    hide the decoder's errors):

    * MPEG-TS, Matroska: FFmpeg reads until the data runs out and the decoder
      sees only whole packets, so the frames of the first half are yielded
      and the source **ends cleanly**. So does an AVI whose header survives
      (OpenCV's ``vtest.avi``: 399 of 795 frames).
    * MP4/MOV with the index (``moov``) at the front (``+faststart``): the
      index promises packets past the cut, the decoder rejects the cut one,
      so the frames before the cut are yielded and **then SourceCorrupt** is
      raised.
    * MP4/MOV with the index at the end (FFmpeg's default), or an AVI whose
      header needs the missing part: **opening raises SourceCorrupt**.

    Args:
        uri: A path FFmpeg can open, or a ``file://``/``http(s)://`` URL.
        stream_id: Name stamped on every frame.
        network: Whether the URI is reached over the network (maps plain I/O
            errors to :class:`~onlook.errors.SourceUnreachable`).
        open_timeout_s: Give up opening after this long (network only).
        read_timeout_s: Give up a read that stalls this long (network only).
        options: Extra FFmpeg options for ``av.open``.
        format: Force an FFmpeg input format (``"mpegts"``...).
        audio: Where to put the file's sound, 16 kHz mono on the video's clock
            (see :mod:`onlook.sources.audio`); ``None`` ignores it. A file
            without an audio track leaves :attr:`audio` ``None``.

    Raises:
        SourceNotFound: No such file.
        UnsupportedSource: Not media, or no video stream in it.
        SourceCorrupt: The container cannot be parsed.

    Example:
        >>> with FileSource("clip.mp4") as src:  # doctest: +SKIP
        ...     for frame in src:
        ...         print(frame.seq, frame.pts, frame.image.shape)
    """

    def __init__(
        self,
        uri: str,
        *,
        stream_id: str = "default",
        network: bool = False,
        open_timeout_s: float | None = None,
        read_timeout_s: float | None = None,
        options: dict[str, str] | None = None,
        format: str | None = None,
        keep: Callable[[float], bool] | None = None,
        thumb: Callable[[], tuple[int, int] | None] | None = None,
        max_width: int | None = None,
        audio: AudioFeed | None = None,
    ) -> None:
        # ``keep(pts)`` lets the consumer's sampler reject frames before pixel
        # conversion, which is most of the per-frame cost at a few frames a second.
        self._keep = keep
        self._thumb = thumb  # the size to decode a kept frame at, when only a thumbnail of it is wanted
        self._max_width = max_width
        timeout = (open_timeout_s, read_timeout_s) if network else None
        container = open_container(uri, network=network, format=format, options=options,
                                   timeout=timeout)
        try:
            stream = video_stream(container, uri)
        except BaseException:
            container.close()
            raise
        # Slice threads only: with frame threads FFmpeg swallows the error of
        # a damaged packet, and truncated files would end differently from run
        # to run instead of raising SourceCorrupt as documented.
        stream.codec_context.thread_type = "SLICE"
        fps = stream_fps(stream)
        frames = stream.frames or None
        info = SourceInfo(uri=uri, kind="file", fps=fps, duration_s=stream_duration(container, stream),
                          width=stream.codec_context.width, height=stream.codec_context.height,
                          frame_count=frames)
        super().__init__(info, stream_id)
        self._resource = container
        self._network = network
        self._read_timeout_s = read_timeout_s
        self.damage = Damage()
        self._audio_feed = audio if audio is not None and first_audio_stream(container) is not None else None
        self.audio_tap: AudioTap | None = None

    @property
    def audio(self) -> AudioFeed | None:
        """The sound of the file, as it is decoded with the frames; None without an audio track."""
        return self._audio_feed

    @property
    def corrupt_packets(self) -> int:
        """Packets the decoder rejected so far."""
        return self.damage.packets

    def _frames(self) -> Iterator[Frame]:
        container = self._take_resource()
        if not isinstance(container, InputContainer):
            return
        try:
            yield from self._decode(container)
        finally:
            if self.audio_tap is not None:
                self.audio_tap.finish()
            elif self._audio_feed is not None:
                self._audio_feed.close()
            container.close()

    def _decode(self, container: InputContainer) -> Iterator[Frame]:
        stream = video_stream(container, self.info.uri)
        origin = None
        if stream.start_time is not None and stream.time_base:
            origin = float(stream.start_time * stream.time_base)
        clock = StreamClock(1.0 / (self.info.fps or FALLBACK_FPS), origin)
        best_effort = BestEffortPts()
        if self._audio_feed is not None:
            self.audio_tap = AudioTap(self._audio_feed, self.stream_id, clock.map)
            self.audio_tap.attach(first_audio_stream(container))
        frames = decode_video(container, stream, self.damage, uri=self.info.uri,
                              network=self._network, read_timeout_s=self._read_timeout_s,
                              audio=self.audio_tap)
        for seq, vf in enumerate(frames):
            pts = clock(best_effort(vf))
            if self._keep is not None and not self._keep(pts):
                continue
            image, small = decode_pixels(vf, self._max_width, self._thumb)
            yield Frame(self.stream_id, seq, pts, time.time(), image, thumbnail=small)
            if self._closed.is_set():
                return
        if self.damage.packets:
            where = (f", the last near {self.damage.last_pts:.2f}s"
                     if self.damage.last_pts is not None else "")
            raise source_error(SourceCorrupt, "decode", self.info.uri,
                               f"{self.damage.packets} damaged packet(s){where}; "
                               "the file is truncated or corrupt")
