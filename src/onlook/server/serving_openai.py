"""Serving layer of the OpenAI-compatible endpoints: chat requests mapped onto streams.

* ``model`` is a stream id; ``GET /v1/models`` lists the streams.
* The last ``user`` message is the question (a string, or the text parts of
  a list of content parts); the user/assistant turns before it are the
  conversation's history. System messages are ignored.
* Answerers that declare ``takes_history`` (the VLM answerers) get the
  history as ``[{"question", "answer"}, ...]``. The extractive default
  does not: a follow-up ("and in the first 10 seconds?") is asked together
  with the question before it
  (:func:`~onlook.answer.dialogue.followup_query`), through
  :meth:`StreamService.ask <onlook.server.serving.StreamService.ask>`, so it
  runs off the event loop like every other ask.
* Streamed requests get ``chat.completion.chunk`` Server-Sent Events: a
  first chunk with ``delta.role``, content deltas, a chunk with
  ``finish_reason``, a usage chunk when ``stream_options.include_usage``,
  then ``data: [DONE]``. Answerers that declare ``streams`` (VLMs) are
  streamed as they write; the extractive answer is complete at once and is
  sent in pieces of a few words.
* Token counts are approximate: words and punctuation marks
  (:func:`count_tokens`), not a tokenizer's count. ``max_tokens`` cuts the
  answer at that count (``finish_reason="length"``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import re
import threading
import time
from collections.abc import AsyncIterator, Sequence
from typing import Any

from anyio import to_thread

from onlook.answer.dialogue import followup_query
from onlook.client import StreamClient
from onlook.errors import OnlookError, QueryError
from onlook.server.errors import StreamNotFound, one_line, status_for
from onlook.server.manager import StreamHandle, keyframe_url
from onlook.server.protocol import dumps
from onlook.server.protocol_openai import (
    AssistantMessage,
    ChatCompletion,
    ChatCompletionChunk,
    ChatCompletionRequest,
    ChatMessage,
    Choice,
    ChunkChoice,
    ContentPart,
    DeltaMessage,
    ModelCard,
    ModelList,
    OnlookInfo,
    Usage,
    unknown_fields,
)
from onlook.server.serving import StreamService, chunk_text

__all__ = [
    "OpenAIServing",
    "count_tokens",
    "truncate_tokens",
    "message_text",
    "split_messages",
    "error_body",
    "MAX_QUESTION_CHARS",
]

log = logging.getLogger(__name__)

MAX_QUESTION_CHARS = 2000
"""The same limit as ``POST /streams/{id}/ask``."""

_TOKEN = re.compile(r"\w+|[^\w\s]")
_TEXT_PARTS = ("text", "input_text")
_MAX_LOGGED_FIELDS = 1000


def count_tokens(text: str) -> int:
    """Approximate token count: words and punctuation marks.

    Example:
        >>> count_tokens("3 people entered, at 00:12.")  # 3 / people / entered / , / at / 00 / : / 12 / .
        9
    """
    return len(_TOKEN.findall(text))


def truncate_tokens(text: str, limit: int | None) -> tuple[str, bool]:
    """``text`` cut after ``limit`` approximate tokens; and whether it was cut.

    Example:
        >>> truncate_tokens("one two three four", 2)
        ('one two', True)
    """
    if limit is None:
        return text, False
    for i, m in enumerate(_TOKEN.finditer(text)):
        if i == limit:
            return text[:m.start()].rstrip(), True
    return text, False


def message_text(content: str | Sequence[ContentPart] | None) -> str:
    """The text of a message: the string, or its text parts joined by newlines (images etc. are skipped).

    Example:
        >>> message_text([ContentPart(type="text", text="how many"), ContentPart(type="image_url"),
        ...               ContentPart(type="text", text="people?")])
        'how many\\npeople?'
    """
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    return "\n".join(p.text for p in content if p.type in _TEXT_PARTS and p.text)


def split_messages(messages: Sequence[ChatMessage], max_turns: int = 20) -> tuple[str, list[dict[str, Any]]]:
    """The question (the last user message's text) and the earlier turns, oldest first.

    A turn is a user message answered by the assistant message after it
    (consecutive user messages are joined). System, developer and tool
    messages are skipped, as is anything after the last user message.

    Raises:
        QueryError: there is no user message, it has no text, or it is too long.

    Example:
        >>> msgs = [ChatMessage(role="system", content="be brief"), ChatMessage(role="user", content="how many?"),
        ...         ChatMessage(role="assistant", content="3 people"), ChatMessage(role="user", content="and now?")]
        >>> split_messages(msgs)
        ('and now?', [{'question': 'how many?', 'answer': '3 people'}])
    """
    last = next((i for i in range(len(messages) - 1, -1, -1) if messages[i].role == "user"), None)
    if last is None:
        raise QueryError("the messages have no 'user' message: the last user message is the question")
    question = message_text(messages[last].content).strip()
    if not question:
        raise QueryError("the last 'user' message has no text: ask the question in words")
    if len(question) > MAX_QUESTION_CHARS:
        raise QueryError(f"the question is longer than {MAX_QUESTION_CHARS} characters")
    turns: list[dict[str, Any]] = []
    pending: str | None = None
    for m in messages[:last]:
        text = message_text(m.content).strip()
        if m.role == "user" and text:
            pending = f"{pending}\n{text}" if pending else text
        elif m.role == "assistant" and pending:
            turns.append({"question": pending, "answer": text})
            pending = None
    return question, turns[-max_turns:] if max_turns > 0 else []


def error_body(exc: BaseException) -> tuple[int, dict[str, Any]]:
    """HTTP status and OpenAI-style ``{"error": {"message", "type", "param", "code"}}`` for an error.

    Example:
        >>> error_body(StreamNotFound("no stream 'x'"))[0]
        404
    """
    status = status_for(exc)
    if isinstance(exc, StreamNotFound):
        return status, {"error": {"message": one_line(exc), "type": "invalid_request_error", "param": "model",
                                  "code": "model_not_found"}}
    kind = "invalid_request_error" if status < 500 else "server_error"
    code = re.sub(r"(?<!^)(?=[A-Z])", "_", type(exc).__name__).lower() if isinstance(exc, OnlookError) else None
    message = (one_line(exc) if isinstance(exc, OnlookError)
               else "internal server error (the server log has the details)")
    return status, {"error": {"message": message or type(exc).__name__, "type": kind, "param": None, "code": code}}


def _sse(obj: Any) -> str:
    data = obj.model_dump_json() if hasattr(obj, "model_dump_json") else dumps(obj)
    return f"data: {data}\n\n"


_DONE = "data: [DONE]\n\n"


class OpenAIServing:
    """``/v1/models`` and ``/v1/chat/completions`` over a :class:`StreamService`.

    Args:
        service: The streams (and the one way to ask them).
        history_turns: Earlier turns passed on with a question (the last ones).
        chunk_words: Words per content delta when a complete answer is streamed.

    Example:
        >>> serving = OpenAIServing(app.state.service)                       # doctest: +SKIP
        >>> await serving.chat(ChatCompletionRequest(model="cam1",
        ...     messages=[{"role": "user", "content": "how many people are here?"}]))  # doctest: +SKIP
    """

    def __init__(self, service: StreamService, *, history_turns: int = 20, chunk_words: int = 3) -> None:
        self.service = service
        self.history_turns = history_turns
        self.chunk_words = chunk_words
        self._logged_fields: set[str] = set()

    # --- models ----------------------------------------------------------------------------------

    @staticmethod
    def _card(h: StreamHandle) -> ModelCard:
        return ModelCard(id=h.id, created=int(h.created))

    def _stream(self, model: str) -> StreamHandle:
        h = self.service.manager.streams.get(model)
        if h is None:
            raise StreamNotFound(f"The model '{model}' does not exist: models are this server's stream ids "
                                 "(GET /v1/models lists them)")
        return h

    async def list_models(self) -> ModelList:
        return ModelList(data=[self._card(h) for h in self.service.manager.streams.values()])

    async def get_model(self, model: str) -> ModelCard:
        return self._card(self._stream(model))

    # --- chat ------------------------------------------------------------------------------------

    def _log_unknown(self, req: ChatCompletionRequest) -> None:
        new = [n for n in unknown_fields(req) if n not in self._logged_fields]
        if new and len(self._logged_fields) < _MAX_LOGGED_FIELDS:
            self._logged_fields.update(new)
            log.info("/v1/chat/completions: ignoring unknown field%s %s (each is logged once)",
                     "s" if len(new) > 1 else "", ", ".join(repr(n) for n in new))

    async def chat(self, req: ChatCompletionRequest) -> ChatCompletion | AsyncIterator[str]:
        """Answer a chat request: a :class:`ChatCompletion`, or (``stream=true``) an SSE body.

        Raises:
            StreamNotFound: ``model`` names no stream.
            StreamUnavailable: the stream's engine is not open.
            QueryError: no question in the messages.
            ModelError: a VLM answerer's server failed before its first word.
        """
        self._log_unknown(req)
        h = self._stream(req.model)
        question, history = split_messages(req.messages, self.history_turns)
        engine = h.require_engine()
        # Not uuid4: os.urandom releases the GIL, and on a loop shared with busy ingest threads getting
        # it back costs more than the id is worth. Ids need to be unique, not secret.
        cid = f"chatcmpl-{random.getrandbits(96):024x}"
        created = int(time.time())
        prompt_tokens = sum(count_tokens(message_text(m.content)) for m in req.messages)
        include_usage = bool(req.stream and req.stream_options and req.stream_options.include_usage)
        answerer = engine.answerer  # None for a remote stream without a VLM (its worker answers)
        view = engine.view  # None for a remote stream, whose answerer does not stream
        if req.stream and answerer is not None and view is not None and answerer.streams and answerer.takes_history:
            pieces = _PieceStream(lambda: answerer.stream_answer(question, view, req.at, history=history))
            await pieces.start()  # an answerer that fails at once is answered as an HTTP error
            return self._streamed(pieces, cid, created, req.model, prompt_tokens, req.token_limit, include_usage)

        answer = await self._answer(h.id, engine, question, history, req.at, cid)
        text, cut = truncate_tokens(answer["text"], req.token_limit)
        finish = "length" if cut else "stop"
        info = OnlookInfo(**{k: answer.get(k) for k in ("stream", "t", "confidence", "abstained", "value", "span")},
                          evidence=answer.get("evidence") or [])
        usage = Usage(prompt_tokens=prompt_tokens, completion_tokens=count_tokens(text),
                      total_tokens=prompt_tokens + count_tokens(text))
        if req.stream:
            return self._complete_chunks(text, finish, info, usage if include_usage else None, cid, created, req.model)
        return ChatCompletion(id=cid, created=created, model=req.model, usage=usage, onlook=info,
                              choices=[Choice(message=AssistantMessage(content=text), finish_reason=finish)])

    async def _answer(self, stream_id: str, engine: StreamClient, question: str, history: list[dict[str, Any]],
                      at: float | None, cid: str) -> dict[str, Any]:
        answerer = engine.answerer
        if history and answerer is not None and answerer.takes_history:
            # A remote stream's view is None: its answerer forwards to the worker, which has the memory.
            view: Any = engine.view
            ans = await to_thread.run_sync(lambda: answerer.answer(question, view, at=at, history=history))
            d = ans.to_dict()
            d["stream"] = stream_id
            for ev in d.get("evidence") or []:
                ev["keyframe_url"] = keyframe_url(stream_id, ev.get("keyframe"))
            return d
        # The extractive answerer reads one question: a follow-up is asked with the question before it.
        query = followup_query(question, history)[0] if history else question
        d = await self.service.ask(stream_id, query, at=at, conversation_id=cid)
        d["question"] = question
        return d

    def _chunk(self, cid: str, created: int, model: str, *, role: bool = False, content: str | None = None,
               finish: str | None = None, info: OnlookInfo | None = None) -> str:
        delta = DeltaMessage(role="assistant" if role else None, content=content)
        return _sse(ChatCompletionChunk(id=cid, created=created, model=model, onlook=info,
                                        choices=[ChunkChoice(delta=delta, finish_reason=finish)]))

    async def _complete_chunks(self, text: str, finish: str, info: OnlookInfo, usage: Usage | None, cid: str,
                               created: int, model: str) -> AsyncIterator[str]:
        yield self._chunk(cid, created, model, role=True, content="")
        for piece in chunk_text(text, self.chunk_words):
            yield self._chunk(cid, created, model, content=piece)
        yield self._chunk(cid, created, model, finish=finish, info=info)
        if usage is not None:
            yield _sse(ChatCompletionChunk(id=cid, created=created, model=model, choices=[], usage=usage))
        yield _DONE

    async def _streamed(self, pieces: _PieceStream, cid: str, created: int, model: str, prompt_tokens: int,
                        limit: int | None, include_usage: bool) -> AsyncIterator[str]:
        sent = ""
        finish = "stop"
        try:
            yield self._chunk(cid, created, model, role=True, content="")
            async for piece in pieces:
                text, cut = truncate_tokens(sent + piece, limit)
                if text[len(sent):]:
                    yield self._chunk(cid, created, model, content=text[len(sent):])
                sent = text
                if cut:
                    finish = "length"
                    break
        except Exception as e:  # noqa: BLE001 - the status line is sent: say what went wrong in the stream, end it
            log.warning("streamed chat answer failed: %s", one_line(e))
            yield _sse(error_body(e)[1])
            yield _DONE
            return
        finally:
            pieces.cancel()
        yield self._chunk(cid, created, model, finish=finish)
        if include_usage:
            n = count_tokens(sent)
            yield _sse(ChatCompletionChunk(id=cid, created=created, model=model, choices=[],
                                           usage=Usage(prompt_tokens=prompt_tokens, completion_tokens=n,
                                                       total_tokens=prompt_tokens + n)))
        yield _DONE


class _PieceStream:
    """Text pieces of a blocking generator, produced in a worker thread and read on the event loop."""

    def __init__(self, make: Any) -> None:
        self._make = make
        self._queue: asyncio.Queue[tuple[str, Any]] = asyncio.Queue()
        self._cancelled = threading.Event()
        self._first: tuple[str, Any] | None = None
        self._task: asyncio.Future[None] | None = None

    def _produce(self, loop: asyncio.AbstractEventLoop) -> None:
        def put(item: tuple[str, Any]) -> None:
            with contextlib.suppress(RuntimeError):  # the loop is closed: the server is gone
                loop.call_soon_threadsafe(self._queue.put_nowait, item)

        try:
            for piece in self._make():
                if self._cancelled.is_set():
                    return
                if piece:
                    put(("piece", str(piece)))
        except BaseException as e:  # noqa: BLE001 - handed to the reader, which re-raises it
            put(("error", e))
        else:
            put(("end", None))

    async def start(self) -> None:
        """Start producing; wait for the first piece and raise if producing failed before it."""
        loop = asyncio.get_running_loop()
        self._task = asyncio.ensure_future(to_thread.run_sync(self._produce, loop))
        self._first = await self._queue.get()
        if self._first[0] == "error":
            raise self._first[1]

    def cancel(self) -> None:
        self._cancelled.set()

    async def __aiter__(self) -> AsyncIterator[str]:
        item = self._first
        self._first = None
        while True:
            if item is None:
                item = await self._queue.get()
            kind, value = item
            if kind == "end":
                return
            if kind == "error":
                raise value
            yield value
            item = None
