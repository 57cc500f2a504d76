"""Routes: live feeds of events and alerts (SSE, WebSocket) and the MJPEG live view."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Annotated

from fastapi import APIRouter, Query, WebSocket
from fastapi.responses import StreamingResponse
from starlette.websockets import WebSocketState

from onlook.errors import OnlookError, QueryError
from onlook.server.errors import one_line, status_for
from onlook.server.live import BOUNDARY
from onlook.server.manager import MESSAGE_TYPES
from onlook.server.protocol import dumps
from onlook.server.routes_streams import ERRORS, SSE_HEADERS, Service, StreamId

__all__ = ["router", "parse_types"]

router = APIRouter(responses=ERRORS)

Types = Annotated[str | None, Query(description="comma-separated message types: event, alert, status, error, speech")]


def parse_types(types: str | None) -> frozenset[str] | None:
    """``"alert,event"`` -> ``{"alert", "event"}``; None or empty: every type.

    Raises:
        QueryError: an unknown type.
    """
    if not types:
        return None
    wanted = frozenset(t.strip() for t in types.split(",") if t.strip())
    unknown = wanted - MESSAGE_TYPES
    if unknown:
        raise QueryError(f"unknown message type(s) {', '.join(sorted(unknown))}; "
                         f"choose from {', '.join(sorted(MESSAGE_TYPES))}")
    return wanted or None


@router.get("/streams/{stream_id}/events", tags=["events"], response_class=StreamingResponse,
            responses={200: {"content": {"text/event-stream": {}}}})
async def stream_events(stream_id: StreamId, service: Service, types: Types = None) -> StreamingResponse:
    """Server-Sent Events of one stream: its status first, then events, alerts, status and errors as they happen.

    Each event's ``data`` is one JSON object with ``"type"`` and ``"t"`` (the engine's message) and ``"stream"``.
    """
    sub = service.manager.subscribe(stream_id, parse_types(types))
    return StreamingResponse(service.feed_events(sub, stream_id), media_type="text/event-stream", headers=SSE_HEADERS)


@router.get("/events", tags=["events"], response_class=StreamingResponse,
            responses={200: {"content": {"text/event-stream": {}}}})
async def all_events(service: Service, types: Types = None) -> StreamingResponse:
    """Server-Sent Events of every stream (each message names its ``"stream"``)."""
    sub = service.manager.subscribe(None, parse_types(types))
    return StreamingResponse(service.feed_events(sub, None), media_type="text/event-stream", headers=SSE_HEADERS)


@router.websocket("/streams/{stream_id}/ws")
async def stream_ws(websocket: WebSocket, stream_id: str, types: str | None = None) -> None:
    """The same messages as ``/streams/{id}/events``, one JSON text frame each."""
    service = websocket.app.state.service
    await websocket.accept()
    try:
        sub = service.manager.subscribe(stream_id, parse_types(types))
    except OnlookError as e:  # unknown stream or types: say why, then close
        await websocket.send_text(dumps({"type": "error", "error": {"type": type(e).__name__, "message": one_line(e)}}))
        await websocket.close(code=4000 + status_for(e))
        return

    async def forward() -> None:
        if sub.types is None or "status" in sub.types:
            await websocket.send_text(dumps({"type": "status", **await service.status(stream_id)}))
        while (msg := await sub.get()) is not None:
            await websocket.send_text(dumps(msg))

    async def watch() -> None:
        while (await websocket.receive())["type"] != "websocket.disconnect":
            pass  # client messages are ignored for now

    tasks = [asyncio.create_task(forward()), asyncio.create_task(watch())]
    try:
        # Whichever ends first (feed over, or client gone) ends the other.
        await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)  # a disconnect while sending is expected
        service.manager.unsubscribe(sub)
        if websocket.client_state == WebSocketState.CONNECTED:
            with contextlib.suppress(Exception):
                await websocket.close(code=1001)


@router.get("/streams/{stream_id}/live.mjpg", tags=["live"], response_class=StreamingResponse,
            responses={200: {"content": {f"multipart/x-mixed-replace; boundary={BOUNDARY}": {}}}})
async def live_mjpeg(stream_id: StreamId, service: Service,
                     boxes: Annotated[bool, Query(description="draw person, face and text boxes")] = False,
                     fps: Annotated[float, Query(gt=0, le=10, allow_inf_nan=False,
                                                 description="most pictures a second")] = 5.0,
                     ) -> StreamingResponse:
    """MJPEG of the latest analysed frames (for ``<img src>``); ends when the client goes away."""
    service.manager.get(stream_id)
    return StreamingResponse(service.mjpeg(stream_id, boxes=boxes, fps=fps),
                             media_type=f"multipart/x-mixed-replace; boundary={BOUNDARY}",
                             headers={"Cache-Control": "no-cache, no-store", "X-Accel-Buffering": "no"})
