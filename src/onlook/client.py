"""The seam between a stream and whatever serves it: :class:`StreamClient`.

The server (:mod:`onlook.server`) holds one stream client per stream and talks
to it only through this interface. Two implementations ship:

* :class:`~onlook.engine.StreamEngine`: the stream runs in this process and
  its store is on this machine;
* :class:`~onlook.cluster.remote.RemoteStream`: the stream runs behind an
  executor (a Ray actor, possibly on another node) and every call is
  forwarded to it.

:class:`FakeStreamClient` is a third, scripted one for tests of what sits on
top (it needs no source, perception or store).
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from onlook.errors import UnsupportedQuery
from onlook.types import Answer, Frame, IngestState, MessageType, ObservationKind, SearchHit

if TYPE_CHECKING:
    from onlook.answer.base import BaseAnswerer
    from onlook.query.search import MemoryView

__all__ = ["FakeStreamClient", "Message", "StreamClient"]

Message = dict[str, Any]
"""What subscribers receive: ``{"type": <MessageType>, "t": ..., ...}``."""


@runtime_checkable
class StreamClient(Protocol):
    """One stream, as a server sees it: ingest control, questions, alerts, status and messages.

    Every method may be called from a worker thread; none blocks on ingest. Calls that
    reach a stream running elsewhere may raise what its transport raises (a worker
    restarting); callers that show status treat that as "unreachable", not as a bug.
    """

    @property
    def stream_id(self) -> str:
        """The stream's id."""
        ...

    @property
    def answerer(self) -> BaseAnswerer | None:
        """The answerer to hand follow-ups and streamed answers to, or None to use :meth:`ask`."""
        ...

    @property
    def view(self) -> MemoryView | None:
        """The stream's memory when it is in this process (None when it lives with a remote worker)."""
        ...

    @property
    def done(self) -> threading.Event:
        """Set once ingest has ended, failed or was stopped (or was never started)."""
        ...

    @property
    def error(self) -> Exception | str | None:
        """Why ingest failed, or None."""
        ...

    @property
    def running(self) -> bool:
        """Whether ingest is going on now."""
        ...

    @property
    def alert_queries(self) -> list[str]:
        """The standing alert queries, in the order they were added."""
        ...

    def start(self) -> None:
        """Start ingest (and the message feed)."""
        ...

    def stop(self, timeout: float | None = 10.0) -> None:
        """Stop ingest; questions still work."""
        ...

    def close(self) -> None:
        """Stop and release everything (idempotent)."""
        ...

    def subscribe(self, callback: Callable[[Message], None]) -> Callable[[], None]:
        """Call ``callback`` with every message (on an ingest or polling thread); returns the unsubscriber."""
        ...

    def ask(self, question: str, at: float | None = None) -> Answer:
        """Answer ``question`` from memory up to stream time ``at`` (default: now)."""
        ...

    def search(self, text: str, *, until: float | None = None, k: int = 10) -> list[SearchHit]:
        """Ranked time spans matching ``text``."""
        ...

    def add_alert(self, query: str) -> Any:
        """Register a standing query (raises :class:`~onlook.errors.UnsupportedQuery` when it cannot be seen)."""
        ...

    def remove_alert(self, query: str) -> bool:
        """Stop alerting on ``query``; False when it was not registered."""
        ...

    def status(self) -> Message:
        """Counters for display (``t``, ``fps``, ``store_bytes``, ``capabilities``...)."""
        ...

    def latest_frame(self) -> tuple[Frame, list[Any]] | None:
        """The last analysed frame and its observations, or None; never blocks."""
        ...

    def keyframe(self, name: str) -> Path | bytes | None:
        """A stored keyframe by name (``0000012345.jpg``, ``keyframes/`` prefix allowed).

        Returns:
            Its file when it is on this machine, else its JPEG bytes; None when it is not
            (or no longer) stored or the name is not a keyframe's.
        """
        ...

    def record(self, limit: int = 500,
               sighting_kinds: Sequence[str] = (ObservationKind.ENTER, ObservationKind.EXIT)) -> dict[str, list[Any]]:
        """The latest alerts, events, sightings, gaps and speech, oldest first (a timeline)."""
        ...


class FakeStreamClient:
    """A scripted stream client: answers, hits, status and messages as the test says.

    Everything a caller does is recorded in :attr:`calls` as ``(method, args...)``; messages
    are pushed with :meth:`emit`, as an ingest thread would.

    Args:
        stream_id: The stream's id.
        answers: Question -> answer text (anything else gets an abstention).
        hits: Search text -> hits.
        keyframes: Keyframe name -> JPEG bytes.
        latest: The frame :meth:`latest_frame` returns.
        unseeable: Words that make :meth:`add_alert` refuse a query, as perception would.

    Example:
        >>> fake = FakeStreamClient("cam", answers={"anyone?": "Yes: 1 person"})
        >>> fake.ask("anyone?").text
        'Yes: 1 person'
    """

    answerer: BaseAnswerer | None = None
    view: MemoryView | None = None

    def __init__(self, stream_id: str = "fake", *, answers: dict[str, str] | None = None,
                 hits: dict[str, list[SearchHit]] | None = None, keyframes: dict[str, bytes] | None = None,
                 latest: tuple[Frame, list[Any]] | None = None, unseeable: Sequence[str] = ()) -> None:
        self.stream_id = stream_id
        self.answers = dict(answers or {})
        self.hits = dict(hits or {})
        self.keyframes = dict(keyframes or {})
        self.latest = latest
        self.unseeable = tuple(unseeable)
        self.done = threading.Event()
        self.error: Exception | str | None = None
        self.t = 0.0
        self.calls: list[tuple[Any, ...]] = []
        self._alerts: list[str] = []
        self._subs: list[Callable[[Message], None]] = []
        self._started = False

    # --- ingest --------------------------------------------------------------------------------

    @property
    def running(self) -> bool:
        return self._started and not self.done.is_set()

    def start(self) -> None:
        self.calls.append(("start",))
        self._started = True
        self.done.clear()
        self.emit({"type": MessageType.STATUS, "t": self.t, "state": IngestState.STARTED})

    def finish(self, error: str | None = None) -> None:
        """End ingest as a source ending (or failing with ``error``) would."""
        self.error = error
        self.done.set()
        self.emit({**self.status(), "state": IngestState.FAILED if error else IngestState.ENDED})
        if error:
            self.emit({"type": MessageType.ERROR, "t": self.t, "message": error, "error": "SourceError"})

    def stop(self, timeout: float | None = 10.0) -> None:
        self.calls.append(("stop",))
        if self._started and not self.done.is_set():
            self.done.set()
            self.emit({**self.status(), "state": IngestState.ENDED})

    def close(self) -> None:
        self.calls.append(("close",))
        self.done.set()
        self._subs.clear()

    # --- messages ------------------------------------------------------------------------------

    def subscribe(self, callback: Callable[[Message], None]) -> Callable[[], None]:
        self._subs.append(callback)

        def unsubscribe() -> None:
            with contextlib.suppress(ValueError):
                self._subs.remove(callback)

        return unsubscribe

    def emit(self, msg: Message) -> None:
        """Deliver ``msg`` to every subscriber (stream time follows its ``t``)."""
        self.t = max(self.t, float(msg.get("t") or 0.0))
        for cb in list(self._subs):
            cb(msg)

    # --- questions and alerts ------------------------------------------------------------------

    def ask(self, question: str, at: float | None = None) -> Answer:
        self.calls.append(("ask", question, at))
        at = self.t if at is None else at
        text = self.answers.get(question)
        if text is None:
            return Answer(question, "I can't tell from what I saw.", at, 0.0, abstained=True)
        return Answer(question, text, at, 0.9)

    def search(self, text: str, *, until: float | None = None, k: int = 10) -> list[SearchHit]:
        self.calls.append(("search", text, until, k))
        return list(self.hits.get(text, []))[:k]

    def add_alert(self, query: str) -> str:
        self.calls.append(("add_alert", query))
        bad = [w for w in self.unseeable if w in query.lower()]
        if bad:
            raise UnsupportedQuery(f"perception cannot see {bad[0]!r}")
        if query not in self._alerts:
            self._alerts.append(query)
        return query

    def remove_alert(self, query: str) -> bool:
        self.calls.append(("remove_alert", query))
        if query not in self._alerts:
            return False
        self._alerts.remove(query)
        return True

    @property
    def alert_queries(self) -> list[str]:
        return list(self._alerts)

    # --- what it shows -------------------------------------------------------------------------

    def status(self) -> Message:
        # The keys StreamEngine.status() gives (the server's StreamStatus reads them all).
        return {"type": MessageType.STATUS, "t": round(self.t, 3), "stream": self.stream_id, "fps": 0.0,
                "speed": 0.0, "skipped_area": 0.0, "frames_decoded": 0, "frames_kept": 0, "events": 0,
                "alerts": 0, "dropped": 0, "gaps": 0, "store_bytes": 0, "lag_s": 0.0, "duration": None,
                "outage": None, "capabilities": []}

    def latest_frame(self) -> tuple[Frame, list[Any]] | None:
        return self.latest

    def keyframe(self, name: str) -> Path | bytes | None:
        self.calls.append(("keyframe", name))
        return self.keyframes.get(name.removeprefix("keyframes/"))

    def record(self, limit: int = 500,
               sighting_kinds: Sequence[str] = (ObservationKind.ENTER, ObservationKind.EXIT)) -> dict[str, list[Any]]:
        self.calls.append(("record", limit, tuple(sighting_kinds)))
        return {"alerts": [], "events": [], "sightings": [], "gaps": [], "speech": []}
