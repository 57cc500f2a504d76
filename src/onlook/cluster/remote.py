"""A stream that runs behind an :class:`~onlook.cluster.Executor`, seen the way the server sees an engine.

``onlook serve --cluster`` keeps its streams in Ray actors; its routes and
stream manager still talk to "an engine": :class:`RemoteStream` offers the
part of :class:`~onlook.engine.StreamEngine` they use (ask, search, alerts,
status, latest frame, message callbacks, stop/close) and forwards each call
to the executor. Messages are pulled from the worker's ring on a thread of
their own (every ``poll_s``), so a slow or restarting worker never blocks
the server's event loop.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from onlook.answer.base import BaseAnswerer, History
from onlook.client import Message
from onlook.cluster.executor import Executor
from onlook.types import Answer, Frame, IngestState, MessageType, ObservationKind, SearchHit

if TYPE_CHECKING:
    from onlook.query.search import MemoryView

__all__ = ["RemoteStream"]

log = logging.getLogger(__name__)

_FINAL = (IngestState.ENDED, IngestState.FAILED)


class _RemoteAnswerer(BaseAnswerer):
    """The stream's own (VLM) answerer, which lives with the worker: the view is the worker's."""

    takes_history: ClassVar[bool] = True  # forwarded to the worker's VLM

    def __init__(self, stream: RemoteStream) -> None:
        self.stream = stream

    def answer(self, question: str, view: Any = None, at: float | None = None, *,
               history: History = ()) -> Answer:
        return self.stream.executor.answer(self.stream.stream_id, question, at, list(history) or None)


class RemoteStream:
    """One stream of an executor, with the engine interface the server uses.

    Args:
        executor: Where the stream runs (it must already be open there).
        stream_id: The stream's id.
        vlm: The stream's worker answers with a VLM (follow-ups get the conversation).
        alerts: Standing queries registered when it was opened.
        poll_s: How often messages are pulled from the worker.
        ingesting: The worker was opened with ingest started (False: for questions only).

    Attributes:
        done: Set once the worker reports that ingest ended or failed.
        error: The worker's one-line error after a failure, else None.
    """

    view: MemoryView | None = None  # memory lives with the worker; answers are asked of it

    def __init__(self, executor: Executor, stream_id: str, *, vlm: bool = False,
                 alerts: list[str] | None = None, poll_s: float = 0.1, ingesting: bool = True) -> None:
        self.executor = executor
        self.stream_id = stream_id
        self.poll_s = poll_s
        self.answerer: BaseAnswerer | None = _RemoteAnswerer(self) if vlm else None
        self.done = threading.Event()
        if not ingesting:  # opened for questions only: nothing will run until it is started again
            self.done.set()
        self.error: Exception | str | None = None
        self._alerts = list(alerts or [])
        self._callbacks: list[Callable[[Message], None]] = []
        self._latest: tuple[Frame, list[Any]] | None = None
        self._latest_lock = threading.Lock()
        self._latest_busy = False
        self._latest_at = float("-inf")
        self.latest_every_s = 0.1
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.epoch: str | None = None
        self.cursor = 0
        self.missed = 0
        self.worker_restarts = 0

    # --- messages --------------------------------------------------------------------------------

    def subscribe(self, callback: Callable[[Message], None]) -> Callable[[], None]:
        """Call ``callback`` with every message the worker emits (on the polling thread)."""
        self._callbacks.append(callback)

        def unsubscribe() -> None:
            with contextlib.suppress(ValueError):
                self._callbacks.remove(callback)

        return unsubscribe

    def start(self) -> None:
        """Start pulling messages (the worker started ingest when it was opened)."""
        if self._thread is None:
            self._thread = threading.Thread(target=self._pump, name=f"onlook-remote-{self.stream_id}", daemon=True)
            self._thread.start()

    def _pump(self) -> None:
        failures = 0
        while not self._stop.is_set():
            try:
                batch = self.executor.poll(self.stream_id, self.epoch, self.cursor)
                failures = 0
            except KeyError:
                return  # closed
            except Exception as e:  # the worker is restarting or its node is gone: keep trying
                failures += 1
                if failures in (1, 10) or failures % 100 == 0:
                    log.warning("stream %s: cannot read messages (%s); retrying", self.stream_id, e)
                self._stop.wait(min(5.0, self.poll_s * 2 ** min(failures, 6)))
                continue
            if self.epoch is not None and batch.epoch != self.epoch:
                self.worker_restarts += 1
                log.warning("stream %s: its worker restarted; reading its new messages", self.stream_id)
            self.epoch, self.cursor = batch.epoch, batch.cursor
            self.missed += batch.missed
            for msg in batch.messages:
                self._track(msg)
                for cb in list(self._callbacks):
                    try:
                        cb(msg)
                    except Exception:  # a subscriber's bug must not stop the feed
                        log.exception("stream %s: message callback failed", self.stream_id)
            if not batch.messages:
                self._stop.wait(self.poll_s)

    def _track(self, msg: Message) -> None:
        if msg.get("type") == MessageType.STATUS:
            state = msg.get("state")
            if state in _FINAL:
                self.done.set()
            elif state == IngestState.STARTED:
                self.done.clear()
                self.error = None
        elif msg.get("type") == MessageType.ERROR:
            self.error = str(msg.get("message") or "")

    # --- the engine calls the server makes --------------------------------------------------------

    def ask(self, question: str, at: float | None = None) -> Answer:
        return self.executor.ask(self.stream_id, question, at)

    def search(self, text: str, *, until: float | None = None, k: int = 10) -> list[SearchHit]:
        return self.executor.search(self.stream_id, text, until, k)

    def add_alert(self, query: str) -> None:
        self._alerts = list(self.executor.add_alert(self.stream_id, query))

    def remove_alert(self, query: str) -> bool:
        removed = self.executor.remove_alert(self.stream_id, query)
        if removed:
            self._alerts = [q for q in self._alerts if q != query]
        return removed

    @property
    def alert_queries(self) -> list[str]:
        return list(self._alerts)

    def status(self) -> Message:
        """The worker's status (engine counters plus ``state``, ``restarts``, ``worker``)."""
        st = self.executor.status(self.stream_id)
        self._alerts = list(st.get("alert_queries") or self._alerts)
        if st.get("state") in _FINAL:
            self.done.set()
        return st

    @property
    def running(self) -> bool:
        return self._thread is not None and not self.done.is_set()

    def latest_frame(self) -> tuple[Frame, list[Any]] | None:
        """The last analysed frame fetched so far; never blocks (live views call it on the event loop).

        A fetch of a newer one starts in the background at most every ``latest_every_s``
        (one at a time), so a slow or restarting worker only makes the picture stale.
        """
        now = time.monotonic()
        with self._latest_lock:
            start = not self._latest_busy and now - self._latest_at >= self.latest_every_s
            if start:
                self._latest_busy = True
                self._latest_at = now
        if start:
            threading.Thread(target=self._fetch_latest, name=f"onlook-latest-{self.stream_id}", daemon=True).start()
        return self._latest

    def _fetch_latest(self) -> None:
        seq = self._latest[0].seq if self._latest is not None else -1
        try:
            newer = self.executor.latest(self.stream_id, seq)
            if newer is not None:
                self._latest = (newer[0], list(newer[1]))  # one reference swap
        except Exception as e:  # noqa: BLE001 - a restarting worker: keep showing what we have
            log.debug("stream %s: no latest frame (%s)", self.stream_id, e)
        finally:
            with self._latest_lock:
                self._latest_busy = False

    def keyframe(self, name: str) -> Path | bytes | None:
        """The keyframe's JPEG bytes, read by the worker from its store (None when not stored)."""
        return self.executor.keyframe(self.stream_id, name.removeprefix("keyframes/"))

    def record(self, limit: int = 500,
               sighting_kinds: Sequence[str] = (ObservationKind.ENTER, ObservationKind.EXIT)) -> dict[str, list[Any]]:
        return self.executor.record(self.stream_id, limit, tuple(sighting_kinds))

    def stop(self, timeout: float | None = 10.0) -> None:
        """Stop ingest (the worker waits for its engine to stop); the worker stays open for questions."""
        self.executor.stop(self.stream_id)
        self.done.set()

    def close(self) -> None:
        """Stop pulling messages and release the worker (its store stays on disk)."""
        self._stop.set()
        with contextlib.suppress(KeyError):
            self.executor.close(self.stream_id)
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout=5)
