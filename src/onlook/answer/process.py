"""A VLM answerer in a process of its own, so that answering never competes with ingest for the GIL.

Building a VLM's context (retrieval, shrinking and hashing frames, JPEG data
URLs) and talking to the model server is Python work: on a thread of the
watching process it holds the interpreter lock that ingest needs, and ingest
slows down while a question is answered. :class:`ProcessAnswerer` runs the
answerer in a child process instead. The child opens each stream's store
read-only (SQLite WAL lets it read while ingest writes) and gets, with each
question, a snapshot of what is only in the watcher's RAM: the open event,
the latest state, and the recent window's frames by number, time and hash.
The child chooses the frames it shows from those and asks for the pixels of
the chosen ones it does not hold yet; the watching process sends only those,
shrunk to the model's image size, and otherwise waits on a socket.

Example:
    >>> settings = Settings(answerer={"kind": "openai", "model": "Qwen/Qwen2.5-VL-7B-Instruct"})
    >>> vlm = ProcessAnswerer(settings)                                         # doctest: +SKIP
    >>> engine = StreamEngine("rtsp://cam/1", settings=settings, answerer=vlm)  # doctest: +SKIP
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import os
import pickle
import socket
import subprocess
import sys
import threading
import traceback
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from typing import Any, ClassVar

from onlook import errors
from onlook._subprocess import stop_process
from onlook.answer.base import AnswerStream, BaseAnswerer, History
from onlook.config import Settings
from onlook.errors import ModelError
from onlook.types import Answer, TimelineRow

__all__ = ["ProcessAnswerer", "LiveSnapshot", "ChildLive"]

log = logging.getLogger(__name__)


@dataclass
class LiveSnapshot:
    """What a running stream holds only in RAM, copied for one question: no pixels.

    The recent window travels as :class:`~onlook.answer.context.RecentRef`
    values (number, time, difference hash), so the child chooses the frames
    it shows by these and asks for the pixels of only those it does not hold
    yet (see :class:`ChildLive`): at ingest's full speed 4 or so of a
    16-frame window, on a live camera the one or two analysed since the last
    question.
    """

    event: Any = None
    state: TimelineRow | None = None
    refs: list[Any] = field(default_factory=list)

    @classmethod
    def of(cls, live: Any, keep: int) -> tuple[LiveSnapshot, dict[int, Any]] | None:
        """A copy of ``live`` (a :class:`~onlook.memory.Memory` or None) with refs to its ``keep`` newest frames.

        Returns:
            The snapshot, and the window's frames by sequence number (kept by the
            sender to answer the child's requests for pixels), or None without ``live``.
        """
        from onlook.answer.context import RecentRef, frame_digest

        if live is None:
            return None
        recent_fn = getattr(live, "recent_frames", None)
        window = list(recent_fn())[-keep:] if recent_fn and keep > 0 else []
        # Each frame's hash is computed once (remembered by the array's identity) on the full frame,
        # as an answerer in this process would: the same frames are chosen in both.
        refs = [RecentRef(a.frame.seq, a.frame.pts, frame_digest(a.frame.image)) for a in window]
        return cls(live.open_event(), live.latest(), refs), {a.frame.seq: a for a in window}


class ChildLive:
    """The child's live state for one question: a :class:`LiveSnapshot` plus the frames it holds.

    Implements :class:`~onlook.query.search.LiveState`, ``recent_refs()`` and
    ``recent_images(seqs)`` (what :func:`~onlook.answer.context.build_context`
    uses to fetch only the frames it chooses) and ``recent_frames()`` (the
    whole window, for answerers that encode every recent frame).

    Args:
        snap: The snapshot sent with the question.
        kept: Frames received for this stream so far, by sequence number; pruned
            here to the snapshot's window and grown by every fetch.
        fetch: Asks the watcher for the frames of some sequence numbers.
    """

    def __init__(self, snap: LiveSnapshot, kept: dict[int, Any], fetch: Any) -> None:
        self._snap = snap
        self._fetch = fetch
        window = {r.seq for r in snap.refs}
        for seq in [s for s in kept if s not in window]:
            del kept[seq]
        self._kept = kept

    def open_event(self) -> Any:
        return self._snap.event

    def latest(self) -> TimelineRow | None:
        return self._snap.state

    def recent_refs(self) -> list[Any]:
        return list(self._snap.refs)

    def _frames(self, seqs: Sequence[int]) -> dict[int, Any]:
        need = [s for s in seqs if s not in self._kept]
        if need:
            for a in self._fetch(need):
                a.frame.image.flags.writeable = False  # answerers cache what they derive from it
                self._kept[a.frame.seq] = a
        return {s: self._kept[s] for s in seqs if s in self._kept}

    def recent_images(self, seqs: Sequence[int]) -> dict[int, Any]:
        return {s: a.frame.image for s, a in self._frames(seqs).items()}

    def recent_frames(self) -> list[Any]:
        got = self._frames([r.seq for r in self._snap.refs])
        return [got[r.seq] for r in self._snap.refs if r.seq in got]


def _shrunk(a: Any, side: int) -> Any:
    from onlook.answer.context import fit_image

    small = fit_image(a.frame.image, side)
    if small is a.frame.image:
        return a
    return dataclasses.replace(a, frame=dataclasses.replace(a.frame, image=small))


def _send_frames(conn: Connection, frames: list[Any]) -> None:
    """Send analyses with their pixels out of band: no copy of the images into a pickle."""
    buffers: list[pickle.PickleBuffer] = []
    head = pickle.dumps(frames, protocol=5, buffer_callback=buffers.append)
    conn.send(("frames", head, len(buffers)))
    for b in buffers:
        conn.send_bytes(b.raw())


def _recv_frames(conn: Connection, timeout_s: float) -> list[Any]:
    """Receive what :func:`_send_frames` sent (the child's side of a fetch)."""
    if not conn.poll(timeout_s):
        raise ModelError(f"the watching process sent no frames within {timeout_s:g} s")
    msg = conn.recv()
    if msg[0] != "frames":
        raise ModelError(f"the watching process answered a request for frames with {msg[0]!r}")
    # bytes: the arrays rebuilt on them are read-only, as the frames of a window should be
    buffers = [conn.recv_bytes() for _ in range(msg[2])]
    return pickle.loads(msg[1], buffers=buffers)


def _error(kind: str, message: str) -> BaseException:
    cls = getattr(errors, kind, None)
    if isinstance(cls, type) and issubclass(cls, errors.OnlookError):
        return cls(message)
    return ModelError(message)


class ProcessAnswerer(BaseAnswerer):
    """Any answerer :func:`~onlook.answer.factory.build_answerer` makes, run in a child process.

    Questions are answered one at a time (the model server, not this pipe, is
    the bottleneck); :meth:`answer`, :meth:`choose` and :meth:`stream_answer`
    behave as the wrapped answerer's do, with the same errors. A streamed
    answer's ``at`` is the child's question time, sent with its last message.

    Args:
        settings: The answerer's settings (its ``answerer`` group, the memory's recent
            window, ``perception.encoder_dir`` for embedding retrieval). One child
            serves every stream: each question names its store.
        start_timeout_s: Longest wait for the child to build its answerer.

    Raises:
        ConfigError, ModelError: the child could not build the answerer (the same
            one-line error the answerer gives in-process).
    """

    # What the factory runs in a child is a VLM (the openai answerer): it takes all of these.
    takes_history: ClassVar[bool] = True
    streams: ClassVar[bool] = True
    chooses: ClassVar[bool] = True

    def __init__(self, settings: Settings, *, start_timeout_s: float = 120.0) -> None:
        self.settings = settings
        a = settings.answerer
        self.name = a.kind
        self.model_name = a.model
        self.timeout_s = a.timeout_s * (a.retries + 1) + 30.0
        # The whole recent window: the context builder spreads the frames it picks over all of it.
        self.keep_recent = settings.memory.recent_window
        # A fresh interpreter (not fork: the parent has threads; not multiprocessing's spawn,
        # which re-runs the user's main script), talking over a socket pair.
        parent_sock, child_sock = socket.socketpair()
        self._proc = subprocess.Popen([sys.executable, "-m", "onlook.answer.process", str(child_sock.fileno()),
                                       str(a.nice)],
                                      pass_fds=(child_sock.fileno(),), stdin=subprocess.DEVNULL)
        child_sock.close()
        self._conn = Connection(parent_sock.detach())
        self._conn.send(settings.model_dump(mode="json"))
        self._lock = threading.Lock()
        self._rid = 0  # request number: the child tags every message of a request with it
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

    def _request(self, op: str, question: str, view: Any, at: float | None, history: History,
                 options: Sequence[str] | None = None) -> tuple[dict[str, Any], dict[int, Any]]:
        # A store without --store lives in a temporary folder: the child reads that one.
        got = LiveSnapshot.of(view.live, self.keep_recent)
        snap, window = got if got is not None else (None, {})
        req = {"op": op, "question": question, "at": at, "history": list(history),
               "options": list(options) if options is not None else None, "store": str(view.store_path),
               "stream": view.stream_id, "live": snap}
        return req, window

    def _exchange(self, req: tuple[dict[str, Any], dict[int, Any]]) -> Iterator[tuple[Any, ...]]:
        """Send one request, serve the child's requests for frames, and yield its other messages
        until its final one."""
        if self._proc.poll() is not None:
            raise ModelError(f"the answerer process has exited (code {self._proc.returncode})")
        body, window = req
        side = self.settings.answerer.context_image_side
        with self._lock:
            self._rid += 1
            rid = body["id"] = self._rid
            try:
                self._conn.send(body)
                while True:
                    if not self._conn.poll(self.timeout_s):
                        raise ModelError(f"the answerer process gave no reply within {self.timeout_s:g} s")
                    msg = self._conn.recv()
                    stale = msg[-1] != rid  # from a request given up on (timed out, or a stream left early)
                    if msg[0] == "need":
                        # Shrunk to the most a model is shown: half the bytes at the usual 640 -> 448 px.
                        # An old request gets none, so that the child moves on to this one.
                        _send_frames(self._conn, [] if stale else
                                     [_shrunk(window[s], side) for s in msg[1] if s in window])
                        continue
                    if stale:
                        continue
                    yield msg
                    if msg[0] in ("done", "error"):
                        return
            except (EOFError, OSError, BrokenPipeError) as e:
                raise ModelError(f"the answerer process is gone ({e or type(e).__name__})") from None

    def _final(self, req: tuple[dict[str, Any], dict[int, Any]]) -> Answer:
        for msg in self._exchange(req):
            if msg[0] == "error":
                raise _error(msg[1], msg[2])
            if msg[0] == "done":
                return msg[1]
        raise ModelError("the answerer process ended without an answer")  # pragma: no cover

    def answer(self, question: str, view: Any, at: float | None = None, *, history: History = ()) -> Answer:
        """Answer ``question`` from memory up to ``at`` (default: now)."""
        return self._final(self._request("answer", question, view, at, history))

    def choose(self, question: str, options: list[str], view: Any, at: float | None = None, *,
               history: History = ()) -> Answer:
        """Pick one of ``options`` (as the wrapped answerer does)."""
        return self._final(self._request("choose", question, view, at, history, options))

    def stream_answer(self, question: str, view: Any, at: float | None = None, *,
                      options: Sequence[str] | None = None, history: History = ()) -> AnswerStream:
        """The answer's text in pieces, as the child receives them from the model."""
        def run(stream: AnswerStream) -> Iterator[str]:
            req = self._request("stream", question, view, at, history, options)
            for msg in self._exchange(req):
                if msg[0] == "piece":
                    yield msg[1]
                elif msg[0] == "done":
                    if msg[1] is not None:  # the child's question time
                        stream.started(msg[1])
                elif msg[0] == "error":
                    raise _error(msg[1], msg[2])

        return AnswerStream(run)

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
        if settings.perception.encoder_dir is not None:
            from onlook.perception.encoder import OnnxClipEncoder

            encoder = OnnxClipEncoder.load(settings.perception.encoder_dir)
    except Exception as e:  # noqa: BLE001 - reported to the parent as one line
        conn.send(("error", type(e).__name__, str(e).splitlines()[0] if str(e) else repr(e)))
        return
    conn.send(("ready",))
    stores: dict[str, Any] = {}
    kept: dict[str, dict[int, Any]] = {}  # per store: the recent frames received so far

    rid = 0

    def reply(*msg: Any) -> None:
        conn.send((*msg, rid))

    def fetch(seqs: list[int]) -> list[Any]:
        reply("need", seqs)
        return _recv_frames(conn, 60.0)
    try:
        while True:
            try:
                req = conn.recv()
            except (EOFError, OSError):
                return  # the parent is gone
            except Exception:  # noqa: BLE001 - frames sent after a fetch here gave up: not a request
                continue
            if not isinstance(req, dict):
                continue
            if req.get("op") == "close":
                return
            rid = req.get("id", 0)
            try:
                live = None
                if req["live"] is not None:
                    live = ChildLive(req["live"], kept.setdefault(req["store"], {}), fetch)
                store = stores.get(req["store"])
                if store is None:
                    store = stores[req["store"]] = Store(req["store"], readonly=True)
                store.catch_up()  # embeddings the watcher added since the last question
                view = MemoryView(store, live=live, encoder=encoder, stream_id=req["stream"])
                q, at, hist = req["question"], req["at"], req["history"]
                if req["op"] == "stream":
                    stream = answerer.stream_answer(q, view, at, options=req["options"], history=hist)
                    for piece in stream:
                        reply("piece", piece)
                    reply("done", stream.at)
                elif req["op"] == "choose":
                    reply("done", answerer.choose(q, req["options"], view, at, history=hist))
                else:
                    reply("done", answerer.answer(q, view, at, history=hist))
            except Exception as e:  # noqa: BLE001 - every failure goes back as one line
                if not isinstance(e, errors.OnlookError):
                    log.error("answerer process: %s", traceback.format_exc())
                reply("error", type(e).__name__, str(e).splitlines()[0] if str(e) else repr(e))
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
