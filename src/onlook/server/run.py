"""Running the app under uvicorn, with feeds that end when the server stops.

uvicorn waits for open responses before it runs the app's shutdown, and
SSE, WebSocket and MJPEG responses never end on their own. :class:`Server`
therefore ends every feed first, then lets uvicorn shut down as usual.

The app takes ``api_key=`` out of the query string before uvicorn's access log
writes the request; :func:`make_server` also blanks any ``api_key=`` in
uvicorn's log records, in case a request's path reaches a log another way.
"""

from __future__ import annotations

import logging
import re
import socket
from typing import Any

import uvicorn
from fastapi import FastAPI

__all__ = ["Server", "make_server", "RedactApiKey"]


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


def make_server(app: FastAPI, host: str = "127.0.0.1", port: int = 8080, **config: Any) -> Server:
    """A :class:`Server` for ``app``; ``server.run()`` blocks, ``server.should_exit = True`` stops it."""
    config.setdefault("timeout_graceful_shutdown", 5)
    server = Server(uvicorn.Config(app, host=host, port=port, **config))  # (Config sets up uvicorn's loggers)
    for name in ("uvicorn.access", "uvicorn.error"):
        logger = logging.getLogger(name)
        if _REDACT not in logger.filters:
            logger.addFilter(_REDACT)
    return server
