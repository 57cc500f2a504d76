"""Request and response models of the HTTP API (the wire format, nothing else).

Request bodies of onlook's own API forbid unknown fields (``extra="forbid"``):
a typo such as ``"fsp": 2`` is answered with 422 instead of being ignored.
Response models document what clients get; the serving layer fills them from
the engine's plain dicts.
"""

from __future__ import annotations

import json
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from onlook.types import StreamState

__all__ = [
    "STREAM_ID_PATTERN",
    "dumps",
    "ErrorDetail",
    "ErrorResponse",
    "CreateStreamRequest",
    "StreamStatus",
    "StreamList",
    "AskRequest",
    "EvidenceModel",
    "AnswerResponse",
    "SearchHitModel",
    "SearchResponse",
    "AlertRequest",
    "AlertList",
    "Health",
]

STREAM_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$"
"""Stream ids: letters, digits, ``_`` and ``-``; they name a folder under the store root."""


AlertQuery = Annotated[str, Field(min_length=1, max_length=500)]
Url = Annotated[str, Field(min_length=1, max_length=2000)]


def _default(o: Any) -> Any:
    item = getattr(o, "item", None)  # numpy scalars
    if callable(item):
        return item()
    tolist = getattr(o, "tolist", None)  # numpy arrays
    if callable(tolist):
        return tolist()
    return str(o)


def dumps(obj: Any) -> str:
    """One-line JSON of an engine message as sent on the wire (numpy values become numbers)."""
    return json.dumps(obj, default=_default, separators=(",", ":"))


class _Request(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class ErrorDetail(BaseModel):
    type: str = Field(description="error class, e.g. UnsupportedQuery, StreamNotFound")
    message: str = Field(description="one line saying what is wrong")


class ErrorResponse(BaseModel):
    """Body of every error response."""

    error: ErrorDetail


class CreateStreamRequest(_Request):
    """``POST /streams``: what to watch and how."""

    source: str = Field(min_length=1, max_length=4096,
                        description="file path or file:// URL (only under --allow-files folders), rtsp://, "
                                    "rtmp://, http(s):// (HLS too), tcp://, udp://")
    id: str | None = Field(None, pattern=STREAM_ID_PATTERN,
                           description="stream id (default: made from the source name)")
    fps: float | None = Field(None, gt=0, le=60, allow_inf_nan=False, description="frames per second to analyse")
    realtime: bool | None = Field(None, description="pace a file at its native rate, like a live stream")
    alerts: list[AlertQuery] = Field(default_factory=list, max_length=64,
                                     description="standing alert queries, e.g. 'a person enters the view'")
    detect_people: bool | None = None
    detect_faces: bool | None = None
    detect_text: bool | None = None
    detect_objects: bool | None = None
    detect_hands: bool | None = None
    face_state: bool | None = None
    detect_pose: bool | None = None
    budget: str | int | None = Field(None, description="store size budget, e.g. '500MB'")
    # Times are finite: JSON's Infinity, NaN or 1e400 (which parses as infinity) get 422.
    start: float = Field(0.0, ge=0, allow_inf_nan=False, description="skip stream time before this (seconds)")
    until: float | None = Field(None, gt=0, allow_inf_nan=False, description="stop after this stream time (seconds)")
    webhooks: list[Url] = Field(default_factory=list, max_length=8,
                                description="http(s) URLs that receive each alert of this stream as a JSON POST")


class StreamStatus(BaseModel):
    """What ``GET /streams/{id}`` returns."""

    model_config = ConfigDict(extra="allow")

    id: str
    source: str
    state: StreamState
    error: str | None = Field(None, description="why the stream failed, one line")
    t: float = Field(0.0, description="stream time seen so far (seconds)")
    fps: float = Field(0.0, description="frames analysed per wall-clock second")
    speed: float = Field(0.0, description="stream seconds per wall-clock second")
    skipped_area: float = Field(0.0, description="share of the picture area the gate let detectors skip")
    store_bytes: int = 0
    frames_decoded: int = 0
    frames_kept: int = 0
    events: int = 0
    alerts_fired: int = 0
    dropped: int = 0
    gaps: int = 0
    outage: dict[str, Any] | None = Field(None, description="the outage of a live source going on now: start "
                                          "(stream time of the last frame), since (wall time), reason; its gap "
                                          "is stored open (end null) until frames return")
    duration: float | None = None
    lag_s: float | None = Field(None, description="seconds between the last analysed frame's arrival and its "
                                                   "analysis (near 0 when the stream keeps up)")
    alerts: list[str] = Field(default_factory=list, description="standing alert queries")
    capabilities: list[str] | None = Field(None, description="what the stream's engine can perceive "
                                           "(onlook.types.Capability values: people, faces, ocr, shots...); "
                                           "None while its engine is not open")
    options: dict[str, Any] = Field(default_factory=dict)
    created: float = 0.0
    restarts: int | None = Field(None, description="times the stream's worker was restarted (cluster only)")
    worker: dict[str, Any] | None = Field(None, description="where the stream runs: pid, host, node_id "
                                                            "(cluster only)")


class ClusterNode(BaseModel):
    """One machine streams can run on."""

    node_id: str | None = None
    host: str | None = None
    alive: bool = True
    resources: dict[str, float] = Field(default_factory=dict)
    streams: list[str] = Field(default_factory=list, description="ids of the streams running there")


class ClusterStream(BaseModel):
    """One stream's place and health, for ``GET /cluster``."""

    id: str
    node_id: str | None = None
    host: str | None = None
    state: str
    fps: float | None = None
    lag_s: float | None = None
    dropped: int | None = None
    store_bytes: int | None = None
    restarts: int | None = None
    t: float | None = None


class ClusterStatus(BaseModel):
    """What ``GET /cluster`` returns."""

    executor: Literal["local", "ray"] = Field(description="where streams run: in the server process, or Ray actors")
    nodes: list[ClusterNode]
    streams: list[ClusterStream]


class StreamList(BaseModel):
    streams: list[StreamStatus]


class AskRequest(_Request):
    """``POST /streams/{id}/ask``."""

    question: str = Field(min_length=1, max_length=2000)
    at: float | None = Field(None, ge=0, allow_inf_nan=False,
                             description="answer as of this stream time (default: now); finite")
    conversation_id: str | None = Field(None, max_length=128,
                                        description="groups questions of one conversation (echoed back)")
    stream: bool = Field(False, description="send the answer as Server-Sent Events, in chunks")


class EvidenceModel(BaseModel):
    t: float
    time: str
    description: str
    keyframe: str | None = None
    keyframe_url: str | None = None
    end: float | None = None


class AnswerResponse(BaseModel):
    """An answer (``Answer.to_dict()``) plus the stream, keyframe URLs and the conversation id."""

    type: Literal["answer"] = "answer"
    stream: str
    t: float
    question: str
    text: str
    confidence: float
    abstained: bool
    value: Any = None
    span: list[float] | None = None
    evidence: list[EvidenceModel] = Field(default_factory=list)
    conversation_id: str | None = None


class SearchHitModel(BaseModel):
    stream: str
    start: float
    end: float
    span: str
    score: float
    description: str
    keyframe: str | None = None
    keyframe_url: str | None = None


class SearchResponse(BaseModel):
    query: str
    hits: list[SearchHitModel]


class AlertRequest(_Request):
    """``POST``/``DELETE /streams/{id}/alerts``."""

    query: str = Field(min_length=1, max_length=500)


class AlertList(BaseModel):
    stream: str
    alerts: list[str]


class Health(BaseModel):
    status: Literal["ok"] = "ok"
    version: str
    streams: int
