"""Running the app under uvicorn, with feeds that end when the server stops.

uvicorn waits for open responses before it runs the app's shutdown, and
SSE, WebSocket and MJPEG responses never end on their own. :class:`Server`
therefore ends every feed first, then lets uvicorn shut down as usual.

:func:`bind_socket` takes the port before anything starts, so a port in use
is one line of bad input, not a server that reopened every stream and then
found it could not listen.

The app takes ``api_key=`` out of the query string before uvicorn's access log
writes the request; :func:`make_server` also blanks any ``api_key=`` in
uvicorn's log records, in case a request's path reaches a log another way.
"""

from __future__ import annotations

import errno
import logging
import re
import socket
from typing import Any

import uvicorn
from fastapi import FastAPI

from onlook.errors import ConfigError

__all__ = ["Server", "make_server", "bind_socket", "RedactApiKey"]


class RedactApiKey(logging.Filter):
    """Replace the value of every ``api_key=`` in a log record with ``***``."""

    _KEY = re.compile(r"(api_key=)[^&\s\"']+", re.IGNORECASE)

    def _redact(self, value: Any) -> Any:
        return self._KEY.sub(r"\1***", value) if isinstance(value, str) and "api_key=" in value.lower() else value

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg = self._redact(record.msg)
        if isinstance(record.args, tuple):
            record.args = tuple(self._redact(a) for a in record.args)
        elif isinstance(record.args, dict):
            record.args = {k: self._redact(v) for k, v in record.args.items()}
        return True


_REDACT = RedactApiKey()


class Server(uvicorn.Server):
    """``uvicorn.Server`` that ends the app's live feeds when asked to stop."""

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        app = self.config.app
        manager = getattr(getattr(app, "state", None), "manager", None)
        if manager is not None:
            manager.end_feeds()
        await super().shutdown(sockets)

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets)
        if sockets is not None and self.started:  # uvicorn only says where it listens when it bound the port
            self._log_started_message(sockets)


def bind_socket(host: str, port: int) -> socket.socket:
    """A TCP socket bound to ``host:port``, for ``server.run(sockets=[sock])`` (uvicorn listens on it).

    Raises:
        ConfigError: the host does not resolve, or the port is in use or not allowed.
    """
    try:
        family, kind, proto, _, addr = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM,
                                                          flags=socket.AI_PASSIVE)[0]
    except (socket.gaierror, UnicodeError) as e:
        raise ConfigError(f"cannot listen on {host}:{port}: unknown host ({e})") from None
    sock = socket.socket(family, kind, proto)
    try:
        # As uvicorn does: a port left in TIME_WAIT by a server that just stopped can be taken again.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(addr)
    except OSError as e:
        sock.close()
        why = "the port is in use (another server listens there)" if e.errno == errno.EADDRINUSE else (
            e.strerror or str(e))
        raise ConfigError(f"cannot listen on {host}:{port}: {why}") from None
    return sock


def make_server(app: FastAPI, host: str = "127.0.0.1", port: int = 8080, **config: Any) -> Server:
    """A :class:`Server` for ``app``; ``server.run()`` blocks, ``server.should_exit = True`` stops it."""
    config.setdefault("timeout_graceful_shutdown", 5)
    server = Server(uvicorn.Config(app, host=host, port=port, **config))  # (Config sets up uvicorn's loggers)
    for name in ("uvicorn.access", "uvicorn.error"):
        logger = logging.getLogger(name)
        if _REDACT not in logger.filters:
            logger.addFilter(_REDACT)
    return server
