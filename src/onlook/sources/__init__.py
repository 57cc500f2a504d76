"""Video sources: files, image folders, live streams and webcams, as frames.

Everything here yields :class:`~onlook.types.Frame` objects and raises only
:class:`~onlook.errors.SourceError` subclasses. :func:`open_source` is the
entry point; the classes are the building blocks it wires together
(decode → pace → thread), and :class:`FakeSource` stands in for all of them
in tests of later stages.

Example:
    >>> from onlook.sources import open_source
    >>> with open_source("clip.mp4", realtime=True) as src:  # doctest: +SKIP
    ...     for frame in src:
    ...         ...
"""

from onlook.sources.audio import AudioFeed
from onlook.sources.base import Source, SourceInfo, SourceKind, WrappedSource
from onlook.sources.fake import FakeSource
from onlook.sources.file import FileSource
from onlook.sources.images import IMAGE_SUFFIXES, ImageFolderSource
from onlook.sources.live import Backoff, LiveSource
from onlook.sources.opener import LIVE_SCHEMES, open_source
from onlook.sources.pacing import PacedSource, ResumedSource, paced
from onlook.sources.threaded import ThreadedSource

__all__ = [
    "IMAGE_SUFFIXES",
    "LIVE_SCHEMES",
    "AudioFeed",
    "Backoff",
    "FakeSource",
    "FileSource",
    "ImageFolderSource",
    "LiveSource",
    "PacedSource",
    "ResumedSource",
    "Source",
    "SourceInfo",
    "SourceKind",
    "ThreadedSource",
    "WrappedSource",
    "open_source",
    "paced",
]
