"""Routes open without an API key: the page at ``/`` and ``/healthz``.

``/`` is a placeholder until the web page lands: the page's files go in
``onlook/server/static/`` (served at ``/static/``, no key needed) and this
route then returns its ``index.html``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import FileResponse, HTMLResponse

from onlook import __version__
from onlook.server.protocol import Health

__all__ = ["router", "STATIC_DIR"]

STATIC_DIR = Path(__file__).parent / "static"

router = APIRouter()

_PLACEHOLDER = """<!doctype html><html><head><meta charset="utf-8"><title>onlook</title></head>
<body><h1>onlook</h1><p>onlook is running. The HTTP API is described at <a href="docs">/docs</a>.</p></body></html>
"""


@router.get("/", include_in_schema=False, response_model=None)
async def index() -> FileResponse | HTMLResponse:
    page = STATIC_DIR / "index.html"
    if page.is_file():
        return FileResponse(page, media_type="text/html")
    return HTMLResponse(_PLACEHOLDER)


@router.get("/healthz", response_model=Health, tags=["system"])
async def healthz(request: Request) -> dict[str, Any]:
    """Liveness: the server answers. Needs no API key."""
    mgr = request.app.state.manager
    return {"status": "ok", "version": __version__, "streams": len(mgr.streams)}
