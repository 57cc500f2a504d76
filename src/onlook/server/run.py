"""Running the app under uvicorn, with feeds that end when the server stops.

uvicorn waits for open responses before it runs the app's shutdown, and
SSE, WebSocket and MJPEG responses never end on their own. :class:`Server`
therefore ends every feed first, then lets uvicorn shut down as usual.
"""

from __future__ import annotations

import socket
from typing import Any

import uvicorn
from fastapi import FastAPI

__all__ = ["Server", "make_server"]


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
    return Server(uvicorn.Config(app, host=host, port=port, **config))
