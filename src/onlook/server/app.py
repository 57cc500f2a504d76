"""The FastAPI application: lifespan, middleware, error replies and routers.

Layers (as in vLLM's ``entrypoints/openai``): ``routes_*`` modules are thin
HTTP adapters, :mod:`~onlook.server.protocol` holds the wire models,
:mod:`~onlook.server.serving` does each endpoint's work over the
:class:`~onlook.server.manager.StreamManager`, which holds the engines. The
engine knows nothing of HTTP.

Every error reply is ``{"error": {"type": ..., "message": ...}}`` with the
status code :func:`~onlook.server.errors.status_for` picks; unexpected
failures are logged with their traceback and answered 500 without it.
"""

from __future__ import annotations

import logging
import os
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI, Request, Security
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.security import HTTPBearer
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Receive, Scope, Send

from onlook import __version__
from onlook.config import Settings
from onlook.errors import OnlookError
from onlook.server import routes_events, routes_openai, routes_page, routes_streams
from onlook.server.errors import one_line, status_for
from onlook.server.manager import ClientFactory, StreamManager
from onlook.server.middleware import ApiKeyMiddleware, BodyLimitMiddleware, RequestGuardMiddleware
from onlook.server.serving import StreamService
from onlook.server.webhooks import WebhookSender
from onlook.sources.netpolicy import NetPolicy

__all__ = ["create_app", "OPEN_PATHS", "OPEN_PREFIXES"]

log = logging.getLogger(__name__)

OPEN_PATHS = ("/", "/healthz", "/docs", "/docs/oauth2-redirect", "/openapi.json")
"""Paths that never need the API key: the page, liveness, and the API's description (no stream data)."""
OPEN_PREFIXES = ("/static/",)

_HTTP_TYPES = {400: "BadRequest", 401: "Unauthorized", 403: "Forbidden", 404: "NotFound", 405: "MethodNotAllowed",
               409: "Conflict", 413: "PayloadTooLarge", 415: "UnsupportedMediaType", 422: "ValidationError"}


def _error(status: int, type_: str, message: str, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"error": {"type": type_, "message": message}}, status_code=status, headers=headers)


def _validation_message(exc: RequestValidationError) -> tuple[int, str]:
    errors = exc.errors()
    if not errors:
        return 422, "invalid request"
    e = errors[0]
    loc = [str(p) for p in e.get("loc", ()) if p not in ("body", "query", "path")]
    where = ".".join(loc)
    kind = e.get("type", "")
    if kind == "json_invalid":
        detail = (e.get("ctx") or {}).get("error", "")
        return 400, f"request body is not valid JSON{': ' + detail if detail else ''}"
    if kind == "model_attributes_type" and isinstance(e.get("input"), bytes | str):
        return 415, "send the request body as JSON with 'Content-Type: application/json'"
    if kind == "extra_forbidden":
        return 422, f"unknown field '{where}'"
    if kind == "missing":
        return 422, f"missing field '{where}'" if where else "missing request body"
    msg = e.get("msg", "invalid value")
    more = f" (and {len(errors) - 1} more problem{'s' if len(errors) > 2 else ''})" if len(errors) > 1 else ""
    return 422, f"{where + ': ' if where else ''}{msg}{more}"


def _install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(OnlookError)
    async def onlook_error(request: Request, exc: OnlookError) -> JSONResponse:
        status = status_for(exc)
        if status >= 500:
            log.error("%s %s failed: %s", request.method, request.url.path, exc)
        return _error(status, type(exc).__name__, one_line(exc) or type(exc).__name__)

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
        status, message = _validation_message(exc)
        return _error(status, _HTTP_TYPES.get(status, "ValidationError"), one_line(message))

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        message = exc.detail if isinstance(exc.detail, str) else "request failed"
        if exc.status_code == 404 and message == "Not Found":
            message = f"no route {request.method} {request.url.path}"
        return _error(exc.status_code, _HTTP_TYPES.get(exc.status_code, "HTTPError"), one_line(message),
                      dict(exc.headers or {}))

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.error("%s %s failed", request.method, request.url.path, exc_info=exc)
        return _error(500, "InternalError", "internal server error (the server log has the details)")


class _BodyLimits:
    """:class:`BodyLimitMiddleware` with other limits under some path prefixes.

    Chat clients (``/v1/``) resend the whole conversation with each question,
    so their bodies get a larger limit (1 MiB by default: a long text history;
    pasted images, which onlook does not read, may not fit and get 413).
    """

    def __init__(self, app: ASGIApp, *, max_bytes: int, prefix_limits: dict[str, int]) -> None:
        self.default = BodyLimitMiddleware(app, max_bytes=max_bytes)
        self.by_prefix = [(p, BodyLimitMiddleware(app, max_bytes=n)) for p, n in prefix_limits.items()]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "") if scope["type"] == "http" else ""
        limited = next((mw for p, mw in self.by_prefix if path.startswith(p)), self.default)
        await limited(scope, receive, send)


def create_app(settings: Settings | None = None, store_root: str | os.PathLike[str] = "onlook-store", *,
               api_key: str | None = None, allow_files: Sequence[str | os.PathLike[str]] = (),
               webhooks: Sequence[str] = (), max_body_bytes: int = 64 * 1024,
               max_chat_body_bytes: int = 1024 * 1024,
               webhook_sender: WebhookSender | None = None, answerer: Any = None, executor: Any = None,
               server_names: Sequence[str] = (), net_policy: NetPolicy | None = None,
               clients: ClientFactory | None = None) -> FastAPI:
    """Build the onlook HTTP app.

    Args:
        settings: Defaults for every stream (each stream's options override them).
        store_root: Folder of ``streams.json`` and one memory store per stream.
        api_key: When set, every route but ``/``, ``/static/*``, ``/healthz``
            and the API docs needs it (``Authorization: Bearer KEY``,
            ``X-API-Key`` or ``?api_key=``).
        allow_files: Folders file sources may come from; none by default.
        webhooks: URLs that receive every alert as a JSON POST.
        max_body_bytes: Larger request bodies are refused with 413.
        max_chat_body_bytes: The same for ``/v1/*`` (OpenAI-compatible): chat clients send the whole
            conversation with every question, so these bodies may be larger.
        webhook_sender: Webhook delivery settings (retries, backoff).
        answerer: Answerer shared by every stream (a VLM backend); None keeps each
            stream's extractive default.
        executor: Where streams run: None keeps them in this process; an
            :class:`~onlook.cluster.Executor` such as :class:`~onlook.cluster.RayExecutor`
            runs each one's worker there (each worker builds the answerer ``settings``
            name). The caller owns it (shuts it down after the app).
        server_names: Host names the server is reached by, besides ``localhost``, its
            addresses and ``settings.server.names`` (pass the ``--host`` it binds when that
            is a name): requests whose ``Host`` or ``Origin`` names another are refused.
        net_policy: What network sources and per-stream webhooks that clients name may
            reach; default from ``settings`` (public addresses, plus ``allow_hosts``,
            listening sources only with ``allow_listen``).
        clients: Builds each stream's :class:`~onlook.client.StreamClient` from its handle and
            settings, instead of an engine here or a worker on ``executor`` (e.g.
            :class:`~onlook.client.FakeStreamClient` in tests of the API).

    Returns:
        The app; its lifespan reopens the streams of ``store_root`` and stops them on shutdown.

    Example:
        >>> app = create_app(Settings(sources={"fps": 2}), "/var/lib/onlook", api_key="s3cret",
        ...                  allow_files=["/srv/video"])                           # doctest: +SKIP
        >>> uvicorn.run(app, host="127.0.0.1", port=8080)                          # doctest: +SKIP
    """
    settings = settings or Settings()
    manager = StreamManager(settings, store_root, allow_files=list(allow_files), webhooks=list(webhooks),
                            webhook_sender=webhook_sender, answerer=answerer, executor=executor,
                            net_policy=net_policy, clients=clients)
    service = StreamService(manager)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await manager.start()
        try:
            yield
        finally:
            await manager.close()

    app = FastAPI(title="onlook", version=__version__, lifespan=lifespan,
                  description="Watch video streams, remember them, answer questions and raise alerts.")
    app.state.settings = settings
    app.state.manager = manager
    app.state.service = service
    _install_error_handlers(app)

    # Declares the bearer scheme in the OpenAPI document (the "Authorize" button of /docs);
    # the check itself is ApiKeyMiddleware's, which also covers WebSockets and streamed routes.
    api: dict[str, Any] = {"dependencies": [Security(HTTPBearer(auto_error=False))]} if api_key else {}
    app.include_router(routes_page.router)
    app.include_router(routes_streams.router, **api)
    app.include_router(routes_events.router, **api)
    app.include_router(routes_openai.router, **api)
    if routes_page.STATIC_DIR.is_dir():
        app.mount("/static", StaticFiles(directory=routes_page.STATIC_DIR), name="static")

    app.add_middleware(_BodyLimits, max_bytes=max_body_bytes, prefix_limits={"/v1/": max_chat_body_bytes})
    if api_key:
        app.add_middleware(ApiKeyMiddleware, api_key=api_key, open_paths=OPEN_PATHS, open_prefixes=OPEN_PREFIXES)
    # Outermost: refused before anything else runs, and api_key= is out of the query before anything logs it.
    app.add_middleware(RequestGuardMiddleware, server_names=[*settings.server.names, *server_names],
                       api_key=api_key, openai_prefixes=("/v1/",))
    return app
