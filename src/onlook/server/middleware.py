"""ASGI middleware: API-key check and request body size limit, both answering in the JSON error shape.

Plain ASGI (not ``BaseHTTPMiddleware``) so that streamed responses (SSE,
MJPEG) pass through untouched and WebSockets are covered too.
"""

from __future__ import annotations

import hmac
import json
from collections.abc import Iterable
from urllib.parse import parse_qs

from starlette.types import ASGIApp, Message, Receive, Scope, Send

__all__ = ["ApiKeyMiddleware", "BodyLimitMiddleware", "send_error"]


async def send_error(send: Send, status: int, type_: str, message: str,
                     headers: Iterable[tuple[bytes, bytes]] = ()) -> None:
    """Send a complete ``{"error": {"type", "message"}}`` response."""
    body = json.dumps({"error": {"type": type_, "message": message}}).encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
                            *headers]})
    await send({"type": "http.response.body", "body": body})


class ApiKeyMiddleware:
    """Require the API key on every path but the open ones.

    The key is accepted as ``Authorization: Bearer KEY``, ``X-API-Key: KEY``,
    or an ``api_key=KEY`` query parameter (for what a browser cannot give
    headers to: ``EventSource``, ``<img src=live.mjpg>``, WebSockets).

    Args:
        app: The wrapped app.
        api_key: The key.
        open_paths: Paths that need no key.
        open_prefixes: Path prefixes that need no key (``/static/``).
    """

    def __init__(self, app: ASGIApp, *, api_key: str, open_paths: Iterable[str] = (),
                 open_prefixes: Iterable[str] = ()) -> None:
        self.app = app
        self.key = api_key.encode()
        self.open_paths = frozenset(open_paths)
        self.open_prefixes = tuple(open_prefixes)

    def _given(self, scope: Scope) -> bytes | None:
        headers = dict(scope.get("headers") or [])
        auth = headers.get(b"authorization", b"")
        if auth[:7].lower() == b"bearer ":
            return auth[7:].strip()
        if b"x-api-key" in headers:
            return headers[b"x-api-key"].strip()
        qs = parse_qs((scope.get("query_string") or b"").decode("latin-1"))
        if qs.get("api_key"):
            return qs["api_key"][0].encode()
        return None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        path = scope.get("path", "")
        if path in self.open_paths or path.startswith(self.open_prefixes) or (
                scope["type"] == "http" and scope.get("method") == "OPTIONS"):
            await self.app(scope, receive, send)
            return
        given = self._given(scope)
        if given is not None and hmac.compare_digest(given, self.key):
            await self.app(scope, receive, send)
            return
        message = "missing API key: send 'Authorization: Bearer KEY'" if given is None else "wrong API key"
        if scope["type"] == "websocket":
            if "websocket.http.response" in (scope.get("extensions") or {}):
                async def deny(msg: Message) -> None:  # the handshake is answered with a plain HTTP 401
                    await send({**msg, "type": "websocket." + msg["type"]})

                await send_error(deny, 401, "Unauthorized", message, [(b"www-authenticate", b"Bearer")])
            else:  # closing before accepting makes the server refuse the handshake (403)
                await send({"type": "websocket.close", "code": 1008, "reason": message[:120]})
            return
        await send_error(send, 401, "Unauthorized", message, [(b"www-authenticate", b"Bearer")])


class BodyLimitMiddleware:
    """Refuse request bodies over ``max_bytes`` with 413, before the app reads them.

    A declared ``Content-Length`` over the limit is refused at once; a
    chunked body is read up to the limit and then refused. Bodies under the
    limit are buffered (they are small JSON) and handed on unchanged.
    """

    def __init__(self, app: ASGIApp, *, max_bytes: int = 64 * 1024) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def _refuse(self, send: Send) -> None:
        await send_error(send, 413, "PayloadTooLarge",
                         f"request body is larger than {self.max_bytes} bytes", [(b"connection", b"close")])

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope.get("method") in ("GET", "HEAD", "OPTIONS"):
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers") or [])
        declared = headers.get(b"content-length")
        if declared is not None:
            try:
                too_big = int(declared) > self.max_bytes
            except ValueError:
                await send_error(send, 400, "BadRequest", "invalid Content-Length header")
                return
            if too_big:
                await self._refuse(send)
                return
        body = bytearray()
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            body += message.get("body", b"")
            if len(body) > self.max_bytes:
                await self._refuse(send)
                return
            if not message.get("more_body", False):
                break
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": bytes(body), "more_body": False}
            return await receive()  # later calls: wait for the disconnect, as the app expects

        await self.app(scope, replay, send)
