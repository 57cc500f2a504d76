"""Every error onlook raises on purpose.

The tree below is the whole hierarchy. Each error also subclasses the builtin
that matches its meaning, so callers who only know the standard library still
catch it (``except TimeoutError`` catches :class:`SourceTimeout`), the way
PyAV's ``av.error`` does.

::

    OnlookError
    ├── ConfigError(ValueError)             a setting or argument is invalid
    ├── SourceError(OSError)                a video source cannot be used
    │   ├── SourceNotFound(FileNotFoundError)   no such file, device or folder
    │   ├── UnsupportedSource(ValueError)       unknown URL scheme / not a video
    │   ├── SourceCorrupt                       the data cannot be decoded
    │   ├── SourceTimeout(TimeoutError)         open or read took too long
    │   ├── SourceUnreachable(ConnectionError)  host refused / unknown / down
    │   │   └── TargetNotAllowed(PermissionError)   an address or URL option the server may not use
    │   └── SourceExhausted                     reconnect attempts used up
    ├── StoreError(OSError)                 the on-disk memory store failed
    │   ├── StoreLocked                         another process writes this store
    │   ├── StoreNotFound(FileNotFoundError)    no store in the folder named
    │   ├── StoreFull                           the disk (or the database) is full
    │   ├── StoreCorrupt                        the database or a row in it is damaged
    │   └── StoreTooNew                         written by a newer onlook (schema version)
    ├── QueryError(ValueError)              a question or search is malformed
    │   └── UnsupportedQuery                    an alert perception cannot see
    └── ModelError(RuntimeError)            a model could not be loaded or run
        ├── ModelMissing(FileNotFoundError)     a shipped model file is not there
        └── ModelCorrupt                        its size or sha256 differs from its manifest

The CLI (and later the server) turn these into one-line messages and exit
codes in one place; library code never prints.
"""

from __future__ import annotations

import errno

__all__ = [
    "OnlookError",
    "ConfigError",
    "SourceError",
    "SourceNotFound",
    "UnsupportedSource",
    "SourceCorrupt",
    "SourceTimeout",
    "SourceUnreachable",
    "SourceExhausted",
    "TargetNotAllowed",
    "StoreError",
    "StoreLocked",
    "StoreNotFound",
    "StoreFull",
    "StoreCorrupt",
    "StoreTooNew",
    "QueryError",
    "UnsupportedQuery",
    "ModelError",
    "ModelMissing",
    "ModelCorrupt",
]


class OnlookError(Exception):
    """Base class of every error onlook raises deliberately."""


class ConfigError(OnlookError, ValueError):
    """A setting or argument is invalid (bad fps, bad budget string...)."""


class SourceError(OnlookError, OSError):
    """A video source cannot be opened or read."""

    def __init__(self, message: str, *, source: str | None = None) -> None:
        super().__init__(message)
        self.source = source

    def __str__(self) -> str:  # OSError's __str__ would add errno noise
        return str(self.args[0]) if self.args else ""


class SourceNotFound(SourceError, FileNotFoundError):
    """The file, device or folder does not exist."""


class UnsupportedSource(SourceError, ValueError):
    """The URL scheme is unknown, or the file holds no video stream."""


class SourceCorrupt(SourceError):
    """The container or stream data cannot be decoded."""


class SourceTimeout(SourceError, TimeoutError):
    """Opening or reading the source took longer than its timeout."""


class SourceUnreachable(SourceError, ConnectionError):
    """The host refused the connection, is unknown, or went away."""


class TargetNotAllowed(SourceUnreachable, PermissionError):
    """A network target the server may not reach, or a URL option it does not accept.

    Raised by :class:`onlook.sources.netpolicy.NetPolicy` for sources and webhooks
    that API clients name: loopback, private, link-local, multicast and other
    non-public addresses (unless the operator allows them), listening sources,
    FFmpeg options in the URL. A subclass of :class:`SourceUnreachable` so that
    a live source retries it, and fails, exactly like a refused connection.
    """


class SourceExhausted(SourceError):
    """A live source kept failing and its reconnect attempts ran out."""


class StoreError(OnlookError, OSError):
    """The on-disk memory store could not be opened or written."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else ""


class StoreLocked(StoreError):
    """Another process is already writing to this store."""


class StoreNotFound(StoreError, FileNotFoundError):
    """The folder named holds no onlook store (bad input: nothing to read)."""


class StoreFull(StoreError):
    """A write found no room: the disk is full (ENOSPC, a quota) or SQLite said SQLITE_FULL.

    What was stored before stays readable; ``errno`` is ``ENOSPC``, so code
    that only knows the standard library can tell it apart.
    """

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.errno = errno.ENOSPC


class StoreCorrupt(StoreError):
    """The store's database is damaged, lost, or holds a row that cannot be read.

    ``onlook store check DIR`` says what is wrong; ``onlook store repair DIR``
    salvages what SQLite can still read into a fresh database.
    """


class StoreTooNew(StoreError):
    """The store was written by a newer onlook whose schema this one does not know."""


class QueryError(OnlookError, ValueError):
    """A question, search or alert query is malformed."""


class UnsupportedQuery(QueryError):
    """An alert query asks for something the current perception cannot see.

    Raised at registration so that an alert is never accepted and then left
    silently unable to fire.
    """


class ModelError(OnlookError, RuntimeError):
    """A model (a shipped detector, the speech model, the optional CLIP encoder) could not be loaded or run."""


class ModelMissing(ModelError, FileNotFoundError):
    """A model file onlook ships (or was pointed at) is not where its manifest says.

    Usually a partial install or a checkout without the model files; reinstalling
    onlook, or rebuilding the file with the command in its manifest, fixes it.
    """


class ModelCorrupt(ModelError):
    """A model file's size or sha256 differs from its manifest (a truncated or altered file)."""

