"""Where a stream's engine runs: the seam between the server and the engines.

An :class:`Executor` opens, queries and stops streams by id. The
:class:`InProcessExecutor` holds each :class:`~onlook.engine.StreamEngine` in
this process (what ``onlook serve`` does today); ``RayExecutor``
(:mod:`onlook.cluster.ray_executor`, needs ``onlook[cluster]``) holds each in
its own Ray actor. Both hand the same :class:`StreamWorker` the work, so a
stream behaves the same wherever it runs.

Messages (events, alerts, status, errors) are kept per stream in a bounded
ring buffer and read with :meth:`Executor.poll` from a cursor: a server
forwards them without the worker ever waiting on a slow reader.
"""

from __future__ import annotations

import os
import socket
import threading
import time
import uuid
from collections import deque
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

from onlook.answer.factory import build_answerer
from onlook.config import Settings
from onlook.engine import Message, StreamEngine
from onlook.errors import ConfigError
from onlook.sources.netpolicy import NetPolicy
from onlook.types import Answer, Frame, Gap, ObservationKind, SearchHit, StreamState

__all__ = ["Batch", "Executor", "InProcessExecutor", "MessageRing", "StreamSpec", "StreamWorker"]


@dataclass(frozen=True)
class StreamSpec:
    """Everything needed to (re)build a stream's engine anywhere: plain, picklable values.

    Attributes:
        stream_id: The stream's name.
        source: A URI or a local path (as :func:`onlook.sources.open_source` takes it).
        settings: The stream's settings; ``settings.memory.store`` must be set for a worker
            that may restart (the store is what survives).
        alerts: Standing alert queries (those already in the store are kept too).
        start_s: Skip stream time before this.
        until_s: Stop after this stream time.
        resume: A file whose store already holds frames carries on after the last
            stored stream time instead of starting again (a server reopening its streams).
        start: Start ingest at once; False opens the stream for queries only.
        node: Ray node id to place the stream on when it is alive (the stream moves
            to another node if that one is lost); None lets Ray choose.
        net_policy: What a network source may reach (the server's
            :class:`~onlook.sources.netpolicy.NetPolicy`, checked where the worker connects).
    """

    stream_id: str
    source: str
    settings: Settings
    alerts: tuple[str, ...] = ()
    start_s: float = 0.0
    until_s: float | None = None
    resume: bool = False
    start: bool = True
    node: str | None = None
    net_policy: NetPolicy | None = None


@dataclass(frozen=True)
class Batch:
    """Messages read from a stream since a cursor.

    Attributes:
        epoch: Identifies the worker's incarnation; it changes when the worker restarts,
            and a cursor from another epoch reads from the oldest message kept.
        cursor: Pass it to the next :meth:`Executor.poll`.
        messages: The messages, oldest first, each with ``"stream"``.
        missed: Messages that fell out of the ring before they were read.
    """

    epoch: str
    cursor: int
    messages: list[Message] = field(default_factory=list)
    missed: int = 0


class MessageRing:
    """A bounded, thread-safe buffer of numbered messages (the oldest dropped when full)."""

    def __init__(self, maxlen: int = 1024) -> None:
        self.epoch = uuid.uuid4().hex
        self._buf: deque[tuple[int, Message]] = deque(maxlen=maxlen)
        self._next = 1
        self._lock = threading.Lock()

    def put(self, msg: Message) -> None:
        with self._lock:
            self._buf.append((self._next, msg))
            self._next += 1

    def read(self, epoch: str | None, cursor: int, limit: int = 1000) -> Batch:
        """Messages after ``cursor`` (all kept ones when ``epoch`` is not this ring's)."""
        with self._lock:
            if epoch != self.epoch:
                cursor = 0
            oldest = self._buf[0][0] if self._buf else self._next
            missed = max(0, oldest - cursor - 1) if cursor else 0
            out = [(n, m) for n, m in self._buf if n > cursor][:limit]
            last = out[-1][0] if out else max(cursor, oldest - 1)
            return Batch(self.epoch, last, [m for _, m in out], missed)


def _is_file(source: str) -> bool:
    return "://" not in source or source.startswith("file://")


class StreamWorker:
    """One stream's engine and message ring; lives in this process or inside a Ray actor.

    Building it opens the store and starts ingest. When ``restarted`` is true (the
    worker is being rebuilt after it died), a file carries on after the last stored
    stream time and a ``restart`` gap is recorded; a live source reconnects and the
    engine records the gap itself (its clock restarts below what is stored).

    Raises:
        ConfigError: the spec has no store path but the worker may restart.
        StoreLocked, UnsupportedQuery: as :class:`~onlook.engine.StreamEngine`.
    """

    def __init__(self, spec: StreamSpec, *, ring_size: int = 1024, restarted: bool = False) -> None:
        self.spec = spec
        self.ring = MessageRing(ring_size)
        self.restarts = 0
        self.stop_requested = False
        self._answerer = build_answerer(spec.settings)
        self._encoder = None
        if spec.settings.perception.encoder_deployment:  # the cluster's shared encoder, called by handle
            from onlook.cluster.models import ServeEncoder

            self._encoder = ServeEncoder(spec.settings.perception.encoder_deployment)
        start_s = spec.start_s
        engine = self._engine(start_s)
        store = engine.store
        if not store.readonly:
            self.restarts = int(store.get_meta("restarts", 0) or 0) + (1 if restarted else 0)
            store.set_meta("restarts", self.restarts)
        last = store.last_time()
        if (restarted or spec.resume) and spec.start and last is not None and _is_file(spec.source):
            # A file is not replayed: carry on just after the last stored frame and, after a
            # crash, say (in the store) that the worker was down in between.
            now = time.time()
            newest = store.frames(limit=1, newest_first=True)
            wall_before = float(newest[0]["wall"]) if newest else now
            engine.close()
            engine = self._engine(max(start_s, last + 1.0 / spec.settings.sources.fps))
            if restarted:
                engine.store.add_gap(Gap(start=last, end=last, wall_start=wall_before, wall_end=now, reason="restart"))
        self.engine = engine
        engine.subscribe(self._on_message)
        if spec.start:
            engine.start()

    def _engine(self, start_s: float) -> StreamEngine:
        s = self.spec
        perceiver = None
        if self._encoder is not None:
            from onlook.perception.pipeline import build_perceiver

            perceiver = build_perceiver(s.settings, encoder=self._encoder)
        return StreamEngine(s.source, settings=s.settings, stream_id=s.stream_id, alerts=list(s.alerts),
                            start_s=start_s, until_s=s.until_s, answerer=self._answerer, perceiver=perceiver,
                            net_policy=s.net_policy)

    def _on_message(self, msg: Message) -> None:
        self.ring.put({**msg, "stream": self.spec.stream_id})

    # --- the calls an executor forwards ----------------------------------------------------------

    def status(self) -> Message:
        e = self.engine
        # The served stream's state: a worker reports it as the server would.
        if e.running:
            state = StreamState.RUNNING
        elif self.stop_requested:
            state = StreamState.STOPPED
        else:
            state = StreamState.FAILED if e.error is not None else StreamState.ENDED
        return {**e.status(), "state": state, "error": str(e.error) if e.error else None,
                "restarts": self.restarts, "alert_queries": e.alert_queries, "worker": self.info()}

    def info(self) -> dict[str, object]:
        """Where this worker runs: process id and host (and, on Ray, the node id)."""
        return {"pid": os.getpid(), "host": socket.gethostname(), "node_id": "local"}

    def ask(self, question: str, at: float | None = None) -> Answer:
        return self.engine.ask(question, at=at)

    def answer(self, question: str, at: float | None = None, history: list[dict] | None = None) -> Answer:
        """Answer with the stream's answerer, passing earlier turns to one that takes them."""
        answerer = self.engine.answerer
        if history and answerer.takes_history:
            return answerer.answer(question, self.engine.view, at=at, history=history)
        return self.engine.ask(question, at=at)

    def keyframe(self, name: str) -> bytes | None:
        """A stored keyframe's JPEG bytes by file name (``0000012345.jpg``), or None."""
        path = self.engine.keyframe(name)
        try:
            return path.read_bytes() if path is not None else None
        except OSError:  # evicted meanwhile
            return None

    def record(self, limit: int = 500,
               sighting_kinds: tuple[str, ...] = (ObservationKind.ENTER, ObservationKind.EXIT)) -> dict[str, list]:
        """The latest alerts, events, sightings and gaps of the stream's store (:meth:`Store.record`)."""
        return self.engine.record(limit, sighting_kinds)

    def latest(self, after_seq: int = -1) -> tuple[Frame, list] | None:
        """The last analysed frame and its observations, if newer than ``after_seq``."""
        latest = self.engine.latest_frame()
        if latest is None or latest[0].seq <= after_seq:
            return None
        return latest

    def search(self, text: str, until: float | None = None, k: int = 10) -> list[SearchHit]:
        return self.engine.search(text, until=until, k=k)

    def add_alert(self, query: str) -> list[str]:
        self.engine.add_alert(query)
        return self.engine.alert_queries

    def remove_alert(self, query: str) -> bool:
        return self.engine.remove_alert(query)

    def gaps(self) -> list[Gap]:
        return self.engine.store.gaps()

    def poll(self, epoch: str | None = None, cursor: int = 0, limit: int = 1000) -> Batch:
        return self.ring.read(epoch, cursor, limit)

    def stop(self) -> None:
        self.stop_requested = True
        self.engine.stop()

    def close(self) -> None:
        self.stop_requested = True
        self.engine.close()


def local_nodes() -> list[dict[str, object]]:
    """This machine as the one node streams run on (what ``GET /cluster`` shows without Ray)."""
    return [{"node_id": "local", "host": socket.gethostname(), "alive": True,
             "resources": {"CPU": float(os.cpu_count() or 1)}}]


@runtime_checkable
class Executor(Protocol):
    """Where streams run. Every method names the stream by id.

    Raises (every method but :meth:`open` and :meth:`shutdown`):
        KeyError: no stream with that id was opened here.
    """

    def open(self, spec: StreamSpec) -> None:
        """Build the stream's worker (opening its store) and start ingest."""

    def status(self, stream_id: str) -> Message:
        """The engine's status plus ``state``, ``error``, ``restarts`` and ``alert_queries``."""

    def ask(self, stream_id: str, question: str, at: float | None = None) -> Answer: ...

    def answer(self, stream_id: str, question: str, at: float | None = None,
               history: list[dict] | None = None) -> Answer:
        """Answer with the stream's own answerer (a VLM gets ``history``)."""

    def search(self, stream_id: str, text: str, until: float | None = None, k: int = 10) -> list[SearchHit]: ...

    def keyframe(self, stream_id: str, name: str) -> bytes | None:
        """A stored keyframe's JPEG bytes, or None."""

    def record(self, stream_id: str, limit: int = 500,
               sighting_kinds: tuple[str, ...] = (ObservationKind.ENTER, ObservationKind.EXIT)) -> dict[str, list]:
        """The stream's latest alerts, events, sightings and gaps (for timelines; see ``Store.record``)."""

    def latest(self, stream_id: str, after_seq: int = -1) -> tuple[Frame, list] | None:
        """The last analysed frame and its observations, if newer than ``after_seq``."""

    def nodes(self) -> list[dict[str, object]]:
        """The machines streams can run on: ``node_id``, ``host``, ``alive``, ``resources``."""

    def add_alert(self, stream_id: str, query: str) -> list[str]:
        """Register a standing query; returns all queries now registered."""

    def remove_alert(self, stream_id: str, query: str) -> bool: ...

    def gaps(self, stream_id: str) -> list[Gap]: ...

    def poll(self, stream_id: str, epoch: str | None = None, cursor: int = 0, limit: int = 1000) -> Batch:
        """Messages since ``cursor`` (see :class:`Batch`)."""

    def stop(self, stream_id: str) -> None:
        """Stop ingest; the stream stays queryable."""

    def close(self, stream_id: str) -> None:
        """Stop ingest and release the stream (its store is kept on disk)."""

    def shutdown(self) -> None:
        """Close every stream."""


class InProcessExecutor:
    """Each stream's engine on a thread of this process (the default).

    Example:
        >>> ex = InProcessExecutor()                                              # doctest: +SKIP
        >>> ex.open(StreamSpec("cam", "clip.mp4", Settings(memory={"store": "/tmp/cam"})))   # doctest: +SKIP
        >>> ex.ask("cam", "how many people entered so far?").text                 # doctest: +SKIP
    """

    kind = "local"

    def __init__(self, *, ring_size: int = 1024) -> None:
        self.ring_size = ring_size
        self.workers: dict[str, StreamWorker] = {}

    def _w(self, stream_id: str) -> StreamWorker:
        return self.workers[stream_id]

    def open(self, spec: StreamSpec) -> None:
        if spec.stream_id in self.workers:
            raise ConfigError(f"stream '{spec.stream_id}' is already open")
        self.workers[spec.stream_id] = StreamWorker(spec, ring_size=self.ring_size)

    def status(self, stream_id: str) -> Message:
        return self._w(stream_id).status()

    def ask(self, stream_id: str, question: str, at: float | None = None) -> Answer:
        return self._w(stream_id).ask(question, at)

    def answer(self, stream_id: str, question: str, at: float | None = None,
               history: list[dict] | None = None) -> Answer:
        return self._w(stream_id).answer(question, at, history)

    def search(self, stream_id: str, text: str, until: float | None = None, k: int = 10) -> list[SearchHit]:
        return self._w(stream_id).search(text, until, k)

    def keyframe(self, stream_id: str, name: str) -> bytes | None:
        return self._w(stream_id).keyframe(name)

    def record(self, stream_id: str, limit: int = 500,
               sighting_kinds: tuple[str, ...] = (ObservationKind.ENTER, ObservationKind.EXIT)) -> dict[str, list]:
        return self._w(stream_id).record(limit, sighting_kinds)

    def latest(self, stream_id: str, after_seq: int = -1) -> tuple[Frame, list] | None:
        return self._w(stream_id).latest(after_seq)

    def nodes(self) -> list[dict[str, object]]:
        return local_nodes()

    def add_alert(self, stream_id: str, query: str) -> list[str]:
        return self._w(stream_id).add_alert(query)

    def remove_alert(self, stream_id: str, query: str) -> bool:
        return self._w(stream_id).remove_alert(query)

    def gaps(self, stream_id: str) -> list[Gap]:
        return self._w(stream_id).gaps()

    def poll(self, stream_id: str, epoch: str | None = None, cursor: int = 0, limit: int = 1000) -> Batch:
        return self._w(stream_id).poll(epoch, cursor, limit)

    def stop(self, stream_id: str) -> None:
        self._w(stream_id).stop()

    def close(self, stream_id: str) -> None:
        self.workers.pop(stream_id).close()

    def shutdown(self) -> None:
        for sid in list(self.workers):
            self.close(sid)

