"""ASGI middleware: request guard (Host, Origin, JSON), API-key check and body size limit, all answering in the JSON
error shape.

Plain ASGI (not ``BaseHTTPMiddleware``) so that streamed responses (SSE,
MJPEG) pass through untouched and WebSockets are covered too.
"""

from __future__ import annotations

import hmac
import ipaddress
import json
import socket
from collections.abc import Iterable
from urllib.parse import parse_qs, parse_qsl, urlencode, urlsplit

from starlette.types import ASGIApp, Message, Receive, Scope, Send

__all__ = ["ApiKeyMiddleware", "BodyLimitMiddleware", "RequestGuardMiddleware", "send_error", "QUERY_KEY"]

QUERY_KEY = "onlook.query_api_key"
"""Where :class:`RequestGuardMiddleware` leaves an ``api_key=`` it took out of the query string."""

_STATE_CHANGING = frozenset({"POST", "PUT", "PATCH", "DELETE"})
_DEFAULT_PORT = {"http": 80, "ws": 80, "https": 443, "wss": 443}


async def send_error(send: Send, status: int, type_: str, message: str,
                     headers: Iterable[tuple[bytes, bytes]] = ()) -> None:
    """Send a complete ``{"error": {"type", "message"}}`` response."""
    body = json.dumps({"error": {"type": type_, "message": message}}).encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
                            *headers]})
    await send({"type": "http.response.body", "body": body})


async def _refuse(scope: Scope, send: Send, status: int, type_: str, message: str,
                  headers: Iterable[tuple[bytes, bytes]] = ()) -> None:
    """Answer an HTTP request, or refuse a WebSocket handshake, with a JSON error."""
    if scope["type"] == "websocket":
        if "websocket.http.response" in (scope.get("extensions") or {}):
            async def deny(msg: Message) -> None:  # the handshake is answered with a plain HTTP error
                await send({**msg, "type": "websocket." + msg["type"]})

            await send_error(deny, status, type_, message, headers)
        else:  # closing before accepting makes the server refuse the handshake (403)
            await send({"type": "websocket.close", "code": 1008, "reason": message[:120]})
        return
    await send_error(send, status, type_, message, headers)


def _split_host(value: str) -> tuple[str, int | None]:
    """``(host, port)`` of a ``Host`` header or a URL's netloc (``[::1]:8080``, ``cam:80``, ``localhost``)."""
    value = value.strip().lower()
    if value.startswith("["):
        host, _, rest = value[1:].partition("]")
        port = rest[1:] if rest.startswith(":") else ""
    elif value.count(":") == 1:
        host, _, port = value.partition(":")
    else:
        host, port = value, ""
    return host.rstrip("."), int(port) if port.isdigit() else None


def _is_address(host: str) -> bool:
    try:
        ipaddress.ip_address(host.split("%", 1)[0])
        return True
    except ValueError:
        return False


class RequestGuardMiddleware:
    """Refuse what a page from elsewhere can make a browser send: DNS rebinding and cross-site requests.

    Without an API key, anything that reaches the port may use the API, and a
    browser on this machine reaches it for any page it shows. So:

    * ``Host`` must name this server: an IP address (a rebinding page reaches the
      server under its own DNS name, never under an address), ``localhost``, this
      machine's host name, or one of ``server_names`` (``"*"``: any name).
    * An ``Origin``, when a browser sends one, must be this server's own (the host
      and port the ``Host`` header names) or have a host in ``server_names``;
      ``null`` is foreign. WebSocket handshakes too: browsers let any page open them.
    * ``POST``, ``PUT``, ``PATCH`` and ``DELETE`` must say ``Content-Type:
      application/json`` (no form and no cross-site "simple" request can, without
      a CORS preflight this server never grants), or carry the API key, or this
      server's own ``Origin``.
    * An ``api_key=`` is taken out of the query string first, so that no access
      log writes it; :class:`ApiKeyMiddleware` finds it in ``scope[QUERY_KEY]``.

    Args:
        app: The wrapped app.
        server_names: Host names the server answers to besides the above (``--server-name``,
            the ``--host`` it binds when that is a name).
        api_key: The server's API key, if any (a request that carries it needs no JSON type).
        openai_prefixes: Path prefixes whose JSON refusal uses OpenAI's error shape and status 400 (``/v1/``).
    """

    def __init__(self, app: ASGIApp, *, server_names: Iterable[str] = (), api_key: str | None = None,
                 openai_prefixes: Iterable[str] = ()) -> None:
        self.app = app
        names = {n.strip().lower().rstrip(".") for n in server_names if n and n.strip()}
        self.any_host = "*" in names
        self.names = frozenset(names - {"*"})
        self.hosts = self.names | {"localhost", socket.gethostname().lower()}
        self.key = api_key.encode() if api_key else None
        self.openai_prefixes = tuple(openai_prefixes)

    @staticmethod
    def _take_query_key(scope: Scope) -> None:
        qs = scope.get("query_string") or b""
        if b"api_key" not in qs:
            return
        pairs = parse_qsl(qs.decode("latin-1"), keep_blank_values=True)
        keys = [v for k, v in pairs if k == "api_key"]
        if keys:
            scope[QUERY_KEY] = keys[0].encode("latin-1")
            # In place: the server's access log reads this very scope when the response starts.
            scope["query_string"] = urlencode([(k, v) for k, v in pairs if k != "api_key"]).encode("latin-1")

    def _key_given(self, scope: Scope, headers: dict[bytes, bytes]) -> bool:
        if self.key is None:
            return False
        auth = headers.get(b"authorization", b"")
        given = auth[7:].strip() if auth[:7].lower() == b"bearer " else headers.get(b"x-api-key", scope.get(QUERY_KEY))
        return given is not None and hmac.compare_digest(given.strip(), self.key)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        self._take_query_key(scope)
        headers = dict(scope.get("headers") or [])
        host_header = headers.get(b"host", b"").decode("latin-1")
        host, port = _split_host(host_header)
        if host_header and not (self.any_host or _is_address(host) or host in self.hosts):
            await _refuse(scope, send, 400, "BadRequest",
                          f"this server does not answer to the name '{host}' (its operator can allow it with "
                          f"--server-name {host})")
            return
        trusted_origin = False  # a browser said the page is this server's (or a configured name's)
        origin = headers.get(b"origin")
        if origin is not None:
            o = urlsplit(origin.decode("latin-1").strip())
            o_host, o_port = _split_host(o.netloc)
            web = o.scheme in ("http", "https") and bool(o_host)
            scheme = "https" if scope.get("scheme") in ("https", "wss") else "http"
            own = (scheme, host, port or _DEFAULT_PORT[scheme])
            theirs = (o.scheme, o_host, o_port or _DEFAULT_PORT.get(o.scheme))
            trusted_origin = web and ((bool(host_header) and theirs == own) or o_host in self.names)
            if not trusted_origin:
                await _refuse(scope, send, 403, "Forbidden",
                              f"cross-origin request refused: the page at {origin.decode('latin-1')[:100]!r} is "
                              "not this server's")
                return
        if (scope["type"] == "http" and scope.get("method") in _STATE_CHANGING and not trusted_origin
                and headers.get(b"content-type", b"").split(b";")[0].strip().lower() != b"application/json"
                and not self._key_given(scope, headers)):
            message = "send the request as JSON with 'Content-Type: application/json'"
            if str(scope.get("path", "")).startswith(self.openai_prefixes):
                body = json.dumps({"error": {"message": message, "type": "invalid_request_error", "param": None,
                                             "code": None}}).encode()
                await send({"type": "http.response.start", "status": 400,
                            "headers": [(b"content-type", b"application/json"),
                                        (b"content-length", str(len(body)).encode())]})
                await send({"type": "http.response.body", "body": body})
                return
            await send_error(send, 415, "UnsupportedMediaType", message)
            return
        await self.app(scope, receive, send)


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
        if scope.get(QUERY_KEY) is not None:  # taken out of the query string by RequestGuardMiddleware
            return scope[QUERY_KEY]
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
        await _refuse(scope, send, 401, "Unauthorized", message, [(b"www-authenticate", b"Bearer")])


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
