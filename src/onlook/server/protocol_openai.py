"""Wire models of the OpenAI-compatible endpoints: ``/v1/models`` and ``/v1/chat/completions``.

The shapes follow OpenAI's chat completions API closely enough that the
``openai`` Python client and OpenAI-compatible chat UIs work unchanged. Unlike
onlook's own request bodies (which forbid unknown fields), these models
*accept* unknown fields (``extra="allow"``): real clients send many
(``stream_options``, ``parallel_tool_calls``, vendor extensions...). The
serving layer logs each unknown field name once and otherwise ignores it.

Known OpenAI parameters that make no sense for answers read out of a video's
memory (``temperature``, ``top_p``, ``seed``, ``stop``, tools...) are
declared, type-checked and ignored.

One onlook extension is read from the request: ``at`` (answer as of this
stream time, in seconds; the ``openai`` client sends it with
``extra_body={"at": 12.0}``). Completions carry one extension back:
``onlook``, the answer's confidence, value, span and evidence (with keyframe
URLs) for programs that want more than the text.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_serializer

__all__ = [
    "ContentPart",
    "ChatMessage",
    "StreamOptions",
    "ChatCompletionRequest",
    "ModelCard",
    "ModelList",
    "Usage",
    "AssistantMessage",
    "Choice",
    "OnlookInfo",
    "ChatCompletion",
    "DeltaMessage",
    "ChunkChoice",
    "ChatCompletionChunk",
    "OpenAIErrorDetail",
    "OpenAIErrorResponse",
    "unknown_fields",
]

Role = Literal["system", "developer", "user", "assistant", "tool", "function"]


class _Lenient(BaseModel):
    """Accepts (and keeps, in ``model_extra``) fields it does not declare."""

    model_config = ConfigDict(extra="allow")


class ContentPart(_Lenient):
    """One part of a message's content; only ``{"type": "text", "text": ...}`` parts are read."""

    type: str = Field(max_length=64, description="'text' parts are read; 'image_url' and others are ignored")
    text: str | None = None


class ChatMessage(_Lenient):
    role: Role
    content: str | list[ContentPart] | None = Field(
        None, description="a string, or a list of content parts (their text parts are joined)")
    name: str | None = Field(None, max_length=256)


class StreamOptions(_Lenient):
    include_usage: bool = Field(False, description="send a last chunk with the usage counts and no choices")


class ChatCompletionRequest(_Lenient):
    """``POST /v1/chat/completions``. ``model`` is a stream id (see ``GET /v1/models``).

    The last ``user`` message is the question; the user/assistant turns before
    it are the conversation's history (system messages are ignored: onlook's
    answers come from what it saw, not from instructions).
    """

    model: str = Field(min_length=1, max_length=200, description="the stream to ask about")
    messages: list[ChatMessage] = Field(min_length=1, max_length=1000)
    stream: bool | None = Field(False, description="send chat.completion.chunk Server-Sent Events")
    stream_options: StreamOptions | None = None
    max_tokens: int | None = Field(None, ge=1, description="cut the answer after this many (approximate) tokens")
    max_completion_tokens: int | None = Field(None, ge=1, description="same as max_tokens (newer name)")
    n: int | None = Field(1, description="must be 1: onlook gives one answer")
    at: float | None = Field(None, ge=0, allow_inf_nan=False,
                             description="onlook extension: answer as of this stream time (seconds)")
    # Accepted and ignored: sampling and tool parameters mean nothing for answers read out of memory.
    temperature: float | None = None
    top_p: float | None = None
    presence_penalty: float | None = None
    frequency_penalty: float | None = None
    seed: int | None = None
    stop: str | list[str] | None = None
    user: str | None = None
    logprobs: bool | None = None
    top_logprobs: int | None = None
    logit_bias: dict[str, float] | None = None
    tools: list[Any] | None = None
    tool_choice: Any = None
    parallel_tool_calls: bool | None = None
    response_format: Any = None
    metadata: dict[str, Any] | None = None
    store: bool | None = None
    service_tier: str | None = None

    @field_validator("n")
    @classmethod
    def _one_choice(cls, v: int | None) -> int | None:
        if v not in (None, 1):
            raise ValueError("onlook gives one answer per request: n must be 1")
        return v

    @property
    def token_limit(self) -> int | None:
        return self.max_completion_tokens or self.max_tokens


def unknown_fields(req: ChatCompletionRequest) -> list[str]:
    """Names of the fields a request sent that no model declares, as paths (``messages[].foo``).

    Example:
        >>> r = ChatCompletionRequest.model_validate(
        ...     {"model": "cam", "messages": [{"role": "user", "content": "hi", "x": 1}], "y": 2})
        >>> unknown_fields(r)
        ['y', 'messages[].x']
    """
    names = list(req.model_extra or {})
    if req.stream_options is not None:
        names += [f"stream_options.{k}" for k in req.stream_options.model_extra or {}]
    for m in req.messages:
        names += [f"messages[].{k}" for k in m.model_extra or {}]
        if isinstance(m.content, list):
            for p in m.content:
                names += [f"messages[].content[].{k}" for k in p.model_extra or {}
                          if p.type == "text"]  # other part types carry their own fields (image_url...)
    return list(dict.fromkeys(names))


# --- responses ---------------------------------------------------------------------------------------


class ModelCard(BaseModel):
    """One stream, as a model."""

    id: str = Field(description="the stream id")
    object: Literal["model"] = "model"
    created: int = Field(description="when the stream was created (Unix seconds)")
    owned_by: str = "onlook"


class ModelList(BaseModel):
    object: Literal["list"] = "list"
    data: list[ModelCard]


class Usage(BaseModel):
    """Token counts, approximate: words and punctuation marks, not a tokenizer's count."""

    prompt_tokens: int
    completion_tokens: int
    total_tokens: int


class AssistantMessage(BaseModel):
    role: Literal["assistant"] = "assistant"
    content: str


class Choice(BaseModel):
    index: int = 0
    message: AssistantMessage
    finish_reason: Literal["stop", "length"] = "stop"
    logprobs: None = None


class OnlookInfo(BaseModel):
    """onlook extension: what the answer rests on (absent when the answerer gives only text)."""

    model_config = ConfigDict(extra="allow")

    stream: str
    t: float = Field(description="stream time the question was answered at")
    confidence: float
    abstained: bool
    value: Any = None
    span: list[float] | None = None
    evidence: list[dict[str, Any]] = Field(default_factory=list)


class ChatCompletion(BaseModel):
    id: str
    object: Literal["chat.completion"] = "chat.completion"
    created: int
    model: str
    choices: list[Choice]
    usage: Usage
    system_fingerprint: str | None = None
    onlook: OnlookInfo | None = None


class DeltaMessage(BaseModel):
    """A streamed piece; fields that are None are left out (as OpenAI does)."""

    role: Literal["assistant"] | None = None
    content: str | None = None

    @model_serializer(mode="wrap")
    def _drop_none(self, handler: Any) -> dict[str, Any]:
        return {k: v for k, v in handler(self).items() if v is not None}


class ChunkChoice(BaseModel):
    index: int = 0
    delta: DeltaMessage
    finish_reason: Literal["stop", "length"] | None = None
    logprobs: None = None


class ChatCompletionChunk(BaseModel):
    id: str
    object: Literal["chat.completion.chunk"] = "chat.completion.chunk"
    created: int
    model: str
    choices: list[ChunkChoice]
    usage: Usage | None = None
    system_fingerprint: str | None = None
    onlook: OnlookInfo | None = Field(None, description="on the chunk with the finish_reason")


class OpenAIErrorDetail(BaseModel):
    message: str
    type: str = Field(description="invalid_request_error, authentication_error, not_found_error, server_error")
    param: str | None = None
    code: str | None = Field(None, description="e.g. model_not_found, stream_unavailable")


class OpenAIErrorResponse(BaseModel):
    """Body of every error the /v1 routes answer (the API-key and body-size checks answer first, in
    onlook's ``{"error": {"type", "message"}}`` shape, which the ``openai`` client reads as well)."""

    error: OpenAIErrorDetail
