"""Many streams in one process: create, list, stop, delete, survive restarts, fan out messages.

:class:`StreamManager` owns one :class:`~onlook.engine.StreamEngine` (and
its :class:`~onlook.memory.Store`) per stream, each store in
``store_root/<stream id>/``. The list of streams is kept in
``store_root/streams.json`` (id, source, options, alerts, last state), so a
new server on the same root reopens every stream: those that were running
start again (a file carries on after the last stored time, a live source
reconnects), while files that had finished stay ``ended`` and streams that
were stopped stay ``stopped``; all of them remain queryable.

Engine messages arrive on each stream's ingest thread. The manager's
callback only hands them to the event loop (``loop.call_soon_threadsafe``);
there they update the stream's state, go to every subscriber's bounded
queue (the oldest message is dropped when a slow client falls behind, so
ingest never waits) and, for alerts, to the webhooks.

Everything here except the engine callback runs on the event loop; blocking
engine calls (opening stores, joining workers) go to worker threads.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import json
import logging
import os
import re
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

from anyio import to_thread

from onlook.client import StreamClient
from onlook.config import Settings, parse_bytes
from onlook.engine import StreamEngine
from onlook.errors import ConfigError, OnlookError, SourceError, StoreLocked, TargetNotAllowed, UnsupportedSource
from onlook.memory import Store
from onlook.query.alerts import compile_alert
from onlook.server.errors import (
    SourceNotAllowed,
    StreamExists,
    StreamNotFound,
    StreamRunning,
    StreamUnavailable,
    one_line,
)
from onlook.server.protocol import STREAM_ID_PATTERN, CreateStreamRequest
from onlook.server.webhooks import WebhookSender, check_webhook_url
from onlook.sources import LIVE_SCHEMES, PacedSource, ResumedSource, ThreadedSource, open_source
from onlook.sources._pyav import display_name
from onlook.sources.netpolicy import SOURCE_REFUSED, WEBHOOK_REFUSED, NetPolicy
from onlook.types import IngestState, MessageType, StreamState

__all__ = ["StreamManager", "StreamHandle", "Subscription", "classify_source", "check_store_root", "read_streams_file",
           "keyframe_url"]

log = logging.getLogger(__name__)

MESSAGE_TYPES = frozenset(MessageType)

ClientFactory = Callable[["StreamHandle", Settings], StreamClient]
"""Builds a stream's client from its handle and settings (see ``StreamManager(clients=...)``)."""
"""Message types subscribers can ask for (``?types=``)."""

_ID_RE = re.compile(STREAM_ID_PATTERN)
_STREAMS_FILE = "streams.json"
_OPTION_KEYS = ("fps", "realtime", "detect_people", "detect_faces", "detect_text", "detect_objects", "detect_hands",
                "face_state", "detect_pose", "budget", "start", "until", "webhooks")


def _subclass_names(cls: type) -> frozenset[str]:
    names, todo = set(), [cls]
    while todo:
        c = todo.pop()
        names.add(c.__name__)
        todo.extend(c.__subclasses__())
    return frozenset(names)


_SOURCE_ERRORS = _subclass_names(SourceError)
"""Error types whose text a live stream's clients never see (SOURCE_REFUSED instead; the log has it)."""


def keyframe_url(stream_id: str, rel: str | None) -> str | None:
    """URL path of a store-relative keyframe (``keyframes/0000012345.jpg``), or None."""
    if not rel:
        return None
    return f"/streams/{stream_id}/keyframes/{Path(rel).name}"


def _lock_root(root: Path) -> int:
    try:
        root.mkdir(parents=True, exist_ok=True)
        fd = os.open(root / ".server.lock", os.O_RDWR | os.O_CREAT, 0o644)
    except OSError as e:
        raise ConfigError(f"cannot use store root '{root}': {e.strerror or e}") from None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        raise StoreLocked(f"store root '{root}' is used by another onlook server") from None
    return fd


def read_streams_file(root: Path) -> list[dict[str, Any]]:
    """The stream entries of ``root/streams.json`` ([] when there is none).

    Raises:
        ConfigError: the file cannot be read or parsed.
    """
    path = root / _STREAMS_FILE
    if not path.is_file():
        return []
    try:
        data = json.loads(path.read_text())
        entries = data["streams"] if isinstance(data, dict) else data
        return [e for e in entries if isinstance(e, dict) and _ID_RE.match(str(e.get("id", "")))]
    except (OSError, ValueError, KeyError, TypeError) as e:
        raise ConfigError(f"cannot read {path}: {e}") from None


def check_store_root(root: str | os.PathLike[str]) -> None:
    """Check that a store root can be created, that no other server uses it, and that its list of streams reads.

    Raises:
        ConfigError: the folder cannot be created, or ``streams.json`` is damaged.
        StoreLocked: another onlook server holds it.
    """
    os.close(_lock_root(Path(root)))
    read_streams_file(Path(root))


# --- sources -----------------------------------------------------------------------------------


def classify_source(source: str) -> tuple[str, str | None]:
    """Tell a live URL from a local path.

    Returns:
        ``("live", None)`` for a network URL, or ``("local", path)`` for a
        file, folder or device path (``file://`` URLs decoded).

    Raises:
        UnsupportedSource: an unknown URL scheme, or a ``file://`` URL naming another host.
    """
    if "://" in source:
        parts = urlsplit(source)
        scheme = parts.scheme.lower()
        if scheme in LIVE_SCHEMES:
            return "live", None
        if scheme != "file":
            raise UnsupportedSource(f"unsupported URL scheme '{scheme}://' in source; use a file path, file://, "
                                    f"{', '.join(s + '://' for s in sorted(LIVE_SCHEMES))}", source=source)
        if parts.netloc not in ("", "localhost"):
            raise UnsupportedSource("file:// URLs must name a local file", source=source)
        return "local", unquote(parts.path)
    return "local", source


def _under(path: str, roots: list[str]) -> bool:
    return any(path == r or path.startswith(r.rstrip(os.sep) + os.sep) for r in roots)


# --- subscribers -------------------------------------------------------------------------------


class Subscription:
    """A client's view of the message feed: a bounded queue, oldest dropped when full.

    ``await sub.get()`` returns the next message, or None once the stream is
    deleted or the server shuts down.
    """

    def __init__(self, stream_id: str | None, types: frozenset[str] | None, maxsize: int) -> None:
        self.stream_id = stream_id
        self.types = types
        self.queue: asyncio.Queue[dict[str, Any] | None] = asyncio.Queue(maxsize)
        self.dropped = 0
        self.closed = False

    def wants(self, msg: dict[str, Any]) -> bool:
        return ((self.stream_id is None or msg.get("stream") == self.stream_id)
                and (self.types is None or msg.get("type") in self.types))

    def put(self, msg: dict[str, Any] | None) -> None:
        if self.closed:
            return
        if self.queue.full():
            with contextlib.suppress(asyncio.QueueEmpty):
                self.queue.get_nowait()
                self.dropped += 1
        self.queue.put_nowait(msg)
        if msg is None:
            self.closed = True

    async def get(self, timeout: float | None = None) -> dict[str, Any] | None:
        """Next message; raises TimeoutError after ``timeout`` seconds without one."""
        if timeout is None:
            return await self.queue.get()
        return await asyncio.wait_for(self.queue.get(), timeout)


# --- streams -----------------------------------------------------------------------------------


@dataclass
class StreamHandle:
    """One stream the manager holds.

    Attributes:
        id: Stream id (also its store folder name).
        source: The source as the client gave it.
        options: The creation options (fps, realtime, detectors, ...).
        kind: ``"live"`` or ``"local"``.
        path: Resolved local path (files, folders, devices), else None.
        state: ``starting``, ``running``, ``ended``, ``failed`` or ``stopped``.
        error: One-line reason when failed (or when it could not be reopened).
        engine: The engine, or None when the stream could not be opened.
        store: Its store (owned here, closed on delete/shutdown).
    """

    id: str
    source: str
    options: dict[str, Any]
    kind: str
    path: str | None = None
    state: StreamState = StreamState.STARTING
    error: str | None = None
    created: float = field(default_factory=time.time)
    engine: StreamClient | None = None
    store: Store | None = None
    stop_requested: bool = False
    unsubscribe: Callable[[], None] | None = None
    alerts: list[str] = field(default_factory=list)

    def require_engine(self) -> StreamClient:
        if self.engine is None:
            raise StreamUnavailable(f"stream '{self.id}' is not open: {self.error or 'unknown error'}")
        return self.engine

    def entry(self) -> dict[str, Any]:
        """What ``streams.json`` keeps of it."""
        alerts = self.engine.alert_queries if self.engine is not None else self.alerts
        return {"id": self.id, "source": self.source, "options": self.options, "alerts": list(alerts),
                "state": self.state, "created": self.created}


class StreamManager:
    """Create, list, stop and delete streams; persist them; fan their messages out.

    Args:
        settings: Server-wide defaults; each stream's options override them.
        store_root: Folder holding ``streams.json`` and one store per stream.
        allow_files: Folders file sources may come from (symlinks and ``..``
            resolved before checking). Empty: no file sources at all.
        webhooks: URLs that receive every alert of every stream.
        webhook_sender: Delivery machinery (default: a :class:`WebhookSender`).
        subscriber_queue: Messages buffered per subscriber before the oldest is dropped.
        net_policy: What network sources and per-stream webhooks that clients name may reach
            (default: from ``settings``: public addresses, plus ``allow_hosts``). The
            server-wide ``webhooks`` are the operator's and are not checked.

    Example:
        >>> mgr = StreamManager(Settings(), "/var/lib/onlook", allow_files=["/srv/video"])  # doctest: +SKIP
        >>> await mgr.start()                                                             # doctest: +SKIP
        >>> h = await mgr.create(CreateStreamRequest(source="rtsp://cam/1"))             # doctest: +SKIP
    """

    def __init__(self, settings: Settings, store_root: str | os.PathLike[str], *,
                 allow_files: list[str | os.PathLike[str]] | None = None, webhooks: list[str] | None = None,
                 webhook_sender: WebhookSender | None = None, subscriber_queue: int = 256,
                 answerer: Any = None, executor: Any = None, net_policy: NetPolicy | None = None,
                 clients: ClientFactory | None = None) -> None:
        self.settings = settings
        # Builds each stream's client instead of an engine or a remote worker (a fake in tests).
        self.clients = clients
        self.net_policy = net_policy or NetPolicy.from_settings(settings)
        # Where streams run: None keeps each engine in this process; an Executor (e.g. a
        # RayExecutor) runs each stream's worker elsewhere and the manager holds a RemoteStream.
        self.executor = executor
        # One answerer for every stream (None: each engine's extractive default). A VLM is
        # loaded once and shared; its calls happen on request threads, never on ingest.
        self.answerer = answerer
        self.store_root = Path(store_root)
        self.allow_roots = [os.path.realpath(p) for p in allow_files or []]
        self.webhooks = [check_webhook_url(u) for u in webhooks or []]
        self.webhook_sender = webhook_sender or WebhookSender()
        self.subscriber_queue = subscriber_queue
        self.streams: dict[str, StreamHandle] = {}
        self._subs: set[Subscription] = set()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._lock = asyncio.Lock()
        self._root_lock: int | None = None
        self.closing = False
        self.feeds_closed = False

    # --- lifecycle of the manager ----------------------------------------------------------------

    async def start(self) -> None:
        """Take the store root, start webhooks, reopen every stream listed in ``streams.json``.

        Raises:
            StoreLocked: another onlook server uses this store root.
            ConfigError: ``streams.json`` cannot be read.
        """
        self._loop = asyncio.get_running_loop()
        await to_thread.run_sync(self._take_root)
        await self.webhook_sender.start()
        for entry in await to_thread.run_sync(self._load):
            await self._reopen(entry)
        self._save()

    def _take_root(self) -> None:
        self._root_lock = _lock_root(self.store_root)

    def _load(self) -> list[dict[str, Any]]:
        return read_streams_file(self.store_root)

    def _save(self) -> None:
        """Write ``streams.json`` atomically (small; called on the loop after each change)."""
        path = self.store_root / _STREAMS_FILE
        tmp = path.with_suffix(".json.tmp")
        data = {"version": 1, "streams": [h.entry() for h in self.streams.values()]}
        try:
            tmp.write_text(json.dumps(data, indent=1, default=str))
            os.replace(tmp, path)
        except OSError as e:
            log.error("cannot save %s: %s", path, e)

    def end_feeds(self) -> None:
        """End every subscriber's feed and live view (the server is about to stop)."""
        self.feeds_closed = True
        for sub in list(self._subs):
            sub.put(None)

    async def close(self) -> None:
        """Stop every stream (their state in ``streams.json`` is kept), end feeds, stop webhooks."""
        self.closing = True
        self.end_feeds()
        handles = list(self.streams.values())
        self._save()  # before stopping: a running stream must restart next time
        await asyncio.gather(*(to_thread.run_sync(self._shutdown_handle, h) for h in handles))
        await self.webhook_sender.close()
        if self._root_lock is not None:
            os.close(self._root_lock)
            self._root_lock = None

    @staticmethod
    def _shutdown_handle(h: StreamHandle) -> None:
        if h.unsubscribe:
            h.unsubscribe()
        if h.engine is not None:
            h.engine.stop()
            h.engine.close()
        if h.store is not None:
            h.store.close()

    # --- creating and reopening ------------------------------------------------------------------

    def get(self, stream_id: str) -> StreamHandle:
        """The stream with this id.

        Raises:
            StreamNotFound: there is none.
        """
        h = self.streams.get(stream_id)
        if h is None:
            raise StreamNotFound(f"no stream '{stream_id}'")
        return h

    def check_local(self, path: str) -> str:
        """Resolve a local source path and check it lies under an allowed folder.

        Raises:
            SourceNotAllowed: it does not (or no folder is allowed).
        """
        real = os.path.realpath(path)
        if not self.allow_roots:
            raise SourceNotAllowed("file sources are disabled on this server (start it with --allow-files DIR)")
        if not _under(real, self.allow_roots):
            raise SourceNotAllowed(f"'{path}' is outside the folders this server allows files from")
        return real

    def _new_id(self, source: str) -> str:
        kind, path = classify_source(source)
        name = Path(path).stem if path else (Path(urlsplit(source).path).stem or urlsplit(source).hostname or "")
        base = re.sub(r"[^A-Za-z0-9_-]+", "-", name).strip("-_")[:40].lower() or "stream"
        if not base[0].isalnum():
            base = "s" + base
        sid, n = base, 1
        while sid in self.streams or (self.store_root / sid).exists():
            n += 1
            sid = f"{base}-{n}"
        return sid

    def _stream_settings(self, h: StreamHandle) -> Settings:
        o = h.options
        update: dict[str, Any] = {k: o[k] for k in ("fps", "realtime", "detect_people", "detect_faces", "detect_text",
                                                    "detect_objects", "detect_hands", "face_state", "detect_pose")
                                  if o.get(k) is not None}
        if o.get("budget") is not None:
            update["budget"] = parse_bytes(o["budget"])
        update["store"] = self.store_root / h.id
        if self.settings.perception.model_threads is None:
            # Each stream is work for a core already: one thread per model, not a pool thread per model per
            # stream contending for the same cores (the default for a stream watched alone is 2).
            update["model_threads"] = 1
        return self.settings.model_copy(update=update)

    def _open_engine(self, h: StreamHandle, *, start: bool, probe: bool = False) -> None:
        """Open the store and build the engine (worker thread); start it if asked."""
        settings = self._stream_settings(h)
        if h.kind == "live":  # a listening URL saved in streams.json is refused on restart too
            self.net_policy.source_mode(h.source)
        if h.kind == "local":
            h.path = self.check_local(h.path or "")
            if probe:  # a bad file is refused now, with its reason, not later as a failed stream
                open_source(h.path, stream_id=h.id, queue_size=0).close()
        if self.clients is not None:
            self._attach(h, self.clients(h, settings), store=None)
            if start:
                h.state = StreamState.STARTING
                h.require_engine().start()
            return
        if self.executor is not None:
            self._open_remote(h, settings, start=start)
            return
        store = h.store or Store(settings.store, budget_bytes=settings.budget)
        try:
            source: Any = h.path if h.kind == "local" else h.source
            o = h.options
            start_s = float(o.get("start") or 0.0)
            last = store.last_time()
            if start and h.kind == "local" and last is not None and not probe:
                source = self._resumed(h.path or "", max(last, start_s), settings, h.id)
            engine = StreamEngine(source, settings=settings, stream_id=h.id, store=store,
                                  alerts=list(dict.fromkeys(h.alerts)), start_s=start_s, until_s=o.get("until"),
                                  answerer=self.answerer, net_policy=self.net_policy)
        except BaseException:
            if h.store is None:
                store.close()
            raise
        self._attach(h, engine, store=store)
        if start:
            h.state = StreamState.STARTING
            engine.start()

    def _open_remote(self, h: StreamHandle, settings: Settings, *, start: bool) -> None:
        """Open the stream's worker on the executor (worker thread) and follow its messages."""
        from onlook.cluster.executor import StreamSpec
        from onlook.cluster.remote import RemoteStream

        o = h.options
        target = h.path if h.kind == "local" and h.path is not None else h.source
        spec = StreamSpec(h.id, target, settings,
                          alerts=tuple(dict.fromkeys(h.alerts)), start_s=float(o.get("start") or 0.0),
                          until_s=o.get("until"), resume=True, start=start, net_policy=self.net_policy)
        with contextlib.suppress(KeyError):  # a restart: the old worker goes first (it holds the store)
            self.executor.close(h.id)
        self.executor.open(spec)
        engine = RemoteStream(self.executor, h.id, vlm=settings.answerer.kind != "extractive", alerts=list(spec.alerts),
                              ingesting=start)
        self._attach(h, engine, store=None)
        h.state = StreamState.STARTING if start else h.state
        engine.start()

    def _attach(self, h: StreamHandle, client: StreamClient, *, store: Store | None) -> None:
        """Make ``client`` the stream's and follow its messages (on the event loop)."""
        h.store = store
        h.engine = client
        h.error = None
        h.stop_requested = False
        loop = self._loop
        assert loop is not None

        def on_message(msg: dict[str, Any], _client: StreamClient = client) -> None:
            # An ingest or polling thread: hand over and return at once.
            with contextlib.suppress(RuntimeError):  # the loop is closed: the server is gone
                loop.call_soon_threadsafe(self._on_message, h, _client, msg)

        h.unsubscribe = client.subscribe(on_message)

    @staticmethod
    def _resumed(path: str, after: float, s: Settings, stream_id: str) -> Any:
        src: Any = ResumedSource(open_source(path, stream_id=stream_id, queue_size=0), after)
        if s.realtime:
            src = PacedSource(src)
        return ThreadedSource(src, s.queue_size, drop_oldest=s.realtime)

    async def create(self, req: CreateStreamRequest) -> StreamHandle:
        """Create and start a stream.

        Raises:
            StreamExists: the id is taken.
            SourceNotAllowed: a file outside the allowed folders.
            UnsupportedSource, SourceNotFound, SourceCorrupt: the source cannot be used.
            UnsupportedQuery: an alert perception cannot see.
            ConfigError: a bad option (budget, webhook URL).
            TargetNotAllowed: a network source or webhook this server may not reach.
        """
        kind, path = classify_source(req.source)
        for q in req.alerts:
            compile_alert(q)  # refuse an unsupported alert before touching disk
        webhooks = [check_webhook_url(u) for u in req.webhooks]
        options = req.model_dump(include=set(_OPTION_KEYS), exclude_none=True)
        options["webhooks"] = webhooks
        if "budget" in options:
            parse_bytes(options["budget"])
        await self._check_targets(req.source if kind == "live" else None, webhooks)
        async with self._lock:
            if self.closing:
                raise StreamUnavailable("the server is shutting down")
            sid = req.id or self._new_id(req.source)
            if sid in self.streams:
                raise StreamExists(f"stream '{sid}' already exists")
            h = StreamHandle(id=sid, source=req.source, options=options, kind=kind, path=path,
                             alerts=list(dict.fromkeys(req.alerts)))
            existed = (self.store_root / sid).exists()
            try:
                await to_thread.run_sync(lambda: self._open_engine(h, start=True, probe=True))
            except BaseException:
                if not existed:
                    shutil.rmtree(self.store_root / sid, ignore_errors=True)
                raise
            self.streams[sid] = h
            self._save()
        return h

    async def _check_targets(self, source: str | None, webhooks: list[str]) -> None:
        """Refuse a network source or webhook this server may not reach, before anything is stored.

        A listening source or foreign URL options are refused with their reason. An
        address that is not allowed, or a name that does not resolve, gets the one text
        any unusable source gets (:data:`SOURCE_REFUSED`; the reason goes to the log),
        so that the API tells nothing about what lies behind a refused address.
        """
        policy = self.net_policy
        if source is not None:
            policy.source_mode(source)

        def resolve() -> None:
            if source is not None:
                try:
                    policy.source_target(source, {})
                except SourceError as e:
                    log.warning("refused source %s: %s", display_name(source), e)
                    raise TargetNotAllowed(SOURCE_REFUSED, source=source) from None
            for url in webhooks:
                try:
                    policy.webhook_target(url)
                except SourceError as e:
                    log.warning("refused webhook %s: %s", url, e)
                    raise TargetNotAllowed(WEBHOOK_REFUSED) from None

        await to_thread.run_sync(resolve)

    def _public_error(self, h: StreamHandle, err: object) -> str:
        """An engine's error as clients see it: a live source's failure is :data:`SOURCE_REFUSED`."""
        if h.kind == "live" and (isinstance(err, SourceError) or (isinstance(err, str) and self.executor is not None)):
            return SOURCE_REFUSED  # a worker elsewhere gives its error as text only
        return one_line(err)

    async def _reopen(self, entry: dict[str, Any]) -> None:
        source = str(entry.get("source", ""))
        saved = entry.get("state")
        state = StreamState(saved) if saved in (StreamState.ENDED, StreamState.STOPPED) else None
        h = StreamHandle(id=entry["id"], source=source, options=dict(entry.get("options") or {}), kind="live",
                         alerts=[str(a) for a in entry.get("alerts") or []], created=float(entry.get("created") or 0))
        self.streams[h.id] = h
        try:
            h.kind, h.path = classify_source(source)
            await to_thread.run_sync(lambda: self._open_engine(h, start=state is None))
            if state is not None:
                h.state = state
        except OnlookError as e:
            h.state, h.error = StreamState.FAILED, one_line(e)
            log.warning("stream %s could not be reopened: %s", h.id, h.error)

    async def restart(self, stream_id: str) -> StreamHandle:
        """Start a stopped, ended or failed stream again (a file carries on after what is stored)."""
        async with self._lock:
            h = self.get(stream_id)
            if h.engine is not None and h.engine.running:
                raise StreamRunning(f"stream '{stream_id}' is already running")
            old = h.engine
            if h.unsubscribe:
                h.unsubscribe()
            if old is not None:
                h.alerts = old.alert_queries
                await to_thread.run_sync(old.stop)
                if self.executor is not None or self.clients is not None:  # it is replaced below
                    await to_thread.run_sync(old.close)
            h.engine = None
            try:
                await to_thread.run_sync(lambda: self._open_engine(h, start=True))
            except OnlookError as e:
                h.state, h.error = StreamState.FAILED, one_line(e)
                raise
            finally:
                self._save()
        return h

    async def stop(self, stream_id: str) -> StreamHandle:
        """Stop ingest; the stream stays listed (``stopped``) and queryable."""
        h = self.get(stream_id)
        engine = h.engine
        if engine is not None and not engine.done.is_set() and h.state not in (StreamState.ENDED, StreamState.FAILED):
            h.stop_requested = True
            h.state = StreamState.STOPPED
            await to_thread.run_sync(engine.stop)
        elif h.state in (StreamState.STARTING, StreamState.RUNNING):
            h.state = StreamState.STOPPED
        self._save()
        return h

    async def delete(self, stream_id: str, *, keep_store: bool = False) -> None:
        """Stop a stream, forget it, and remove its store unless ``keep_store``."""
        async with self._lock:
            h = self.get(stream_id)
            h.stop_requested = True
            del self.streams[stream_id]
            self._save()
            for sub in list(self._subs):
                if sub.stream_id == stream_id:
                    sub.put(None)
            await to_thread.run_sync(self._shutdown_handle, h)
            if not keep_store:
                folder = self.store_root / stream_id
                if folder.resolve().parent == self.store_root.resolve():
                    await to_thread.run_sync(lambda: shutil.rmtree(folder, ignore_errors=True))

    # --- alerts ----------------------------------------------------------------------------------

    async def add_alert(self, stream_id: str, query: str) -> list[str]:
        h = self.get(stream_id)
        engine = h.require_engine()
        await to_thread.run_sync(engine.add_alert, query)
        self._save()
        return engine.alert_queries

    async def remove_alert(self, stream_id: str, query: str) -> bool:
        h = self.get(stream_id)
        engine = h.require_engine()
        removed = await to_thread.run_sync(engine.remove_alert, query)
        self._save()
        return removed

    # --- status ----------------------------------------------------------------------------------

    def state_of(self, h: StreamHandle) -> StreamState:
        e = h.engine
        if h.state in (StreamState.STARTING, StreamState.RUNNING) and e is not None and e.done.is_set():
            # The final message may still be on its way to the loop.
            if e.error is not None:
                return StreamState.FAILED
            return StreamState.STOPPED if h.stop_requested else StreamState.ENDED
        return h.state

    def status(self, h: StreamHandle) -> dict[str, Any]:
        """Full status of one stream (touches the disk: call it in a worker thread)."""
        d: dict[str, Any] = {"id": h.id, "source": h.source, "state": self.state_of(h), "error": h.error,
                             "options": h.options, "created": h.created, "alerts": list(h.alerts)}
        e = h.engine
        if e is None:
            return d
        if e.error is not None and d["error"] is None:
            d["error"] = self._public_error(h, e.error)
        try:
            st = e.status()
        except OnlookError:
            raise
        except Exception as ex:  # noqa: BLE001 - a remote worker restarting, or its node lost
            if self.executor is None:
                raise
            d["error"] = d["error"] or f"worker unreachable: {one_line(ex)}"
            return d
        for k in ("t", "fps", "speed", "skipped_area", "store_bytes", "frames_decoded", "frames_kept", "events",
                  "dropped", "gaps", "duration", "lag_s", "capabilities", "outage", "stage_ms"):
            d[k] = st.get(k)
        if "worker" in st:  # a worker run by an executor: where it runs and how often it restarted
            d["worker"] = st["worker"]
            d["restarts"] = st.get("restarts", 0)
        d["alerts_fired"] = st.get("alerts", 0)
        d["alerts"] = e.alert_queries
        if not d["t"] and h.store is not None:
            with contextlib.suppress(OnlookError):
                d["t"] = round(h.store.last_time() or 0.0, 3)
        return d

    # --- message fan-out (event loop) -----------------------------------------------------------

    def subscribe(self, stream_id: str | None = None, types: frozenset[str] | None = None) -> Subscription:
        """A new feed of messages for one stream (or all, with None), optionally only some types."""
        if stream_id is not None:
            self.get(stream_id)
        sub = Subscription(stream_id, types, self.subscriber_queue)
        if self.feeds_closed:
            sub.put(None)
        self._subs.add(sub)
        return sub

    def unsubscribe(self, sub: Subscription) -> None:
        self._subs.discard(sub)

    def _on_message(self, h: StreamHandle, engine: StreamClient, msg: dict[str, Any]) -> None:
        if h.engine is not engine:
            return  # a late message from an engine this stream has replaced
        msg = {**msg, "stream": h.id}
        kind = msg.get("type")
        if h.kind == "live" and kind == MessageType.ERROR and msg.get("error") in _SOURCE_ERRORS:
            # "refused", "timed out" and "404" would make the API a port scanner: one text for all.
            log.warning("stream %s: %s", h.id, msg.get("message"))
            msg.update(message=SOURCE_REFUSED, error="SourceUnreachable")
        elif h.kind == "live" and kind == MessageType.STATUS and "source" in msg:
            msg["source"] = h.source  # not the address it was pinned to
        final = False
        if kind == MessageType.STATUS:
            if isinstance(msg.get("alerts"), int):  # the engine's count; "alerts" is the list of queries here
                msg["alerts_fired"] = msg.pop("alerts")
            state = msg.get("state")
            if state == IngestState.STARTED:
                if h.state == StreamState.STARTING:
                    h.state = StreamState.RUNNING
            elif state in (IngestState.ENDED, IngestState.FAILED):
                final = True
                if h.stop_requested or (self.closing and state == IngestState.ENDED):
                    h.state = StreamState.STOPPED if h.stop_requested else h.state
                else:
                    h.state = StreamState(state)
            msg["state"] = h.state
        elif kind == MessageType.ERROR:
            h.error = one_line(msg.get("message", ""))
        if msg.get("keyframe"):
            msg["keyframe_url"] = keyframe_url(h.id, msg["keyframe"])
        for sub in list(self._subs):
            if sub.wants(msg):
                sub.put(msg)
        if kind == MessageType.ALERT:
            for url in self.webhooks:  # the operator's
                self.webhook_sender.submit(url, msg)
            for url in h.options.get("webhooks") or []:  # a client's: checked and pinned at each delivery
                self.webhook_sender.submit(url, msg, policy=self.net_policy)
        if final and not self.closing:
            self._save()
