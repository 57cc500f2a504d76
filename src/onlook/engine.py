"""One stream, end to end: source -> sampler -> perception -> memory -> alerts.

:class:`StreamEngine` is the object a CLI, a server or a Ray actor holds per
stream. Ingest runs in its own worker thread (:meth:`StreamEngine.start`) or
in the caller's (:meth:`StreamEngine.run`); :meth:`ask`, :meth:`search` and
the alert methods are safe to call from any other thread while it runs,
because memory reads go through their own SQLite connections (WAL) and the
live state is copied under a lock.

Everything the engine has to say - closed events, sightings, alerts, what was
said, status, errors - goes to subscribers as plain dicts with a ``"type"`` and
the stream time ``"t"``: the CLI prints them, a server forwards them over SSE.

A source with sound is also heard: its audio goes to a
:class:`~onlook.perception.speech_worker.SpeechWorker` (voice activity, then
Whisper, in a child process at a lower priority), whose transcript segments
are stored, emitted as ``{"type": "speech", "t", "end", "text"}`` and checked
against the speech alerts.
"""

from __future__ import annotations

import contextlib
import logging
import shutil
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

from onlook.answer.extractive import Answerer, ExtractiveAnswerer
from onlook.client import Message
from onlook.config import Settings
from onlook.errors import OnlookError, StoreError, StoreFull
from onlook.memory import Memory, Store
from onlook.perception.pipeline import Perceiver, build_perceiver, capabilities_for, glance_fps_for
from onlook.perception.shots import THUMB_SIZE
from onlook.query.alerts import AlertBook, Rule, RuleKind
from onlook.query.model_parser import build_parser
from onlook.query.search import MemoryView, search
from onlook.sampling import FrameRole, GlanceSampler
from onlook.types import (
    Alert,
    Answer,
    Capability,
    Frame,
    Gap,
    IngestState,
    MessageType,
    ObservationKind,
    SearchHit,
    SpeechSegment,
    Word,
)

__all__ = ["StreamEngine", "Message"]

log = logging.getLogger(__name__)



class StreamEngine:
    """Watch one stream and answer questions about it.

    Args:
        source: A URI/path (opened with :func:`onlook.sources.open_source`) or
            an already-open source (anything iterable of :class:`Frame`).
        settings: All tunables; build one at the edge and pass it in.
        stream_id: The stream's name (stored on every frame and alert).
        perceiver: Perception to use (default: the offline detectors the
            settings enable).
        store: Memory store to use (default: ``settings.memory.store``, or a
            temporary one).
        answerer: How questions are answered (default: extractive).
        alerts: Standing alert queries to register at start.
        start_s: Skip stream time before this (resume a file part-way).
        until_s: Stop after this stream time.
        net_policy: What a network source URL may reach
            (:class:`~onlook.sources.netpolicy.NetPolicy`); None reaches anything.
        speech: A ready :class:`~onlook.perception.speech.SpeechPipeline` to
            transcribe with (run on a thread; tests and fakes). Default: built
            from the settings when the source has sound and speech is on.

    Raises:
        UnsupportedQuery: an alert in ``alerts`` cannot be seen by perception.
        StoreLocked: another process writes the store.

    Example:
        >>> eng = StreamEngine("clip.mp4", settings=Settings(sources={"fps": 2}))  # doctest: +SKIP
        >>> eng.add_alert("a person enters the view")                  # doctest: +SKIP
        >>> eng.run(); print(eng.ask("how many people entered so far?").text)  # doctest: +SKIP
    """

    def __init__(self, source: Any, *, settings: Settings | None = None, stream_id: str = "default",
                 perceiver: Perceiver | None = None, store: Store | None = None,
                 answerer: Answerer | None = None, alerts: list[str] | None = None,
                 start_s: float = 0.0, until_s: float | None = None, net_policy: Any = None,
                 speech: Any = None) -> None:
        self.settings = settings or Settings()
        # An optional model that fills typed queries (settings.parser); the offline parser is its fallback.
        # Built first: a bad parser setting is refused before a store is made or locked.
        self.parser = build_parser(self.settings)
        # What a network source may reach (onlook.sources.netpolicy.NetPolicy): set by a server for
        # the URLs its clients name; None for the operator's own `onlook watch`.
        self.net_policy = net_policy
        self.stream_id = stream_id
        self._source_arg = source
        self.source: Any = None
        self.start_s = start_s
        self.until_s = until_s
        # A store this engine creates is removed again if its source never opens, so a typo
        # in a path leaves nothing behind: the folder if it made it, else the files it made.
        mem = self.settings.memory
        where = Path(mem.store) if store is None and mem.store is not None else None
        self._made_store = None if where is None or (where / "onlook.db").exists() else (
            "folder" if not where.exists() else "files")
        self._source_opened = False
        self.store = store or Store(mem.store, budget_bytes=mem.budget)
        self._own_store = store is None
        self.stats: dict[str, Any] = {"frames_decoded": 0, "frames_kept": 0, "frames_glanced": 0, "frames_analysed": 0,
                                      "alerts": 0, "events": 0, "t": 0.0, "started_wall": None,
                                      "alert_delays_s": [], "speech_segments": 0}
        self._speech_pipeline = speech
        self.speech: Any = None  # the SpeechWorker, once a source with sound is open
        self.book = AlertBook(stream_id, hears=self.hears, read=self.parser.alert if self.parser else None)
        self._latest: tuple[Frame, list[Any]] | None = None
        try:
            for q in list(alerts or []) + self.store.alert_queries():
                self.add_alert(q)
        except OnlookError:
            if self._own_store:  # don't leave the store locked behind a refused alert
                self.store.close()
                self._discard_unused_store()
            raise
        self.perceiver = perceiver
        self.memory = Memory(self.store, stream_id, recent_window=mem.recent_window)
        self.answerer = answerer or ExtractiveAnswerer(parser=self.parser)
        # Optional VLM check of candidate alerts (onlook.answer.confirm.AlertConfirmer): when set,
        # an alert fires only once confirmed, from the confirmer's worker thread.
        self.confirmer: Any = None
        self._subs: list[Callable[[Message], None]] = []
        self._stop = threading.Event()
        self._cut_pending = False  # a thumbnail confirmed a cut; the next whole frame reports it
        self._thread: threading.Thread | None = None
        self._pending_lock = threading.Lock()
        # Why ingest failed: an OnlookError, or an unexpected exception (a bug), never left unsaid.
        self.error: Exception | None = None
        self.done = threading.Event()
        # Time continues across restarts: a source whose clock restarts below
        # what is stored is shifted to follow on.
        self._resume_after = self.store.last_time()
        # A resumed stream is as far on as its memory before its first new frame.
        self.stats["t"] = self._resume_after or 0.0
        self._offset = 0.0
        self._seen_first = False
        # Gaps of the source as stored: (what the source said, stored row id, stored version). A live
        # source reports an outage open, from its decoder thread, and again when it closes.
        self._gap_rows: list[tuple[Gap, int, Gap]] = []
        self._gap_lock = threading.Lock()


    # --- capabilities ------------------------------------------------------------------------

    @property
    def hears(self) -> bool:
        """Whether this engine transcribes speech (on, and faster-whisper installed, or a pipeline given)."""
        if self._speech_pipeline is not None:
            return True
        on = self.settings.speech.enabled
        if on is False:
            return False
        from onlook.perception.speech_worker import speech_available

        return True if on else speech_available()

    # --- alerts ------------------------------------------------------------------------------

    def add_alert(self, query: str) -> Rule:
        """Register a standing query; it is persisted with the store.

        Raises:
            UnsupportedQuery: perception cannot see what it asks about.
        """
        latest = self._latest
        rule = self.book.add(query, visible=latest[1] if latest else None)
        self.store.save_alert_query(query, self.stats["t"])
        if rule.kind == RuleKind.SPEECH and self.speech is not None:
            self.speech.set_hints(self.book.speech_words())
        return rule

    def remove_alert(self, query: str) -> bool:
        """Stop alerting on ``query``; returns False if it was not registered."""
        self.store.delete_alert_query(query)
        removed = self.book.remove(query)
        if self.speech is not None:
            self.speech.set_hints(self.book.speech_words())
        return removed

    @property
    def alert_queries(self) -> list[str]:
        return self.book.queries

    @property
    def capabilities(self) -> frozenset[Capability]:
        """What this engine can perceive, as its configuration stands.

        The perceiver's own declaration once it is built (a custom perceiver that declares none is
        taken to see nothing), before that what :func:`~onlook.perception.pipeline.build_perceiver`
        will build from the settings. A stage outside the perceiver adds its capability here.
        """
        p = self.perceiver
        if p is None:
            caps = capabilities_for(self.settings)
        else:
            caps = frozenset(getattr(p, "capabilities", frozenset()))
        if self.hears:  # a stage outside the perceiver: it listens to every source that has sound
            caps |= {Capability.SPEECH}
        return caps

    # --- subscribers -------------------------------------------------------------------------

    def subscribe(self, callback: Callable[[Message], None]) -> Callable[[], None]:
        """Call ``callback`` with every message; returns a function that unsubscribes.

        Callbacks run on the ingest thread, except the gap messages of a
        live source, which come from its decoder thread the moment an
        outage begins (``"end": None``) and ends: they must be quick (queue
        the message, don't process it there) and thread-safe.
        """
        self._subs.append(callback)
        return lambda: self._subs.remove(callback) if callback in self._subs else None

    def _emit(self, msg: Message) -> None:
        for cb in list(self._subs):
            try:
                cb(msg)
            except Exception:  # a subscriber's bug must not stop ingest
                log.exception("subscriber failed")

    # --- ingest ------------------------------------------------------------------------------

    def _open(self) -> Any:
        if isinstance(self._source_arg, str):
            from onlook.sources import open_source

            # The source applies the same sampling grid before converting pixels; the
            # engine's own sampler then keeps every frame it receives. With --start,
            # frames before the start are not pre-filtered (the grid starts there).
            s = self.settings
            self._source_sampler = _StartAwareSampler(s.sources.fps, self.start_s, self._glance_fps(),
                                                      self._glance_size())
            # stop: the engine cannot close a source still making its first connection (open_source
            # has not returned it yet), so the source watches the engine's stop event itself.
            src = open_source(self._source_arg, stream_id=self.stream_id, **s.sources.open_options(),
                              keep=self._source_sampler.keep, thumb=self._source_sampler.thumb,
                              max_width=s.perception.analysis_width,
                              net_policy=self.net_policy, on_gap=self._on_source_gap, stop=self._stop,
                              audio=self.hears, audio_buffer_s=s.speech.buffer_s)
            duration = getattr(getattr(src, "info", None), "duration_s", None)
            if duration:
                # A cut the shot detector confirms only at the end is reported on the last frame: the
                # last seconds of a file come whole (the detector's delay is well under this).
                self._source_sampler.whole_from = max(0.0, float(duration) - _WHOLE_TAIL_S)
            return src
        return self._source_arg

    # --- speech ------------------------------------------------------------------------------

    def attach_audio(self, feed: Any) -> bool:
        """Start transcribing a sound feed (``source.audio``); returns False when there is none.

        :meth:`run` does this for the source it opens; a harness that feeds
        frames itself (:meth:`feed`) calls it with its source's feed.

        Raises:
            ModelError: speech is required but the model is missing or corrupt,
                or faster-whisper is not installed.
        """
        if feed is None or not self.hears or self.speech is not None:
            return False
        from onlook.perception.speech_worker import SpeechWorker

        if self._speech_pipeline is not None:
            worker = SpeechWorker(feed, self.stream_id, self._on_speech, pipeline=self._speech_pipeline,
                                  process=False, on_error=self._on_speech_error)
            worker.set_hints(self.book.speech_words())
        else:
            from onlook.perception.speech_model import resolve_model

            model = resolve_model(self.settings.speech.model, self.settings.speech.models_dir)
            # The words the speech alerts listen for are hints to Whisper.
            worker = SpeechWorker.from_settings(self.settings, self.stream_id, feed, self._on_speech, model,
                                                on_error=self._on_speech_error, hints=self.book.speech_words())
        self.speech = worker
        worker.start()
        return True

    def speech_sync(self, until: float, timeout: float = 120.0) -> bool:
        """Wait until the sound fed up to stream time ``until`` has been transcribed (eval harness)."""
        return True if self.speech is None else self.speech.sync(until, timeout)

    def _on_speech(self, seg: SpeechSegment) -> None:
        # Runs on the speech worker's thread: store, tell, alert. The store serialises writes.
        if self._offset:
            seg = SpeechSegment(seg.stream_id, seg.start + self._offset, seg.end + self._offset, seg.text,
                                tuple(Word(w.text, w.start + self._offset, w.end + self._offset, w.probability)
                                      for w in seg.words), seg.language, seg.confidence, seg.wall)
        if self.until_s is not None and seg.start > self.until_s:
            return
        embedding = None
        encoder = getattr(self.perceiver, "encoder", None)
        if encoder is not None and hasattr(encoder, "encode_texts"):
            try:  # what was said, searchable by meaning too
                embedding = encoder.encode_texts([seg.text])[0]
            except OnlookError as e:
                log.debug("could not embed speech: %s", e)
        try:
            self.store.add_speech(seg, embedding)
        except OnlookError as e:
            log.warning("could not store speech: %s", e)
            return
        self.stats["speech_segments"] += 1
        self._emit(seg.to_dict())
        for alert in self.book.check_speech(seg, wall=seg.wall or time.time()):
            latest = self._latest
            self._fire(alert, latest[0] if latest else None, heard_wall=seg.wall or None)

    def _on_speech_error(self, e: BaseException) -> None:
        self._emit({"type": MessageType.STATUS, "t": self.stats["t"], "stream": self.stream_id,
                    "state": IngestState.SPEECH_OFF, "message": str(e)})

    def _glance_fps(self) -> float | None:
        """The rate of frames shown to the perceiver between analysed ones (its shot detector's), or None."""
        p = self.perceiver
        if p is not None:
            if hasattr(p, "glance_fps"):
                return p.glance_fps
            return self.settings.perception.shot_fps if getattr(p, "glances", False) else None
        return glance_fps_for(self.settings)  # not built yet (the source opens first)

    def _glance_size(self) -> tuple[int, int] | None:
        """The size glanced frames may be decoded at (the shot model's thumbnails), or None for whole ones."""
        return THUMB_SIZE if self._glance_fps() is not None else None

    def _frames(self) -> Iterator[tuple[Frame, FrameRole]]:
        sampler = GlanceSampler(self.settings.sources.fps, self._glance_fps())
        first = True
        for frame in self.source:
            if self._stop.is_set():
                return
            self.stats["frames_decoded"] += 1
            pts = frame.pts
            if pts < self.start_s:
                continue
            # --start and --until are times of the source (a file's own clock), not the
            # carried-on stream time a reopened store continues with.
            if self.until_s is not None and pts > self.until_s:
                return
            if first:
                first = False
                if self._resume_after is not None and pts <= self._resume_after:
                    self._offset = self._resume_after + 1.0 / self.settings.sources.fps - pts
                    gap = Gap(start=self._resume_after, end=pts + self._offset, wall_start=time.time(),
                              wall_end=time.time(), reason="restart")
                    self.store.add_gap(gap)
                self._seen_first = True
            if self._offset:
                pts += self._offset
                frame = Frame(frame.stream_id, frame.seq, pts, frame.wall, frame.image)
            role = sampler.classify(pts)
            if role is not None:
                yield frame, role

    def open(self) -> None:
        """Open the source now rather than in :meth:`run` (a no-op once open).

        A caller that opens first refuses a bad source before it loads
        anything slow; a store folder the engine created for a source that
        does not open is removed again by :meth:`close`.

        Raises:
            SourceError: the source cannot be opened.
        """
        if self.source is None:
            self.source = self._open()
            self._source_opened = True

    def start(self) -> None:
        """Start ingest in a daemon worker thread and return at once."""
        if self._thread is not None:
            raise RuntimeError("engine already started")
        self._thread = threading.Thread(target=self._run_safely, name=f"onlook-{self.stream_id}", daemon=True)
        self._thread.start()

    def _run_safely(self) -> None:
        try:
            self.run()
        except Exception:  # noqa: BLE001 - recorded in self.error and emitted (and logged if unexpected)
            pass

    def run(self) -> None:
        """Ingest until the source ends, :meth:`stop` is called, or it fails.

        Raises:
            SourceError: the source failed (after everything seen was stored).
            OnlookError: any other deliberate failure.
        """
        self.stats["started_wall"] = time.time()
        last_status = 0.0
        try:
            # The source first: a missing file or a bad URL is refused before models load.
            self.open()
            if self.perceiver is None:
                self.perceiver = build_perceiver(self.settings)
            sampler = getattr(self, "_source_sampler", None)
            if sampler is not None:  # glanced frames come whole where the perceiver reads faces on them
                sampler.whole = getattr(self.perceiver, "wants_whole", None)
            self.attach_audio(getattr(self.source, "audio", None))
            info = getattr(self.source, "info", None)
            self._emit({"type": MessageType.STATUS, "t": 0.0, "state": IngestState.STARTED, "stream": self.stream_id,
                        "source": getattr(info, "uri", None), "duration": getattr(info, "duration_s", None)})
            for frame, role in self._frames():
                if self._cut_pending and not frame.thumbnail:
                    # A thumbnail confirmed a cut: this frame, the first whole one after it, reports it.
                    self._cut_pending = False
                    self._process(frame)
                elif role is FrameRole.ANALYSE and not frame.thumbnail:
                    self._process(frame)
                else:
                    self._glance(frame)
                self._sync_gaps()  # sources that do not report gaps as they happen (not opened here)
                now = time.monotonic()
                if now - last_status >= 1.0:
                    last_status = now
                    self._emit(self.status())
            self._finish_shots()
        except Exception as e:
            if not isinstance(e, OnlookError):
                log.exception("stream %s failed", self.stream_id)
            self.error = e
            self._emit({"type": MessageType.ERROR, "t": self.stats["t"], "message": str(e), "error": type(e).__name__})
            raise
        finally:
            # Each step on its own: a full disk or a broken source must not keep the
            # final status (and ``done``) from being given.
            try:
                no_room = self._flush_open_event()
                if no_room is not None and self.error is None:  # the last keyframe found the disk full
                    self.error = no_room
                    self._emit({"type": MessageType.ERROR, "t": self.stats["t"], "message": str(no_room),
                                "error": type(no_room).__name__})
                try:
                    self._sync_gaps()  # the outage a source gave up in, or one it reported last
                except OnlookError as e:
                    log.warning("could not store the last gap: %s", e)
                self._end_speech()
                self._close_source()
                if self.confirmer is not None:  # let pending alert checks fire before the store closes
                    self.confirmer.drain()
                if not self.store.readonly:
                    with contextlib.suppress(StoreError):  # a full disk: last_time() still reads the rows
                        self.store.set_meta("last_t", self.stats["t"])
            finally:
                try:
                    final = IngestState.ENDED if self.error is None else IngestState.FAILED
                    self._emit({**self.status(), "state": final})
                finally:
                    self.done.set()

    def _flush_open_event(self) -> StoreFull | None:
        """Store the open event (and any a full disk kept back); what finds no room stays pending.

        Returns:
            Why a keyframe could not be written (its event was stored without it), or None.
        """
        error: StoreFull | None = None
        with self._pending_lock:
            try:
                stored = self.memory.flush()
                error = self.memory.keyframe_error
            except StoreError as e:
                stored = []
                # Not a warning: the failure itself is the stream's error; this only counts what waits.
                log.info("stream %s: %d event(s) not stored yet: %s", self.stream_id, self.memory.pending, e)
        for ev in stored:
            self.stats["events"] += 1
            self._emit(self._event_msg(ev))
        return error

    def _on_source_gap(self, _gap: Gap) -> None:
        """The source's report of an outage (open, or closed): store it now (decoder thread)."""
        if self.done.is_set():
            return  # a source left behind by a stop: its engine and store are finished with
        try:
            self._sync_gaps()
        except OnlookError as e:  # e.g. the store was closed under a stopping engine
            log.warning("could not store a gap: %s", e)

    def _sync_gaps(self) -> None:
        """Store the source's new gaps, and the closing of one stored open (any thread).

        Gaps are in the source's time; stored ones are shifted like frames
        when the store carries on from an earlier run.
        """
        gaps = getattr(self.source, "gaps", None)
        if not gaps:
            return
        with self._gap_lock:
            rows = self._gap_rows
            # Only the newest gap can still change (be closed): look from there on.
            for i in range(max(0, len(rows) - 1), len(gaps)):
                g = gaps[i]
                if i < len(rows) and rows[i][0] is g:
                    continue
                shifted = self._shift_gap(g)
                if i < len(rows):
                    self.store.close_gap(rows[i][1], shifted)
                    rows[i] = (g, rows[i][1], shifted)
                else:
                    rows.append((g, self.store.add_gap(shifted), shifted))
                self._emit({"type": MessageType.EVENT, "t": shifted.start, "kind": "gap", "end": shifted.end,
                            "reason": shifted.reason})

    def _shift_gap(self, g: Gap) -> Gap:
        if self._seen_first:
            offset = self._offset
        else:  # reported before the first frame reached ingest: the offset that frame will get
            offset = 0.0 if self._resume_after is None else self._resume_after + 1.0 / self.settings.sources.fps
        if not offset:
            return g
        return Gap(g.start + offset, None if g.end is None else g.end + offset, g.wall_start, g.wall_end, g.reason)

    def _outage(self) -> dict[str, Any] | None:
        """The outage going on now (its stored gap is open), for status."""
        if self.done.is_set() or not self._gap_rows:
            return None
        g = self._gap_rows[-1][2]
        if g.end is not None:
            return None
        return {"start": round(g.start, 3), "since": g.wall_start, "reason": g.reason}

    # --- step-wise driving (evaluation harness, benchmarks) ----------------------------------

    def feed(self, frame: Frame) -> bool:
        """Process one decoded frame in the caller's thread, bypassing the source.

        Frames must come in stream order. The engine's fps sampler decides
        whether the frame is analysed; returns True if it was. Use this (and
        :meth:`finish`) to drive an engine step by step, e.g. to ask questions
        at exact stream times with nothing later seen.
        """
        if self.perceiver is None:
            self.perceiver = build_perceiver(self.settings)
        self._source_opened = True  # the caller is the source
        if self.stats["started_wall"] is None:
            self.stats["started_wall"] = time.time()
        if not hasattr(self, "_feed_sampler"):
            self._feed_sampler = GlanceSampler(self.settings.sources.fps, self._glance_fps())
        self.stats["frames_decoded"] += 1
        role = self._feed_sampler.classify(frame.pts)
        if role is FrameRole.GLANCE:
            return self._glance(frame)
        if role is None:
            return False
        self._process(frame)
        return True

    def finish(self) -> None:
        """Close the open event after :meth:`feed`-driven ingest (stores it), and the transcript."""
        self._finish_shots()
        self._end_speech()
        for ev in self.memory.flush():
            self.stats["events"] += 1
            self._emit(self._event_msg(ev))

    @property
    def seen_until(self) -> float:
        """Stream time of the last frame analysed (nothing later has been seen)."""
        return float(self.stats["t"])

    def _end_speech(self) -> None:
        """At the end of the stream let the transcript catch up with the sound already heard; stop it
        at once only when asked to stop. A stream that failed is finished within a bound."""
        worker = self.speech
        if worker is None:
            return
        if self._stop.is_set():
            worker.close()
            return
        worker.feed.close()  # the source has ended: no more sound will come
        worker.finish(None if self.error is None else self.settings.speech.buffer_s + 60.0)

    def _close_source(self) -> None:
        src = self.source
        if src is not None and hasattr(src, "close"):
            try:
                src.close()
            except Exception:  # closing a broken source must not mask the real error
                log.debug("source close failed", exc_info=True)

    def latest_frame(self) -> tuple[Frame, list[Any]] | None:
        """The last analysed frame and its observations (for live views), or None."""
        return self._latest

    def _glance(self, frame: Frame) -> bool:
        """Show a frame between analysed ones to the perceiver; analyse it when it confirmed a cut.

        Returns:
            True when the frame was analysed.
        """
        p = self.perceiver
        glance = getattr(p, "glance", None)
        if glance is None:
            return False
        self.stats["frames_glanced"] += 1
        self._last_glance = frame
        if glance(frame):  # the new shot's first look: perception, memory and alerts see the cut now
            if frame.thumbnail:
                # Only a thumbnail of it was decoded: ask the source for the next frame whole, and analyse that.
                self._cut_pending = True
                sampler = getattr(self, "_source_sampler", None)
                if sampler is not None:
                    sampler.full_next()
                return False
            self._process(frame)
            return True
        return False

    def _finish_shots(self) -> None:
        """The source ended: let the shot detector judge what it held back, and report it."""
        finish = getattr(self.perceiver, "finish", None)
        if finish is None or not finish():
            return
        last = getattr(self, "_last_glance", None)
        if last is not None and last.pts > self.stats["t"] and not last.thumbnail:
            self._process(last)
        else:  # the last frame was analysed already; a cut in its final half second goes unreported
            log.debug("stream %s: a shot cut at the very end was not reported", self.stream_id)

    def _process(self, frame: Frame) -> None:
        assert self.perceiver is not None
        self.stats["frames_kept"] += 1
        self.stats["t"] = frame.pts
        a = self.perceiver.analyze(frame)
        # One reference swap: readers on other threads see either the old or the new pair.
        self._latest = (frame, a.observations)
        # How far analysis runs behind the source: a live stream that keeps up stays near 0.
        self.stats["lag_s"] = max(0.0, time.time() - frame.wall)
        if a.analysed_fraction > 0:
            self.stats["frames_analysed"] += 1
        full: StoreFull | None = None
        try:
            closed = self.memory.add(a)
        except StoreFull as e:  # the disk is full: alerts on this frame are still checked and heard
            closed, full = [], e
        for ev in closed:
            self.stats["events"] += 1
            self._emit(self._event_msg(ev))
        for o in a.observations:
            if o.kind in (ObservationKind.ENTER, ObservationKind.EXIT, ObservationKind.SCENE_CUT, ObservationKind.TEXT):
                self._emit({"type": MessageType.EVENT, "t": o.t, "kind": o.kind, "label": o.label,
                            "track_id": o.track_id, "attrs": o.attrs})
        for alert in self.book.check(a):
            if self.confirmer is not None:  # cheap trigger -> expensive check, off the ingest thread
                self.confirmer.submit(alert, self.view,
                                      lambda al, verdict, fr=frame: self._fire(al, fr) if verdict.fire else None)
                continue
            self._fire(alert, frame)
        if full is not None:
            raise full

    def _fire(self, alert: Alert, frame: Frame | None, *, heard_wall: float | None = None) -> None:
        # A speech alert shows the latest frame; its latency runs from when the sound was decoded.
        failed: StoreError | None = None
        try:
            kf = self.store.save_keyframe(frame.image, frame.pts) if frame is not None else None
        except StoreFull as e:  # the alert still goes out, without its picture
            kf, failed = None, e
        alert = Alert(query=alert.query, t=alert.t, wall=time.time(), stream_id=alert.stream_id,
                      evidence=alert.evidence, keyframe=kf)
        try:
            self.store.add_alert(alert)
        except StoreError as e:  # ... and is heard even when it cannot be stored
            failed = failed or e
        self.stats["alerts"] += 1
        delays = self.stats["alert_delays_s"]
        origin = heard_wall if heard_wall is not None else (frame.wall if frame is not None else alert.wall)
        delays.append(alert.wall - origin)
        del delays[:-1000]
        self._emit(alert.to_dict())
        if failed is not None:
            raise failed

    @staticmethod
    def _event_msg(ev) -> Message:
        return {"type": MessageType.EVENT, "t": ev.end, "kind": "segment", "start": ev.start, "end": ev.end,
                "summary": ev.summary, "salience": ev.salience, "keyframe": ev.keyframe}

    def stop(self, timeout: float | None = 10.0) -> None:
        """Ask ingest to stop and wait (bounded) for the worker to finish.

        Safe to call from any thread, also while :meth:`run` goes on in
        another (it then ends at the next frame, storing the open event).
        Once ingest is over, events a full disk kept back are tried again.
        """
        self._stop.set()
        if self.speech is not None:
            self.speech.close()
        self._close_source()
        if self._thread is not None:
            self._thread.join(timeout)
        if self.done.is_set() and self.memory.pending and not self.store.readonly:
            self._flush_open_event()

    def close(self) -> None:
        """Stop ingest and close the store (if the engine opened it)."""
        self.stop()
        if self._own_store:
            self.store.close()
            self._discard_unused_store()

    def _discard_unused_store(self) -> None:
        """Remove the store this engine created if its source never opened (nothing was seen)."""
        if self._made_store is None or self._source_opened:
            return
        path = self.store.path
        if self._made_store == "folder":
            shutil.rmtree(path, ignore_errors=True)
            return
        for name in ("onlook.db", "onlook.db-wal", "onlook.db-shm", ".lock"):
            with contextlib.suppress(OSError):
                (path / name).unlink()
        with contextlib.suppress(OSError):  # only if empty: never a file it did not write
            (path / "keyframes").rmdir()

    def __enter__(self) -> StreamEngine:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- queries -----------------------------------------------------------------------------

    @property
    def view(self) -> MemoryView:
        return MemoryView(self.store, live=self.memory, encoder=getattr(self.perceiver, "encoder", None),
                          stream_id=self.stream_id)

    def ask(self, question: str, at: float | None = None) -> Answer:
        """Answer ``question`` from memory up to stream time ``at`` (default: now)."""
        return self.answerer.answer(question, self.view, at=at)

    def search(self, text: str, *, until: float | None = None, k: int = 10) -> list[SearchHit]:
        """Ranked time spans matching ``text`` (temporal grounding)."""
        return search(self.view, text, until=until, k=k)

    def keyframe(self, name: str) -> Path | None:
        """A stored keyframe's file by name (``0000012345.jpg``, ``keyframes/`` prefix allowed), or None."""
        return self.store.keyframe_file(name)

    def record(self, limit: int = 500,
               sighting_kinds: Sequence[str] = (ObservationKind.ENTER, ObservationKind.EXIT)) -> dict[str, list[Any]]:
        """The latest alerts, events, sightings, gaps and speech of the store, oldest first (a timeline)."""
        return self.store.record(limit, sighting_kinds)

    def status(self) -> Message:
        """Counters for display: stream time, rates, skip ratio, memory size."""
        st = self.stats
        elapsed = time.time() - st["started_wall"] if st["started_wall"] else 0.0
        p = self.perceiver
        src = self.source
        info = getattr(src, "info", None)
        return {"type": MessageType.STATUS, "t": round(st["t"], 3), "stream": self.stream_id,
                "frames_decoded": st["frames_decoded"], "frames_kept": st["frames_kept"],
                "frames_glanced": st["frames_glanced"],
                "fps": round(st["frames_kept"] / elapsed, 2) if elapsed > 0 else 0.0,
                "speed": round(st["t"] / elapsed, 2) if elapsed > 0 else 0.0,
                "skipped_area": round(p.skipped_area_fraction, 4) if p else 0.0,
                "events": st["events"], "alerts": st["alerts"],
                "dropped": getattr(src, "dropped", 0), "gaps": len(getattr(src, "gaps", []) or []),
                "store_bytes": self.store.size_bytes(), "lag_s": round(st.get("lag_s", 0.0), 3),
                "duration": getattr(info, "duration_s", None), "outage": self._outage(),
                "capabilities": sorted(c.value for c in self.capabilities),
                "stage_ms": p.stage_ms() if p is not None and hasattr(p, "stage_ms") else {},
                **self._speech_status()}

    def _speech_status(self) -> dict[str, Any]:
        w = self.speech
        if w is None:
            return {}
        feed = w.feed
        return {"speech_segments": self.stats["speech_segments"], "speech_heard_s": round(w.heard_s, 2),
                "speech_dropped_s": round(getattr(feed, "dropped_s", 0.0), 2),
                "speech_error": str(w.error) if w.error else None}

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()


_WHOLE_TAIL_S = 2.0
"""Seconds at the end of a file whose frames are decoded whole even when only glanced at."""


class _StartAwareSampler(GlanceSampler):
    """The engine's sampling grids as a source-side filter: nothing before ``start_s`` is kept."""

    def __init__(self, fps: float, start_s: float, glance_fps: float | None = None,
                 glance_size: tuple[int, int] | None = None) -> None:
        super().__init__(fps, glance_fps, glance_size)
        self.start_s = start_s

    def keep(self, pts: float) -> bool:
        return pts >= self.start_s and super().keep(pts)
