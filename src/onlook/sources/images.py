"""A folder of still images played as a video."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from pathlib import Path

import av.error
import numpy as np

from onlook.errors import ConfigError, SourceCorrupt, SourceNotFound, UnsupportedSource
from onlook.sources._pyav import map_error, open_container, source_error, video_stream
from onlook.sources.base import BaseSource, SourceInfo
from onlook.types import Frame

__all__ = ["IMAGE_SUFFIXES", "ImageFolderSource"]

IMAGE_SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".bmp"})
"""File name endings (any case) that :class:`ImageFolderSource` plays."""


def _natural_key(name: str) -> list[object]:
    # "img2" before "img10", the order a person numbering files means.
    return [int(part) if part.isdigit() else part.lower() for part in re.split(r"(\d+)", name)]


def list_images(folder: Path) -> list[Path]:
    """Image files directly inside ``folder``, sorted by name (numbers as numbers)."""
    files = [p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES]
    return sorted(files, key=lambda p: _natural_key(p.name))


def read_image(path: Path) -> np.ndarray:
    """Decode one image file to ``HxWx3`` BGR ``uint8`` with PyAV.

    Raises:
        SourceCorrupt: The file holds no decodable image.
    """
    uri = str(path)
    container = open_container(uri, network=False)
    try:
        stream = video_stream(container, uri)
        for frame in container.decode(stream):
            return frame.to_ndarray(format="bgr24")
    except (av.error.FFmpegError, OSError) as exc:
        raise map_error(exc, uri, action="decode", network=False) from exc
    finally:
        container.close()
    raise source_error(SourceCorrupt, "decode", uri, "no image in the file")


class ImageFolderSource(BaseSource):
    """Plays the JPEG/PNG/BMP files of a folder as frames, in name order.

    Frame ``i`` gets ``pts = i / fps``. The folder is listed once, when the
    source is built. An image that cannot be decoded is skipped; after the
    last image, iteration raises :class:`~onlook.errors.SourceCorrupt` naming
    how many were skipped (the same rule as a damaged video file).

    Args:
        folder: The folder to play.
        fps: Rate at which the images are stamped (default one per second).
        stream_id: Name stamped on every frame.

    Raises:
        SourceNotFound: The folder does not exist.
        UnsupportedSource: It holds no image files.
        SourceCorrupt: The first image cannot be decoded.

    Example:
        >>> src = ImageFolderSource("shots/", fps=2)  # doctest: +SKIP
        >>> [f.pts for f in src][:3]  # doctest: +SKIP
        [0.0, 0.5, 1.0]
    """

    def __init__(self, folder: str | Path, *, fps: float = 1.0, stream_id: str = "default") -> None:
        if not fps > 0:
            raise ConfigError(f"image fps must be positive, got {fps!r}")
        path = Path(folder)
        if not path.is_dir():
            raise source_error(SourceNotFound, "open", str(folder), "no such folder")
        try:
            files = list_images(path)
        except OSError as exc:
            raise map_error(exc, str(folder), action="open", network=False) from exc
        if not files:
            raise source_error(UnsupportedSource, "open", str(folder),
                               "no .jpg, .png or .bmp images in the folder")
        # Reading the first image up front gives the size and fails early on
        # a folder of junk; the array is kept so it is decoded only once.
        first = read_image(files[0])
        info = SourceInfo(uri=str(folder), kind="images", fps=float(fps),
                          duration_s=len(files) / fps, width=int(first.shape[1]),
                          height=int(first.shape[0]), frame_count=len(files))
        super().__init__(info, stream_id)
        self.files = files
        self._first: np.ndarray | None = first
        self.skipped: list[Path] = []

    def _frames(self) -> Iterator[Frame]:
        fps = float(self.info.fps or 1.0)
        for i, path in enumerate(self.files):
            if self._closed.is_set():
                return
            if i == 0 and self._first is not None:
                image, self._first = self._first, None
            else:
                try:
                    image = read_image(path)
                except (SourceCorrupt, UnsupportedSource, SourceNotFound):
                    self.skipped.append(path)
                    continue
            yield Frame(self.stream_id, i, i / fps, time.time(), image)
        if self.skipped:
            names = ", ".join(p.name for p in self.skipped[:3])
            more = f" and {len(self.skipped) - 3} more" if len(self.skipped) > 3 else ""
            raise source_error(SourceCorrupt, "decode", self.info.uri,
                               f"{len(self.skipped)} image(s) could not be decoded ({names}{more})")
