"""Speech off the ingest thread: a worker that reads a source's sound and transcribes it.

:class:`SpeechWorker` reads :class:`~onlook.types.AudioChunk` values from a
source's :class:`~onlook.sources.audio.AudioFeed` and runs a
:class:`~onlook.perception.speech.SpeechPipeline` on them, by default in a
child process at a lower CPU priority (``speech_nice``): Whisper's Python
parts (feature extraction, decoding loop) would otherwise hold the
interpreter lock ingest needs, and a thread's niceness cannot be lowered
without the lock-holder being descheduled while video waits for it. The
watching process only moves 64 kB of samples a second over a socket.

What the worker owes its caller is bounded: the feed holds at most
``speech_buffer_s`` of sound (live: the oldest is dropped and counted, so the
transcript stays near the present; files at full speed: the decoder waits),
and a stretch of speech is at most ``max_segment_s`` long.

Example:
    >>> model = resolve_model(settings.speech_model)                                         # doctest: +SKIP
    >>> worker = SpeechWorker.from_settings(settings, "cam", source.audio, print, model)      # doctest: +SKIP
    >>> worker.start(); ...; source.audio.close(); worker.finish()                           # doctest: +SKIP
"""

from __future__ import annotations

import contextlib
import logging
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from multiprocessing.connection import Connection
from typing import Any

import numpy as np

from onlook._subprocess import stop_process
from onlook.errors import ConfigError, ModelError
from onlook.perception.speech import SpeechOptions, SpeechPipeline
from onlook.types import AudioChunk, SpeechSegment

__all__ = ["SpeechConfig", "SpeechWorker", "speech_available"]

log = logging.getLogger(__name__)


def speech_available() -> bool:
    """Whether faster-whisper (the speech extra) is installed."""
    import importlib.util

    return importlib.util.find_spec("faster_whisper") is not None


@dataclass(frozen=True)
class SpeechConfig:
    """What the child needs to build its pipeline (plain values: it crosses a process boundary).

    Attributes:
        model: Model folder or name (already resolved and verified by the parent).
        model_name: Short name for messages.
        language: Language code, or None to detect.
        threads: CTranslate2 CPU threads.
        beam_size: Whisper beam size.
        device: ``cpu``, ``cuda`` or ``auto``.
        vad: ``silero`` or ``energy``.
        options: How speech is cut (see :class:`~onlook.perception.speech.SpeechOptions`).
    """

    model: str
    model_name: str
    language: str | None = None
    threads: int = 2
    beam_size: int = 1
    device: str = "cpu"
    vad: str = "silero"
    options: dict[str, float] = field(default_factory=dict)
    hints: tuple[str, ...] = ()

    def build(self, stream_id: str) -> SpeechPipeline:
        """The pipeline this config describes (loads the model)."""
        from onlook.perception.speech import EnergyVad, SileroVad, WhisperTranscriber
        from onlook.perception.speech_model import SpeechModel

        transcriber = WhisperTranscriber(SpeechModel(self.model, self.model_name), language=self.language,
                                         threads=self.threads, beam_size=self.beam_size, device=self.device)
        vad = EnergyVad() if self.vad == "energy" else SileroVad()
        pipe = SpeechPipeline(transcriber, vad=vad, options=SpeechOptions(**self.options), stream_id=stream_id)
        pipe.set_hints(self.hints)
        return pipe


class SpeechWorker:
    """Transcribes a sound feed in a worker thread, optionally through a child process.

    Args:
        feed: Where the source puts its sound (``source.audio``).
        stream_id: The stream's name.
        on_segment: Called with each transcript segment, from the worker's
            thread (the engine stores it, emits it and checks speech alerts).
        config: Builds the pipeline in a child process (``process=True``) or here.
        pipeline: A ready pipeline to run on the worker thread instead (tests,
            fakes); then ``config`` is not used.
        process: Run the pipeline in a child process.
        nice: How much lower the child's CPU priority is (0: the same).
        start_timeout_s: Longest wait for the child to load its model.

    Raises:
        ConfigError: neither ``config`` nor ``pipeline`` given.
    """

    def __init__(self, feed: Any, stream_id: str, on_segment: Callable[[SpeechSegment], None], *,
                 config: SpeechConfig | None = None, pipeline: SpeechPipeline | None = None,
                 process: bool = True, nice: int = 10, start_timeout_s: float = 120.0,
                 on_error: Callable[[BaseException], None] | None = None) -> None:
        if config is None and pipeline is None:
            raise ConfigError("a speech worker needs a config or a pipeline")
        self.feed = feed
        self.stream_id = stream_id
        self.on_segment = on_segment
        self.on_error = on_error
        self.config = config
        self._pipeline = pipeline
        self.process = process and pipeline is None
        self.nice = nice
        self.start_timeout_s = start_timeout_s
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        self._cond = threading.Condition()
        self._done_until: float | None = None  # stream time up to which sound has been processed
        self._idle = False  # waiting for sound, with none queued
        self._finished = threading.Event()
        self.error: BaseException | None = None
        self.segments = 0
        self.heard_s = 0.0
        self.busy_s = 0.0  # worker time spent in the pipeline (or waiting on the child)
        self.delays_s: list[float] = []  # wall: sound that closed a stretch decoded -> its text delivered
        self._proc: subprocess.Popen | None = None
        self._conn: Connection | None = None
        self._hints: tuple[str, ...] | None = None  # new hints, handed over before the next chunk

    def set_hints(self, words: tuple[str, ...]) -> None:
        """Words to listen for from now on (the speech alerts' words; see ``SpeechPipeline.set_hints``)."""
        self._hints = tuple(words)

    @classmethod
    def from_settings(cls, settings: Any, stream_id: str, feed: Any,
                      on_segment: Callable[[SpeechSegment], None], model: Any,
                      on_error: Callable[[BaseException], None] | None = None,
                      hints: tuple[str, ...] = ()) -> SpeechWorker:
        """A worker built from :class:`~onlook.config.Settings` and a resolved model."""
        cfg = SpeechConfig(model=model.spec, model_name=model.name, language=settings.speech_language, hints=hints,
                           threads=settings.speech_threads, beam_size=settings.speech_beam_size,
                           device=settings.speech_device,
                           options={"min_silence_s": settings.speech_min_silence_s,
                                    "max_segment_s": settings.speech_max_segment_s})
        return cls(feed, stream_id, on_segment, config=cfg, process=settings.speech_process,
                   nice=settings.speech_nice, on_error=on_error)

    # --- lifecycle ---------------------------------------------------------------------------

    def start(self) -> None:
        """Start the worker thread (and the child process); returns at once."""
        if self._thread is not None:
            return
        self._thread = threading.Thread(target=self._run, name=f"onlook-speech-{self.stream_id}", daemon=True)
        self._thread.start()

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def finish(self, timeout: float | None = None) -> bool:
        """Wait until the feed is read to its end and the last stretch transcribed.

        Call it once the source has ended (the feed is closed). Returns
        False if ``timeout`` passed first (the worker is then stopped).
        """
        if self._thread is None:
            return True
        ok = self._finished.wait(timeout)
        if not ok:
            self.close()
        return ok

    def sync(self, until: float, timeout: float = 120.0) -> bool:
        """Wait until all sound fed up to stream time ``until`` has been processed (eval harness).

        Stretches still open at ``until`` are not forced closed: the answer at
        ``until`` sees what a live watcher would have transcribed by then.
        """
        deadline = time.monotonic() + timeout
        with self._cond:
            while not self._finished.is_set():
                done = self._done_until
                if (done is not None and done >= until - 1e-3) or (self._idle and self.feed.pending == 0):
                    return True
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._cond.wait(min(left, 0.1))
        return True

    def close(self) -> None:
        """Stop now: what is queued is dropped, the child process ends."""
        self._stop.set()
        if self.feed is not None:
            self.feed.abort()
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(10.0)
        self._stop_child()

    # --- the worker thread -------------------------------------------------------------------

    def _run(self) -> None:
        try:
            if self.process:
                self._start_child()
            elif self._pipeline is None:
                assert self.config is not None
                self._pipeline = self.config.build(self.stream_id)
            while not self._stop.is_set():
                chunk = self.feed.get(timeout=0)
                if chunk is None:
                    with self._cond:
                        self._idle = True
                        self._cond.notify_all()
                    chunk = self.feed.get(timeout=0.25)
                    with self._cond:
                        self._idle = False
                if chunk is None:
                    if self.feed.exhausted:
                        break
                    continue
                self.heard_s += chunk.duration
                self._handle(self._push(chunk))
                with self._cond:
                    self._done_until = chunk.end
                    self._cond.notify_all()
            if not self._stop.is_set():
                self._handle(self._flush())
        except Exception as e:  # noqa: BLE001 - reported once; video goes on without speech
            self.error = e if isinstance(e, ModelError) else ModelError(f"speech stopped: {e}")
            log.warning("stream %s: %s", self.stream_id, self.error)
            if self.feed is not None:
                self.feed.abort()  # a decoder waiting on a full feed must not wait forever
            if self.on_error is not None:
                with contextlib.suppress(Exception):
                    self.on_error(self.error)
        finally:
            self._stop_child()
            self._finished.set()
            with self._cond:
                self._cond.notify_all()

    def _handle(self, segs: list[SpeechSegment]) -> None:
        now = time.time()
        for seg in segs:
            self.segments += 1
            if seg.wall:
                self.delays_s.append(now - seg.wall)
                del self.delays_s[:-1000]
            try:
                self.on_segment(seg)
            except Exception:  # a consumer's bug must not stop speech
                log.exception("speech segment handler failed")

    def _push(self, chunk: AudioChunk) -> list[SpeechSegment]:
        hints, self._hints = self._hints, None
        if hints is not None:
            if self.process:
                self._ask(("hints", hints))
            else:
                assert self._pipeline is not None
                self._pipeline.set_hints(hints)
        t0 = time.perf_counter()
        try:
            if not self.process:
                assert self._pipeline is not None
                return self._pipeline.push(chunk)
            return self._ask(("chunk", chunk.pts, chunk.wall, chunk.samples.tobytes()))
        finally:
            self.busy_s += time.perf_counter() - t0

    def _flush(self) -> list[SpeechSegment]:
        if not self.process:
            assert self._pipeline is not None
            return self._pipeline.flush()
        return self._ask(("flush",))

    # --- the child process -------------------------------------------------------------------

    def _start_child(self) -> None:
        assert self.config is not None
        parent_sock, child_sock = socket.socketpair()
        # A fresh interpreter, as for the answerer process: not fork (the parent has threads).
        self._proc = subprocess.Popen([sys.executable, "-m", "onlook.perception.speech_worker",
                                       str(child_sock.fileno()), str(self.nice)],
                                      pass_fds=(child_sock.fileno(),), stdin=subprocess.DEVNULL)
        child_sock.close()
        self._conn = Connection(parent_sock.detach())
        self._conn.send({"config": asdict(self.config), "stream_id": self.stream_id})
        deadline = time.monotonic() + self.start_timeout_s
        while not self._conn.poll(0.25):
            if self._stop.is_set():
                raise ModelError("speech stopped before its model was loaded")
            if self._proc.poll() is not None or time.monotonic() > deadline:
                raise ModelError(f"the speech process did not start (exit {self._proc.poll()})")
        msg = self._conn.recv()
        if msg[0] == "error":
            raise ModelError(msg[1])

    def _ask(self, msg: tuple) -> list[SpeechSegment]:
        assert self._conn is not None and self._proc is not None
        try:
            self._conn.send(msg)
            while True:
                while not self._conn.poll(0.5):
                    if self._proc.poll() is not None:
                        raise ModelError(f"the speech process died (exit {self._proc.returncode})")
                    if self._stop.is_set():
                        return []
                reply = self._conn.recv()
                if reply[0] == "error":
                    raise ModelError(reply[1])
                return list(reply[1])
        except (OSError, EOFError) as e:
            raise ModelError(f"the speech process went away ({e})") from None

    def _stop_child(self) -> None:
        conn, proc = self._conn, self._proc
        self._conn = self._proc = None
        if proc is None:
            return
        with contextlib.suppress(OSError, ValueError):
            assert conn is not None
            conn.send(("close",))
        try:
            proc.wait(3)
        except subprocess.TimeoutExpired:
            stop_process(proc, grace_s=3)
        if conn is not None:
            conn.close()


def _child_main(conn: Connection) -> None:
    """The child: build the pipeline, then answer chunk/flush requests until told to close."""
    try:
        req = conn.recv()
        cfg = SpeechConfig(**req["config"])
        pipeline = cfg.build(req["stream_id"])
    except Exception as e:  # noqa: BLE001 - one line back to the parent
        conn.send(("error", str(e).splitlines()[0] if str(e) else repr(e)))
        return
    conn.send(("ready",))
    while True:
        try:
            msg = conn.recv()
        except (EOFError, OSError):
            return
        try:
            if msg[0] == "close":
                return
            if msg[0] == "chunk":
                _, pts, wall, data = msg
                segs = pipeline.push(AudioChunk(req["stream_id"], pts, np.frombuffer(data, np.float32).copy(),
                                                wall=wall))
            elif msg[0] == "hints":
                pipeline.set_hints(msg[1])
                segs = []
            else:
                segs = pipeline.flush()
            conn.send(("ok", segs))
        except Exception as e:  # noqa: BLE001
            conn.send(("error", f"speech failed: {str(e).splitlines()[0] if str(e) else repr(e)}"))


if __name__ == "__main__":  # the child: python -m onlook.perception.speech_worker FD [NICE]
    logging.basicConfig(level=logging.WARNING, format="onlook speech: %(message)s")
    if len(sys.argv) > 2 and int(sys.argv[2]) > 0:
        # Video comes first: on busy cores the transcript waits, not the picture.
        with contextlib.suppress(OSError):
            os.nice(int(sys.argv[2]))
    _child_main(Connection(int(sys.argv[1])))
