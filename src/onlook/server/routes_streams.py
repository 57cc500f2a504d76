"""Routes: streams, ask, search, keyframes, alerts. Thin: parse, call the service, return."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Path, Query, Request
from fastapi.responses import FileResponse, Response, StreamingResponse

from onlook.errors import QueryError
from onlook.server.errors import AlertNotFound
from onlook.server.protocol import (
    STREAM_ID_PATTERN,
    AlertList,
    AlertRequest,
    AnswerResponse,
    AskRequest,
    ClusterStatus,
    CreateStreamRequest,
    ErrorResponse,
    SearchResponse,
    StreamList,
    StreamStatus,
)
from onlook.server.serving import StreamService

__all__ = ["router", "get_service", "Service", "StreamId", "ERRORS", "SSE_HEADERS"]

ERRORS: dict[int | str, dict[str, Any]] = {
    c: {"model": ErrorResponse} for c in (400, 401, 403, 404, 409, 413, 422, 503)}

SSE_HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}

router = APIRouter(responses=ERRORS)

StreamId = Annotated[str, Path(pattern=STREAM_ID_PATTERN, description="stream id")]


def get_service(request: Request) -> StreamService:
    return request.app.state.service


Service = Annotated[StreamService, Depends(get_service)]


@router.post("/streams", status_code=201, response_model=StreamStatus, tags=["streams"])
async def create_stream(req: CreateStreamRequest, service: Service) -> dict[str, Any]:
    """Start watching a source. File sources must lie under the server's ``--allow-files`` folders."""
    h = await service.manager.create(req)
    return await service.status(h.id)


@router.get("/streams", response_model=StreamList, tags=["streams"])
async def list_streams(service: Service) -> dict[str, Any]:
    return {"streams": await service.list()}


@router.get("/streams/{stream_id}", response_model=StreamStatus, tags=["streams"])
async def get_stream(stream_id: StreamId, service: Service) -> dict[str, Any]:
    return await service.status(stream_id)


@router.post("/streams/{stream_id}/stop", response_model=StreamStatus, tags=["streams"])
async def stop_stream(stream_id: StreamId, service: Service) -> dict[str, Any]:
    """Stop ingest; the stream stays listed and queryable."""
    await service.manager.stop(stream_id)
    return await service.status(stream_id)


@router.post("/streams/{stream_id}/start", response_model=StreamStatus, tags=["streams"])
async def start_stream(stream_id: StreamId, service: Service) -> dict[str, Any]:
    """Start a stopped, ended or failed stream again (a file carries on after what is stored)."""
    await service.manager.restart(stream_id)
    return await service.status(stream_id)


@router.delete("/streams/{stream_id}", tags=["streams"])
async def delete_stream(stream_id: StreamId, service: Service,
                        keep_store: Annotated[bool, Query(description="keep the stream's memory on disk")] = False,
                        ) -> dict[str, Any]:
    """Stop a stream, forget it and delete its memory (unless ``keep_store=true``)."""
    await service.manager.delete(stream_id, keep_store=keep_store)
    return {"id": stream_id, "deleted": True, "store_kept": keep_store}


@router.post("/streams/{stream_id}/ask", response_model=AnswerResponse, tags=["ask"],
             responses={200: {"content": {"text/event-stream": {}},
                              "description": "the answer; with stream=true, Server-Sent Events: "
                                             "{type: chunk, text} pieces, then {type: answer, ...}"}})
async def ask(stream_id: StreamId, req: AskRequest, service: Service) -> Any:
    """Answer a question from the stream's memory, as of now or of stream time ``at``."""
    answer = await service.ask(stream_id, req.question, at=req.at, conversation_id=req.conversation_id)
    if req.stream:
        return StreamingResponse(service.ask_events(answer), media_type="text/event-stream", headers=SSE_HEADERS)
    return answer


@router.get("/streams/{stream_id}/search", response_model=SearchResponse, tags=["search"])
async def search_stream(stream_id: StreamId, service: Service,
                        q: Annotated[str, Query(min_length=1, max_length=500, description="what to look for")],
                        k: Annotated[int, Query(ge=1, le=100)] = 10) -> dict[str, Any]:
    """Ranked time spans of one stream matching a description."""
    return await service.search(stream_id, q, k)


@router.get("/search", response_model=SearchResponse, tags=["search"])
async def search_all(service: Service,
                     q: Annotated[str, Query(min_length=1, max_length=500, description="what to look for")],
                     k: Annotated[int, Query(ge=1, le=100)] = 10) -> dict[str, Any]:
    """Search every stream at once; each hit names its stream."""
    return await service.search_all(q, k)


@router.get("/streams/{stream_id}/keyframes/{name}", response_class=FileResponse, tags=["search"],
            responses={200: {"content": {"image/jpeg": {}}}})
async def keyframe(stream_id: StreamId, name: str, service: Service) -> Response:
    """A keyframe JPEG named in answers, hits, events and alerts (``keyframe_url``)."""
    found = await service.keyframe(stream_id, name)
    headers = {"Cache-Control": "max-age=3600"}
    if isinstance(found, bytes):  # from a worker on another machine
        return Response(found, media_type="image/jpeg", headers=headers)
    return FileResponse(found, media_type="image/jpeg", headers=headers)


@router.get("/streams/{stream_id}/alerts", response_model=AlertList, tags=["alerts"])
async def list_alerts(stream_id: StreamId, service: Service) -> dict[str, Any]:
    h = service.manager.get(stream_id)
    alerts = h.engine.alert_queries if h.engine is not None else h.alerts
    return {"stream": stream_id, "alerts": alerts}


@router.post("/streams/{stream_id}/alerts", status_code=201, response_model=AlertList, tags=["alerts"])
async def add_alert(stream_id: StreamId, req: AlertRequest, service: Service) -> dict[str, Any]:
    """Add a standing alert query; refused (400) when perception cannot see what it asks about."""
    alerts = await service.manager.add_alert(stream_id, req.query)
    return {"stream": stream_id, "alerts": alerts}


@router.delete("/streams/{stream_id}/alerts", response_model=AlertList, tags=["alerts"])
async def remove_alert(stream_id: StreamId, service: Service,
                       req: Annotated[AlertRequest | None, Body()] = None,
                       query: Annotated[str | None, Query(min_length=1, max_length=500)] = None) -> dict[str, Any]:
    """Remove a standing alert, given as ``{"query": ...}`` or ``?query=``."""
    words = req.query if req is not None else query
    if not words:
        raise QueryError('say which alert to remove: {"query": "..."} or ?query=...')
    if not await service.manager.remove_alert(stream_id, words):
        raise AlertNotFound(f"stream '{stream_id}' has no alert {words!r}")
    h = service.manager.get(stream_id)
    return {"stream": stream_id, "alerts": h.require_engine().alert_queries}


@router.get("/cluster", response_model=ClusterStatus, tags=["cluster"])
async def cluster_status(service: Service) -> dict[str, Any]:
    """Where streams run (this process, or Ray actors): nodes, and per stream its node, fps, lag, drops,
    store size and restarts."""
    return await service.cluster()
