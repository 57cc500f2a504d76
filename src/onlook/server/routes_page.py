"""The web page: ``/`` (its ``index.html``), ``/healthz``, and the page's history route.

The page's files live in ``onlook/server/static/`` (served at ``/static/``,
open without an API key, no build step). ``/`` returns ``static/index.html``
(a placeholder when the files are missing). ``/streams/{id}/history`` gives
the page what a stream recorded before it was opened (alerts, events,
sightings, gaps), so its timeline and alerts panel are not empty after a
reload; like every ``/streams`` route it needs the API key when one is set.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Annotated, Any

from anyio import to_thread
from fastapi import APIRouter, Query, Request
from fastapi.responses import FileResponse, HTMLResponse

from onlook import __version__
from onlook.errors import OnlookError
from onlook.server.manager import keyframe_url
from onlook.server.protocol import Health
from onlook.server.routes_streams import ERRORS, Service, StreamId
from onlook.types import ObservationKind

__all__ = ["router", "STATIC_DIR", "history"]

STATIC_DIR = Path(__file__).parent / "static"

router = APIRouter()

log = logging.getLogger(__name__)

_PLACEHOLDER = """<!doctype html><html><head><meta charset="utf-8"><title>onlook</title></head>
<body><h1>onlook</h1><p>onlook is running. The HTTP API is described at <a href="docs">/docs</a>.</p></body></html>
"""

_SIGHTING_KINDS = (ObservationKind.ENTER, ObservationKind.EXIT, ObservationKind.SCENE_CUT, ObservationKind.TEXT)


@router.get("/", include_in_schema=False, response_model=None)
async def index() -> FileResponse | HTMLResponse:
    page = STATIC_DIR / "index.html"
    if page.is_file():
        return FileResponse(page, media_type="text/html", headers={"Cache-Control": "no-cache"})
    return HTMLResponse(_PLACEHOLDER)


@router.get("/healthz", response_model=Health, tags=["system"])
async def healthz(request: Request) -> dict[str, Any]:
    """Liveness: the server answers. Needs no API key."""
    mgr = request.app.state.manager
    return {"status": "ok", "version": __version__, "streams": len(mgr.streams)}


def history(record: dict[str, list[Any]], stream_id: str) -> dict[str, Any]:
    """A store's :meth:`~onlook.memory.Store.record` as the live feed sends its items (oldest first)."""
    alerts = [{**a.to_dict(), "stream": stream_id, "keyframe_url": keyframe_url(stream_id, a.keyframe)}
              for a in record["alerts"]]
    events = [{"type": "event", "t": e.end, "kind": "segment", "start": e.start, "end": e.end,
               "summary": e.summary, "salience": e.salience, "keyframe": e.keyframe,
               "keyframe_url": keyframe_url(stream_id, e.keyframe), "stream": stream_id}
              for e in record["events"]]
    sightings = [{"type": "event", "t": o.t, "kind": o.kind, "label": o.label, "track_id": o.track_id,
                  "attrs": o.attrs, "keyframe_url": keyframe_url(stream_id, kf), "stream": stream_id}
                 for o, kf in record["sightings"]]
    gaps = [{"type": "event", "t": g.start, "kind": "gap", "end": g.end, "reason": g.reason, "stream": stream_id}
            for g in record["gaps"]]
    speech = [{**s.to_dict(), "stream": stream_id} for s in record.get("speech", [])]
    return {"stream": stream_id, "alerts": alerts, "events": events + sightings + gaps + speech}


@router.get("/streams/{stream_id}/history", tags=["events"], responses=ERRORS)
async def stream_history(stream_id: StreamId, service: Service,
                         limit: Annotated[int, Query(ge=1, le=2000, description="most items of each kind")] = 500,
                         ) -> dict[str, Any]:
    """What a stream recorded so far, for the page's timeline: its latest alerts, events, sightings, gaps and speech.

    Each item has the shape of the matching live message (``/streams/{id}/events``).
    """
    h = service.manager.get(stream_id)
    empty: dict[str, Any] = {"stream": stream_id, "alerts": [], "events": []}
    client = h.engine
    if client is None:
        return empty
    try:
        return history(await to_thread.run_sync(client.record, limit, _SIGHTING_KINDS), stream_id)
    except OnlookError:  # e.g. the stream was deleted (its store closed) meanwhile
        return empty
    except Exception as e:  # noqa: BLE001 - a worker elsewhere restarting: the page shows an empty timeline
        log.warning("stream %s: no history from its worker (%s)", stream_id, e)
        return empty

