"""Errors the server adds to :mod:`onlook.errors`, and the one map from errors to HTTP status codes.

::

    OnlookError
    ├── StreamNotFound(LookupError)         404  no stream with that id
    ├── StreamExists                        409  a stream with that id already exists
    ├── StreamRunning                       409  the stream is already running
    ├── SourceNotAllowed(PermissionError)   403  a file outside the --allow-files folders
    ├── KeyframeNotFound(LookupError)       404  no such keyframe (or it was evicted)
    ├── AlertNotFound(LookupError)          404  no such standing alert on the stream
    └── StreamUnavailable                   503  the stream's engine could not be (re)opened

    TargetNotAllowed (onlook.errors)        403  a network source or webhook the server may not reach

Every response for an error is ``{"error": {"type": "<class name>", "message": "<one line>"}}``.
"""

from __future__ import annotations

from onlook.errors import (
    ConfigError,
    ModelError,
    OnlookError,
    QueryError,
    SourceError,
    StoreError,
    StoreLocked,
    TargetNotAllowed,
)

__all__ = [
    "StreamNotFound",
    "StreamExists",
    "StreamRunning",
    "SourceNotAllowed",
    "KeyframeNotFound",
    "AlertNotFound",
    "StreamUnavailable",
    "status_for",
    "one_line",
]


class StreamNotFound(OnlookError, LookupError):
    """No stream has this id."""


class StreamExists(OnlookError):
    """A stream with this id already exists."""


class StreamRunning(OnlookError):
    """The stream is already running (it cannot be started again)."""


class SourceNotAllowed(OnlookError, PermissionError):
    """A file source outside the folders the server was told to allow."""


class KeyframeNotFound(OnlookError, LookupError):
    """The keyframe does not exist (or the store's budget evicted it)."""


class AlertNotFound(OnlookError, LookupError):
    """The stream has no standing alert with these words."""


class StreamUnavailable(OnlookError):
    """The stream exists but its engine could not be opened (see its error)."""


# Most specific first: the first class an error is an instance of wins.
_STATUS: tuple[tuple[type[BaseException], int], ...] = (
    (StreamNotFound, 404),
    (KeyframeNotFound, 404),
    (AlertNotFound, 404),
    (StreamExists, 409),
    (StreamRunning, 409),
    (SourceNotAllowed, 403),
    (TargetNotAllowed, 403),
    (StreamUnavailable, 503),
    (StoreLocked, 409),
    (StoreError, 500),
    (ModelError, 503),
    (SourceError, 400),
    (QueryError, 400),
    (ConfigError, 400),
    (OnlookError, 400),
)


def status_for(exc: BaseException) -> int:
    """HTTP status code for an onlook error (500 for anything unexpected)."""
    for cls, code in _STATUS:
        if isinstance(exc, cls):
            return code
    return 500


def one_line(text: object, limit: int = 500) -> str:
    """``text`` as a single line of at most ``limit`` characters."""
    s = " ".join(str(text).split())
    return s if len(s) <= limit else s[: limit - 1] + "…"
