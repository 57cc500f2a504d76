"""A VLM answerer in a process of its own, so that answering never competes with ingest for the GIL.

Building a VLM's context (retrieval, shrinking and hashing frames, JPEG data
URLs) and talking to the model server is Python work: on a thread of the
watching process it holds the interpreter lock that ingest needs, and ingest
slows down while a question is answered. :class:`ProcessAnswerer` runs the
answerer in a child process instead. The child opens each stream's store
read-only (SQLite WAL lets it read while ingest writes) and gets, with each
question, a snapshot of what is only in the watcher's RAM: the open event,
the latest state and the recent window's small frames. The watching process
only pickles that snapshot and waits on a pipe.

Example:
    >>> vlm = ProcessAnswerer(Settings(answerer="openai", answerer_model="Qwen/Qwen2.5-VL-7B-Instruct"))  # doctest: +SKIP
    >>> engine = StreamEngine("rtsp://cam/1", settings=settings, answerer=vlm)                            # doctest: +SKIP
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import os
import socket
import subprocess
import sys
import threading
import traceback
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from typing import Any

from onlook import errors
from onlook._subprocess import stop_process
from onlook.config import Settings
from onlook.errors import ModelError
from onlook.types import Answer

__all__ = ["ProcessAnswerer", "LiveSnapshot"]

log = logging.getLogger(__name__)


@dataclass
class LiveSnapshot:
    """What a running stream holds only in RAM, copied for one question (a :class:`LiveState`).

    ``recent`` holds the recent window oldest first: an :class:`~onlook.types.Analysis`
    for a frame the child has not been sent yet, else just its sequence number
    (:meth:`resolve` fills those in from what the child kept), so each question
    ships only the frames analysed since the one before.
    """

    event: Any = None
    state: dict[str, Any] | None = None
    recent: list[Any] = field(default_factory=list)

    def open_event(self) -> Any:
        return self.event

    def latest(self) -> dict[str, Any] | None:
        return self.state

    def recent_frames(self) -> list[Any]:
        return [a for a in self.recent if not isinstance(a, int)]

    @classmethod
    def of(cls, live: Any, keep: int, known: set[int] | None = None, side: int | None = None) -> LiveSnapshot | None:
        """A copy of ``live`` (a :class:`~onlook.memory.Memory` or None) with its ``keep`` newest frames.

        Frames whose sequence number is in ``known`` go as that number only; the
        others, when ``side`` is given, are shrunk to it first (the most a model is
        shown), which halves what is pickled at the usual 640 -> 448 px.
        """
        if live is None:
            return None
        recent_fn = getattr(live, "recent_frames", None)
        window = list(recent_fn())[-keep:] if recent_fn and keep > 0 else []
        known = known or set()
        recent = [a.frame.seq if a.frame.seq in known else (_shrunk(a, side) if side else a) for a in window]
        return cls(live.open_event(), live.latest(), recent)

    def resolve(self, kept: dict[int, Any]) -> None:
        """Replace sequence numbers by the frames in ``kept``; update ``kept`` to this window."""
        out = []
        for a in self.recent:
            if isinstance(a, int):
                a = kept.get(a)
                if a is None:
                    continue  # not kept (cannot happen while parent and child agree): shown without it
            else:
                # Read-only, so answerers may cache what they derive from it (hashes, JPEGs).
                a.frame.image.flags.writeable = False
            out.append(a)
        self.recent = out
        kept.clear()
        kept.update((a.frame.seq, a) for a in out)


def _shrunk(a: Any, side: int) -> Any:
    from onlook.answer.context import fit_image

    small = fit_image(a.frame.image, side)
    if small is a.frame.image:
        return a
    return dataclasses.replace(a, frame=dataclasses.replace(a.frame, image=small))


def _error(kind: str, message: str) -> BaseException:
    cls = getattr(errors, kind, None)
    if isinstance(cls, type) and issubclass(cls, errors.OnlookError):
        return cls(message)
    return ModelError(message)


class ProcessAnswerer:
    """Any answerer :func:`~onlook.answer.factory.build_answerer` makes, run in a child process.

    Questions are answered one at a time (the model server, not this pipe, is
    the bottleneck); :meth:`answer`, :meth:`choose` and :meth:`stream_answer`
    behave as the wrapped answerer's do, with the same errors.

    Args:
        settings: The answerer's settings (``answerer``, ``answerer_model``, ...,
            the context budget, ``encoder_dir`` for embedding retrieval). One child
            serves every stream: each question names its store.
        start_timeout_s: Longest wait for the child to build its answerer.

    Raises:
        ConfigError, ModelError: the child could not build the answerer (the same
            one-line error the answerer gives in-process).
    """

    def __init__(self, settings: Settings, *, start_timeout_s: float = 120.0) -> None:
        self.settings = settings
        self.name = settings.answerer
        self.model_name = settings.answerer_model
        self.timeout_s = settings.answerer_timeout_s * (settings.answerer_retries + 1) + 30.0
        # The whole recent window: the context builder spreads the frames it picks over all of it.
        self.keep_recent = settings.recent_window
        # A fresh interpreter (not fork: the parent has threads; not multiprocessing's spawn,
        # which re-runs the user's main script), talking over a socket pair.
        parent_sock, child_sock = socket.socketpair()
        self._proc = subprocess.Popen([sys.executable, "-m", "onlook.answer.process", str(child_sock.fileno()),
                                       str(settings.answerer_nice)],
                                      pass_fds=(child_sock.fileno(),), stdin=subprocess.DEVNULL)
        child_sock.close()
        self._conn = Connection(parent_sock.detach())
        self._conn.send(settings.model_dump(mode="json"))
        self._lock = threading.Lock()
        self._sent: dict[str, set[int]] = {}  # per store: recent frames the child holds
        if not self._conn.poll(start_timeout_s):
            self.close()
            raise ModelError(f"the answerer process did not start within {start_timeout_s:g} s")
        msg = self._conn.recv()
        if msg[0] == "error":
            self.close()
            raise _error(msg[1], msg[2])
        self.child_pid = self._proc.pid

    def __repr__(self) -> str:
        return f"ProcessAnswerer({self.name}, {self.model_name!r}, pid={self._proc.pid})"

    def _request(self, op: str, question: str, view: Any, at: float | None, history: Sequence[Any],
                 options: Sequence[str] | None = None) -> dict[str, Any]:
        # A store without --store lives in a temporary folder: the child reads that one.
        path = str(view.store.path)
        snap = LiveSnapshot.of(view.live, self.keep_recent, self._sent.get(path), self.settings.context_image_side)
        return {"op": op, "question": question, "at": at, "history": list(history),
                "options": list(options) if options is not None else None, "store": path,
                "stream": view.stream_id, "live": snap}

    def _sent_now(self, req: dict[str, Any], ok: bool) -> None:
        """Remember which recent frames the child holds after ``req`` (nothing is assumed after a failure)."""
        snap = req["live"]
        if ok and snap is not None:
            self._sent[req["store"]] = {a if isinstance(a, int) else a.frame.seq for a in snap.recent}
        else:
            self._sent.pop(req["store"], None)

    def _exchange(self, req: dict[str, Any]) -> Iterator[tuple[Any, ...]]:
        """Send one request and yield the child's messages until its final one."""
        if self._proc.poll() is not None:
            raise ModelError(f"the answerer process has exited (code {self._proc.returncode})")
        with self._lock:
            ok = False
            try:
                self._conn.send(req)
                while True:
                    if not self._conn.poll(self.timeout_s):
                        raise ModelError(f"the answerer process gave no reply within {self.timeout_s:g} s")
                    msg = self._conn.recv()
                    if msg[0] in ("done", "error"):
                        ok = True  # the child read the request whole and kept its frames
                    yield msg
                    if ok:
                        return
            except (EOFError, OSError, BrokenPipeError) as e:
                raise ModelError(f"the answerer process is gone ({e or type(e).__name__})") from None
            finally:
                self._sent_now(req, ok)

    def _final(self, req: dict[str, Any]) -> Answer:
        for msg in self._exchange(req):
            if msg[0] == "error":
                raise _error(msg[1], msg[2])
            if msg[0] == "done":
                return msg[1]
        raise ModelError("the answerer process ended without an answer")  # pragma: no cover

    def answer(self, question: str, view: Any, at: float | None = None, *, history: Sequence[Any] = ()) -> Answer:
        """Answer ``question`` from memory up to ``at`` (default: now)."""
        return self._final(self._request("answer", question, view, at, history))

    def choose(self, question: str, options: list[str], view: Any, at: float | None = None, *,
               history: Sequence[Any] = ()) -> Answer:
        """Pick one of ``options`` (as the wrapped answerer does)."""
        return self._final(self._request("choose", question, view, at, history, options))

    def stream_answer(self, question: str, view: Any, at: float | None = None, *,
                      options: Sequence[str] | None = None, history: Sequence[Any] = ()) -> Iterator[str]:
        """The answer's text in pieces, as the child receives them from the model."""
        req = self._request("stream", question, view, at, history, options)
        for msg in self._exchange(req):
            if msg[0] == "piece":
                yield msg[1]
            elif msg[0] == "error":
                raise _error(msg[1], msg[2])

    def close(self) -> None:
        """Stop the child process."""
        try:
            if self._proc.poll() is None:
                self._conn.send({"op": "close"})
        except (OSError, BrokenPipeError):
            pass
        # Told to close, it exits at once; SIGTERM only if it is stuck in a question.
        try:
            self._proc.wait(5)
        except subprocess.TimeoutExpired:
            stop_process(self._proc, grace_s=5)
        self._conn.close()


def _child_main(conn: Any) -> None:
    """The child: read the settings, build the answerer, then answer requests until told to close."""
    from onlook.answer.factory import build_answerer
    from onlook.memory import Store
    from onlook.query.search import MemoryView

    try:
        settings = Settings(**conn.recv())
        answerer = build_answerer(settings, in_process=True)
        encoder = None
        if settings.encoder_dir is not None:
            from onlook.perception.encoder import OnnxClipEncoder

            encoder = OnnxClipEncoder.load(settings.encoder_dir)
    except Exception as e:  # noqa: BLE001 - reported to the parent as one line
        conn.send(("error", type(e).__name__, str(e).splitlines()[0] if str(e) else repr(e)))
        return
    conn.send(("ready",))
    stores: dict[str, Any] = {}
    kept: dict[str, dict[int, Any]] = {}  # per store: the recent frames received so far
    try:
        while True:
            try:
                req = conn.recv()
            except (EOFError, OSError):
                return  # the parent is gone
            if req.get("op") == "close":
                return
            try:
                if req["live"] is not None:  # first, so the frames are kept whatever fails next
                    req["live"].resolve(kept.setdefault(req["store"], {}))
                store = stores.get(req["store"])
                if store is None:
                    store = stores[req["store"]] = Store(req["store"], readonly=True)
                store.catch_up()  # embeddings the watcher added since the last question
                view = MemoryView(store, live=req["live"], encoder=encoder, stream_id=req["stream"])
                q, at, hist = req["question"], req["at"], req["history"]
                if req["op"] == "stream":
                    for piece in answerer.stream_answer(q, view, at, options=req["options"], history=hist):
                        conn.send(("piece", piece))
                    conn.send(("done", None))
                elif req["op"] == "choose":
                    conn.send(("done", answerer.choose(q, req["options"], view, at, history=hist)))
                else:
                    conn.send(("done", answerer.answer(q, view, at, history=hist)))
            except Exception as e:  # noqa: BLE001 - every failure goes back as one line
                if not isinstance(e, errors.OnlookError):
                    log.error("answerer process: %s", traceback.format_exc())
                conn.send(("error", type(e).__name__, str(e).splitlines()[0] if str(e) else repr(e)))
    finally:
        for s in stores.values():
            s.close()


if __name__ == "__main__":  # the child: python -m onlook.answer.process FD [NICE]
    logging.basicConfig(level=logging.WARNING, format="onlook answerer: %(message)s")
    if len(sys.argv) > 2 and int(sys.argv[2]) > 0:
        # Watching comes first: when the cores are busy, the answer waits, not ingest.
        with contextlib.suppress(OSError):
            os.nice(int(sys.argv[2]))
    _child_main(Connection(int(sys.argv[1])))
