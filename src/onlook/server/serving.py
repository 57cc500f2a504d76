"""Serving layer: what each endpoint does, between thin routes and the stream manager.

Routes parse HTTP and call :class:`StreamService`; the service runs engine
calls in worker threads (the event loop never blocks on perception, SQLite
or the disk), shapes the engine's plain results into the wire format of
:mod:`onlook.server.protocol`, and builds the streamed bodies (SSE, MJPEG).
Other front ends (an OpenAI-compatible chat endpoint, a web page) reuse it:
``await service.ask(stream_id, question)`` is the one way to answer.
"""

from __future__ import annotations

import asyncio
import builtins
import logging
import re
import time
import uuid
from collections import OrderedDict
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from anyio import to_thread

from onlook.errors import OnlookError, QueryError
from onlook.server.errors import KeyframeNotFound
from onlook.server.live import mjpeg_part, placeholder_jpeg, render_jpeg
from onlook.server.manager import StreamHandle, StreamManager, Subscription, keyframe_url
from onlook.server.protocol import dumps

__all__ = ["StreamService", "sse", "chunk_text"]

log = logging.getLogger(__name__)



def sse(data: dict[str, Any], event_id: int | None = None) -> str:
    """One Server-Sent Event: an optional ``id:`` line and one ``data:`` line of JSON.

    Every event is a plain ``message`` whose JSON says its ``"type"``, so a
    browser's ``EventSource.onmessage`` receives all of them.
    """
    head = f"id: {event_id}\n" if event_id is not None else ""
    return f"{head}data: {dumps(data)}\n\n"


def chunk_text(text: str, words: int = 3) -> list[str]:
    """Split ``text`` into pieces of a few words that join back to it exactly.

    Example:
        >>> chunk_text("one two three four", words=2)
        ['one two ', 'three four']
    """
    tokens = re.findall(r"\s*\S+\s*", text) or ([text] if text else [])
    return ["".join(tokens[i:i + words]) for i in range(0, len(tokens), words)]


class StreamService:
    """Ask, search, keyframes, feeds and live view over a :class:`StreamManager`.

    Args:
        manager: The streams.
        history_turns: Question/answer turns kept per conversation.
        max_conversations: Conversations kept (least recently used dropped).
        keepalive_s: Idle time after which a feed sends an SSE comment.
    """

    def __init__(self, manager: StreamManager, *, history_turns: int = 20, max_conversations: int = 1000,
                 keepalive_s: float = 10.0) -> None:
        self.manager = manager
        self.history_turns = history_turns
        self.max_conversations = max_conversations
        self.keepalive_s = keepalive_s
        self.conversations: OrderedDict[str, list[dict[str, Any]]] = OrderedDict()
        self._jpeg_cache: dict[tuple[str, bool], tuple[object, bytes]] = {}

    # --- streams ---------------------------------------------------------------------------------

    async def status(self, stream_id: str) -> dict[str, Any]:
        h = self.manager.get(stream_id)
        return await to_thread.run_sync(self.manager.status, h)

    async def list(self) -> list[dict[str, Any]]:
        handles = list(self.manager.streams.values())
        return await to_thread.run_sync(lambda: [self.manager.status(h) for h in handles])

    # --- ask -------------------------------------------------------------------------------------

    def _remember(self, conversation_id: str, question: str, answer: dict[str, Any]) -> None:
        turns = self.conversations.pop(conversation_id, [])
        turns.append({"question": question, "answer": answer["text"], "t": answer["t"]})
        del turns[:-self.history_turns]
        self.conversations[conversation_id] = turns
        while len(self.conversations) > self.max_conversations:
            self.conversations.popitem(last=False)

    # builtins.list: inside this class `list` names the method above.
    def history(self, conversation_id: str) -> builtins.list[dict[str, Any]]:
        """Earlier turns of a conversation (for answerers that use context)."""
        return list(self.conversations.get(conversation_id, []))

    async def ask(self, stream_id: str, question: str, *, at: float | None = None,
                  conversation_id: str | None = None) -> dict[str, Any]:
        """Answer ``question`` about a stream; returns the :class:`~onlook.server.protocol.AnswerResponse` dict.

        Raises:
            StreamNotFound: no such stream.
            StreamUnavailable: the stream's engine is not open.
        """
        engine = self.manager.get(stream_id).require_engine()
        answer = await to_thread.run_sync(lambda: engine.ask(question, at=at))
        d = answer.to_dict()
        d["stream"] = stream_id
        for ev in d.get("evidence") or []:
            ev["keyframe_url"] = keyframe_url(stream_id, ev.get("keyframe"))
        d["conversation_id"] = conversation_id or uuid.uuid4().hex
        self._remember(d["conversation_id"], question, d)
        return d

    async def ask_events(self, answer: dict[str, Any], *, delay_s: float = 0.0) -> AsyncIterator[str]:
        """SSE body of a streamed answer: ``{"type": "chunk", "text"}`` pieces, then the whole answer.

        The extractive answerer answers at once; the text is still sent in
        chunks so that clients are written against a streaming interface.
        """
        yield "retry: 3000\n\n"
        for i, piece in enumerate(chunk_text(answer["text"])):
            yield sse({"type": "chunk", "stream": answer["stream"], "text": piece}, i)
            if delay_s:
                await asyncio.sleep(delay_s)
        yield sse(answer)

    # --- search ----------------------------------------------------------------------------------

    @staticmethod
    def _hit(stream_id: str, hit: Any) -> dict[str, Any]:
        d = hit.to_dict()
        d["stream"] = stream_id
        d["keyframe_url"] = keyframe_url(stream_id, d.get("keyframe"))
        return d

    async def search(self, stream_id: str, query: str, k: int = 10) -> dict[str, Any]:
        engine = self.manager.get(stream_id).require_engine()
        hits = await to_thread.run_sync(lambda: engine.search(query, k=k))
        return {"query": query, "hits": [self._hit(stream_id, h) for h in hits]}

    async def search_all(self, query: str, k: int = 10) -> dict[str, Any]:
        """Search every open stream; merge the hits by score (each names its stream)."""
        engines = [(h.id, h.engine) for h in self.manager.streams.values() if h.engine is not None]

        def run() -> list[dict[str, Any]]:
            out: list[dict[str, Any]] = []
            for sid, eng in engines:
                try:
                    out.extend(self._hit(sid, h) for h in eng.search(query, k=k))
                except QueryError:
                    raise
                except OnlookError as e:  # one broken store must not hide the others' hits
                    log.warning("search in stream %s failed: %s", sid, e)
            return out

        hits = await to_thread.run_sync(run)
        hits.sort(key=lambda d: (-d["score"], d["stream"], d["start"]))
        return {"query": query, "hits": hits[:k]}

    # --- keyframes -------------------------------------------------------------------------------

    async def keyframe(self, stream_id: str, name: str) -> Path | bytes:
        """A keyframe: its file when the stream's store is on this machine, else its bytes from the worker.

        Raises:
            StreamNotFound: no such stream.
            KeyframeNotFound: not a keyframe name, or not (or no longer) stored, or the stream is not open.
        """
        h = self.manager.get(stream_id)
        short = name.removeprefix("keyframes/")
        found = await to_thread.run_sync(h.engine.keyframe, name) if h.engine is not None else None
        if found is None:
            raise KeyframeNotFound(f"no keyframe {short!r} in stream '{stream_id}' (evicted, or never stored)")
        return found

    # --- cluster ---------------------------------------------------------------------------------

    async def cluster(self) -> dict[str, Any]:
        """Where streams run: the executor's nodes, and each stream's node, rate, lag, drops, size, restarts."""
        executor = self.manager.executor
        handles = list(self.manager.streams.values())
        statuses = await asyncio.gather(*(self._status_or_none(h.id) for h in handles))

        from onlook.cluster.executor import local_nodes

        nodes = local_nodes if executor is None else executor.nodes
        node_list = [dict(n, streams=[]) for n in await to_thread.run_sync(nodes)]
        by_id = {n["node_id"]: n for n in node_list}
        streams = []
        for h, st in zip(handles, statuses, strict=True):
            st = st or {"state": self.manager.state_of(h)}
            worker = st.get("worker") or {}
            node_id = worker.get("node_id") or ("local" if executor is None else None)
            if node_id in by_id and st.get("state") in ("starting", "running"):
                by_id[node_id]["streams"].append(h.id)
            streams.append({"id": h.id, "node_id": node_id, "host": worker.get("host") or by_id.get(node_id, {}).get(
                "host"), "state": st.get("state"), "fps": st.get("fps"), "lag_s": st.get("lag_s"),
                "dropped": st.get("dropped"), "store_bytes": st.get("store_bytes"),
                "restarts": st.get("restarts", 0), "t": st.get("t")})
        kind = "local" if executor is None else getattr(executor, "kind", "local")
        return {"executor": kind, "nodes": node_list, "streams": streams}

    async def _status_or_none(self, stream_id: str) -> dict[str, Any] | None:
        try:
            return await self.status(stream_id)
        except OnlookError:
            return None

    # --- feeds -----------------------------------------------------------------------------------

    async def feed_events(self, sub: Subscription, stream_id: str | None) -> AsyncIterator[str]:
        """SSE body of a message feed. ``sub`` is taken before the response starts, so nothing is missed."""
        try:
            yield "retry: 3000\n\n"
            if stream_id is not None and (sub.types is None or "status" in sub.types):
                st = await self.status(stream_id)
                yield sse({"type": "status", "stream": stream_id, **st})
            n = 0
            while True:
                try:
                    msg = await sub.get(self.keepalive_s)
                except TimeoutError:
                    yield ": keep-alive\n\n"
                    continue
                if msg is None:
                    break
                n += 1
                yield sse(msg, n)
        finally:
            self.manager.unsubscribe(sub)

    # --- live view -------------------------------------------------------------------------------

    async def _jpeg(self, h: StreamHandle, boxes: bool) -> tuple[bytes, float | None]:
        latest = h.engine.latest_frame() if h.engine is not None else None
        if latest is None:
            state = self.manager.state_of(h)
            text = "waiting for the first frame" if state in ("starting", "running") else f"stream {state}"
            return placeholder_jpeg(text), None
        key = (h.id, boxes)
        cached = self._jpeg_cache.get(key)
        if cached is not None and cached[0] is latest:  # shared by every viewer of this stream
            return cached[1], latest[0].pts
        frame, obs = latest
        jpeg = await to_thread.run_sync(lambda: render_jpeg(frame, obs, boxes=boxes))
        self._jpeg_cache[key] = (latest, jpeg)
        return jpeg, frame.pts

    async def mjpeg(self, stream_id: str, *, boxes: bool = True, fps: float = 5.0) -> AsyncIterator[bytes]:
        """``multipart/x-mixed-replace`` body: a JPEG whenever a new frame was analysed, at most ``fps`` a second.

        The last picture is re-sent every 2 s when nothing changes, so a
        viewer that went away is noticed; the body ends when the stream is
        deleted or the server stops (and when the client disconnects).
        """
        h = self.manager.get(stream_id)
        period = 1.0 / fps
        last: object = None
        last_sent = 0.0
        try:
            while not self.manager.feeds_closed and self.manager.streams.get(stream_id) is h:
                now = time.monotonic()
                latest = h.engine.latest_frame() if h.engine is not None else None
                if latest is not last or now - last_sent >= 2.0:
                    jpeg, t = await self._jpeg(h, boxes)
                    last, last_sent = latest, now
                    yield mjpeg_part(jpeg, t)
                await asyncio.sleep(period)
        finally:
            if self.manager.streams.get(stream_id) is not h:  # deleted: drop its cached picture
                self._jpeg_cache.pop((stream_id, boxes), None)
