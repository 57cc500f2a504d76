"""The causal streaming protocol: ask each question when the stream reaches it.

Each video is decoded once, in stream order, as fast as the machine goes (not
in real time). Frames are fed to a fresh :class:`~onlook.engine.StreamEngine`
one at a time; before a frame later than a question's ``time_s`` is fed, that
question is asked, and the harness asserts that the engine has seen nothing
after ``time_s``. Forward questions are registered as standing alerts at
``time_s`` and answered by the first alert that fires after it, like
StreamingBench's proactive output and OVO-Bench's forward active responding.

A video with sound is heard as well: its audio goes to the engine's speech
worker as it is decoded, and before a question at ``time_s`` is asked the
harness waits until the sound up to ``time_s`` has been through it (a stretch
of speech still open then is not forced closed: the answer sees what a live
watcher would have by then).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from onlook.config import Settings
from onlook.engine import StreamEngine
from onlook.errors import OnlookError, UnsupportedQuery
from onlook.eval.loaders import EvalQuestion
from onlook.types import Answer

__all__ = ["Response", "CausalityError", "run_protocol", "find_video", "is_poll"]


def is_poll(q: EvalQuestion) -> bool:
    """A forward question asked and answered at once (OVO-Bench's probes), not a standing request."""
    return q.type == "forward" and q.source == "ovobench"


class CausalityError(AssertionError):
    """The engine saw a frame later than the time a question was asked at."""


@dataclass
class Response:
    """What the engine answered to one question, and how fast.

    Attributes:
        question: The question.
        answer: The engine's answer (for forward questions: built from the alert).
        seen_until: Stream time of the last frame the engine had analysed when asked.
        latency_s: Wall-clock seconds the answer took.
        fired: For forward questions, the stream times at which the alert fired.
        error: A one-line reason when the question could not be run (missing video...).
    """

    question: EvalQuestion
    answer: Answer | None
    seen_until: float
    latency_s: float
    fired: list[float] = field(default_factory=list)
    error: str | None = None


def find_video(footage: Path, name: str) -> Path | None:
    """Locate a question's video under the footage folder (by path, then by base name)."""
    for cand in (footage / name, footage / Path(name).name):
        if cand.is_file():
            return cand
    matches = list(footage.rglob(Path(name).name)) if footage.is_dir() else []
    return matches[0] if matches else None


def _ask(engine: StreamEngine, q: EvalQuestion) -> Answer:
    answerer = engine.answerer
    if q.options and answerer.chooses:
        return answerer.choose(q.question, list(q.options), engine.view, at=q.time_s)
    return answerer.answer(q.question, engine.view, at=q.time_s)


def run_protocol(questions: Iterable[EvalQuestion], footage: Path, *, settings: Settings | None = None,
                 engine_factory: Callable[[str, Settings], StreamEngine] | None = None,
                 on_response: Callable[[Response], None] | None = None) -> list[Response]:
    """Run every question under the causal protocol.

    Args:
        questions: Questions of any number of videos.
        footage: Folder holding the videos.
        settings: Engine settings (default: the offline defaults).
        engine_factory: Builds the engine for a video (tests inject fakes here).
        on_response: Called with each response as soon as it is known.

    Returns:
        One :class:`Response` per question, in input order.

    Raises:
        CausalityError: an engine saw a frame after a question's time (a bug).
    """
    settings = settings or Settings()
    qs = list(questions)
    by_video: dict[str, list[EvalQuestion]] = {}
    for q in qs:
        by_video.setdefault(q.video, []).append(q)
    out: dict[int, Response] = {}

    def emit(q: EvalQuestion, r: Response) -> None:
        out[id(q)] = r
        if on_response:
            on_response(r)

    for video, vqs in by_video.items():
        path = find_video(footage, video)
        if path is None:
            for q in vqs:
                emit(q, Response(q, None, 0.0, 0.0, error=f"video {video!r} not found under {footage}"))
            continue
        make = engine_factory or (lambda src, s: StreamEngine(src, settings=s, stream_id="eval"))
        engine = make(str(path), settings)
        try:
            _run_video(path, vqs, engine, emit)
        finally:
            engine.close()
    return [out[id(q)] for q in qs if id(q) in out]


def _run_video(path: Path, vqs: list[EvalQuestion], engine: Any,
               emit: Callable[[EvalQuestion, Response], None]) -> None:
    """Play one video into ``engine``, asking each of its questions at its time and scoring forward ones."""
    from onlook.sources import open_source

    pending = sorted(vqs, key=lambda q: q.time_s)
    forward: dict[str, tuple[EvalQuestion, list[float]]] = {}

    def on_msg(m: dict[str, Any]) -> None:
        if m["type"] == "alert" and m["query"] in forward:
            forward[m["query"]][1].append(m["t"])

    engine.subscribe(on_msg)

    def ask_due(before: float | None) -> None:
        while pending and (before is None or pending[0].time_s < before):
            q = pending.pop(0)
            if engine.seen_until > q.time_s + 1e-6:
                raise CausalityError(f"{q.id}: asked at {q.time_s} s but the engine saw {engine.seen_until} s")
            if hasattr(engine, "speech_sync"):  # engines from a test's factory may not hear
                engine.speech_sync(q.time_s)
            t0 = time.perf_counter()
            if q.type == "forward" and not is_poll(q):
                try:
                    engine.add_alert(q.question)
                    forward[q.question] = (q, [])
                except UnsupportedQuery as e:
                    ans = Answer(q.question, str(e), q.time_s, 0.0, abstained=True)
                    emit(q, Response(q, ans, engine.seen_until, time.perf_counter() - t0))
                continue
            ans = _ask(engine, q)
            emit(q, Response(q, ans, engine.seen_until, time.perf_counter() - t0))

    error = None
    try:
        with open_source(str(path), stream_id="eval", realtime=False,
                         audio=getattr(engine, "hears", False)) as src:
            if getattr(src, "audio", None) is not None and hasattr(engine, "attach_audio"):
                engine.attach_audio(src.audio)
            for frame in src:
                ask_due(frame.pts)
                engine.feed(frame)
        engine.finish()
    except OnlookError as e:
        error = str(e)
    ask_due(None)
    for q, fired in forward.values():
        after = [t for t in fired if t >= q.time_s]
        text = f"fired at {after[0]:.2f} s" if after else "never fired"
        ans = Answer(q.question, text, q.time_s, 0.5 if after else 0.0, abstained=not after,
                     value=after[0] if after else None)
        emit(q, Response(q, ans, engine.seen_until, 0.0, fired=after, error=error))
