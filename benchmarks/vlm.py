"""VLM answering: context-building time, answer overhead without the model, ingest with an answer in flight.

The model is the stand-in OpenAI-compatible server of
:mod:`onlook.answer.stub_server`, in its own process, so the measured process
does only what onlook does around a real one: context, JPEG data URLs, the
request, and parsing the streamed reply.
"""

from __future__ import annotations

import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.clips import decode_frames
from benchmarks.results import BenchResult, pct
from onlook.answer.stub_server import STUB_REPLY, stub_openai_server
from onlook.config import Settings
from onlook.types import Frame

__all__ = ["bench_vlm"]

QUESTIONS = ("what is the person in red carrying?", "when did someone first enter?", "what happened so far?",
             "is anyone near the door?", "how many people are visible now?")


@dataclass(frozen=True)
class _Workload:
    """What every ingest run feeds: the sampled clip looped, the perceiver, the first ``warm`` frames untimed."""

    frames: list[Frame]
    perceiver: Any
    fps: float
    warm: int = 10


@dataclass
class _Runs:
    """Interleaved runs without (``plain``) and with (``busy``) questions asked; per-answer wall and CPU time."""

    plain: list[float] = field(default_factory=list)
    busy: list[float] = field(default_factory=list)
    wall: list[float] = field(default_factory=list)
    cpu: list[float] = field(default_factory=list)
    server_ms: float = 0.0


def _ask_back_to_back(eng: Any, stop: threading.Event, wall_s: list[float], cpu_s: list[float]) -> None:
    """Ask questions one after another until ``stop``; note each answer's wall time and asking-thread CPU."""
    i = 0
    while not stop.is_set():
        t0, c0 = time.perf_counter(), time.thread_time()
        eng.ask(QUESTIONS[i % len(QUESTIONS)])
        cpu_s.append(time.thread_time() - c0)
        wall_s.append(time.perf_counter() - t0)
        i += 1


def _ingest(work: _Workload, store_dir: Path, vlm: Any) -> tuple[float, list[float], list[float]]:
    """Feed the frames; with a ``vlm``, a thread asks questions back to back meanwhile.

    Returns ingest fps, each answer's wall time, and each answer's CPU
    time on the asking thread (what answering costs the watching process).
    """
    from onlook.engine import StreamEngine

    eng = StreamEngine(None, settings=Settings(fps=work.fps, detect_text=False, store=store_dir),
                       perceiver=work.perceiver, stream_id="vlm", answerer=vlm)
    stop = threading.Event()
    wall_s: list[float] = []
    cpu_s: list[float] = []
    for f in work.frames[:work.warm]:  # warm up, and something to answer about
        eng.feed(f)
    th = (threading.Thread(target=_ask_back_to_back, args=(eng, stop, wall_s, cpu_s), daemon=True)
          if vlm is not None else None)
    if th:
        th.start()
    t0 = time.perf_counter()
    for f in work.frames[work.warm:]:
        eng.feed(f)
    wall = time.perf_counter() - t0
    stop.set()
    if th:
        th.join(60)
    eng.finish()
    eng.close()
    return (len(work.frames) - work.warm) / wall, wall_s, cpu_s


def _interleaved(work: _Workload, tmp: Path, pid: int, vlm: Any, tag: str, pairs: int) -> _Runs:
    """``pairs`` interleaved pairs of runs without and with questions asked of ``vlm``."""
    import psutil

    _ingest(work, tmp / f"{tag}-warm", vlm)  # discarded: first-use costs on both sides
    server = psutil.Process(pid)
    server_cpu0 = sum(server.cpu_times()[:2])
    out = _Runs()
    for i in range(2 * pairs):  # interleaved: without, with, without, with...
        fps, wall, cpu = _ingest(work, tmp / f"{tag}{i}", vlm if i % 2 else None)
        (out.busy if i % 2 else out.plain).append(fps)
        out.wall += wall
        out.cpu += cpu
    out.server_ms = (sum(server.cpu_times()[:2]) - server_cpu0) * 1000 / max(1, len(out.wall))
    return out


def _process_answerer(url: str) -> Any:
    """The default: the OpenAI answerer in its own process (``settings.answerer_process``)."""
    from onlook.answer.process import ProcessAnswerer

    return ProcessAnswerer(Settings(answerer="openai", answerer_model="bench", answerer_base_url=url,
                                    answerer_retries=0, answerer_timeout_s=30))


def _ingest_with_answers(work: _Workload, tmp: Path, model_s: float, pairs: int) -> dict[str, _Runs]:
    """Ingest without and with answers in flight, the answerer in its own process and on a thread."""
    from onlook.answer.openai_vlm import OpenAIAnswerer

    runs: dict[str, _Runs] = {}
    with stub_openai_server(model_s) as (url, pid):
        child = _process_answerer(url)
        try:
            runs["process"] = _interleaved(work, tmp, pid, child, "p", pairs)
        finally:
            child.close()
        # For comparison: the same answerer on a thread of the watching process.
        thread_vlm = OpenAIAnswerer("bench", base_url=url, retries=0, timeout_s=30)
        runs["thread"] = _interleaved(work, tmp, pid, thread_vlm, "t", pairs)
        thread_vlm.client.close()
    return runs


@dataclass(frozen=True)
class _Overheads:
    context_ms: list[float]
    thread_ms: list[float]
    process_ms: list[float]
    images: int
    image_side: int


def _answer_overheads(base: list[Frame], perceiver: Any, settings: Settings, tmp: Path,
                      n_questions: int) -> _Overheads:
    """Context building and the answer path's own overhead (a model that answers at once), on a store of
    one pass of the clip."""
    from onlook.answer.context import ContextBudget, build_context
    from onlook.answer.openai_vlm import OpenAIAnswerer
    from onlook.memory import Memory, Store
    from onlook.query.search import MemoryView

    store = Store(tmp / "d")
    mem = Memory(store, "vlm", recent_window=settings.recent_window)
    for f in base:
        mem.add(perceiver.analyze(f))
    view = MemoryView(store, live=mem, stream_id="vlm")
    budget = ContextBudget()
    ctx_ms: list[float] = []
    over_ms: list[float] = []
    over_proc_ms: list[float] = []
    end = base[-1].pts

    def at(i: int) -> float:
        return end * (0.5 + 0.5 * i / max(1, n_questions - 1))

    with stub_openai_server(0.0) as (url, _):
        vlm = OpenAIAnswerer("bench", base_url=url, budget=budget, retries=0, timeout_s=30)
        vlm.answer(QUESTIONS[0], view, at=end)  # the first request opens the connection
        for i in range(n_questions):
            q = QUESTIONS[i % len(QUESTIONS)]
            t0 = time.perf_counter()
            ctx = build_context(q, view, at(i), budget=budget)
            ctx_ms.append((time.perf_counter() - t0) * 1000)
            t0 = time.perf_counter()
            vlm.answer(q, view, at=at(i))
            over_ms.append((time.perf_counter() - t0) * 1000)
        vlm.client.close()
        # The default path adds a pipe to the child process and the live snapshot.
        child = _process_answerer(url)
        try:
            child.answer(QUESTIONS[0], view, at=end)
            for i in range(n_questions):
                t0 = time.perf_counter()
                child.answer(QUESTIONS[i % len(QUESTIONS)], view, at=at(i))
                over_proc_ms.append((time.perf_counter() - t0) * 1000)
        finally:
            child.close()
    store.close()
    return _Overheads(ctx_ms, over_ms, over_proc_ms, len(ctx.frames), budget.image_side)


def _in_flight_row(kind: str, what: str, r: _Runs, *, pairs: int, n_frames: int, loops: int, fps: float,
                   model_s: float, cmd: str) -> BenchResult:
    """The ingest-with-answers row: the drop against the noise of the runs without questions."""
    plain, busy = r.plain, r.busy
    mean_p, mean_b = float(np.mean(plain)), float(np.mean(busy))
    sd_p, sd_b = float(np.std(plain, ddof=1)), float(np.std(busy, ddof=1))
    drop = 1.0 - mean_b / mean_p
    # Two standard errors of a difference of two means of `pairs` runs each, both with the spread
    # of the runs without questions: a drop within this is not told apart from run-to-run noise.
    noise = 2.0 * sd_p * float(np.sqrt(2.0 / pairs)) / mean_p
    return BenchResult(
        f"ingest with a VLM answer in flight: {what}",
        f"{mean_b:.1f} fps (sd {sd_b:.1f}, {min(busy):.1f}-{max(busy):.1f}) with questions asked back to "
        f"back vs {mean_p:.1f} fps (sd {sd_p:.1f}, {min(plain):.1f}-{max(plain):.1f}) without: drop "
        f"{100 * drop:+.1f}%, noise {100 * noise:.1f}% (2 standard errors of the difference, from "
        f"the runs without); {pairs} interleaved pairs of runs of {n_frames} frames ({loops} passes of "
        f"the clip at {fps:g} fps); {len(r.wall)} answers, {model_s:g} s each from a stand-in "
        f"server in another process (its own CPU: {r.server_ms:.0f} ms per answer, on the same cores); "
        f"the watching process's side of an answer: {pct(r.cpu, 50) * 1000:.1f} ms CPU (p50) on the "
        "asking thread; faces+people on, OCR off",
        "no drop beyond noise" if kind == "process" else "(comparison)",
        drop <= noise if kind == "process" else None,
        {"cmd": cmd, "fps_without": plain, "fps_with": busy})


def bench_vlm(clip: Path, fps: float = 2.0, n_questions: int = 40, model_s: float = 1.0, pairs: int = 8,
              loops: int = 4) -> list[BenchResult]:
    """VLM answering: context-building time, answer overhead without the model, ingest with an answer in flight.

    Ingest is measured in ``pairs`` interleaved pairs of runs (without, with
    questions asked back to back), each over the sampled clip looped ``loops``
    times (stream time keeps increasing), so that several answers fall inside
    every run. The drop is beyond noise when it exceeds twice the standard
    error of a difference of two means of ``pairs`` runs, taken from the
    spread of the runs without questions.
    """
    from onlook.perception.pipeline import build_perceiver
    from onlook.sampling import FpsSampler, resize_for_analysis

    sampler = FpsSampler(fps)
    base = [Frame(f.stream_id, f.seq, f.pts, f.wall, resize_for_analysis(f.image, 640))
            for f in decode_frames(clip) if sampler.keep(f.pts)]
    period = base[-1].pts + 1.0 / fps
    frames = [Frame(f.stream_id, k * len(base) + i, f.pts + k * period, f.wall, f.image)
              for k in range(loops) for i, f in enumerate(base)]
    settings = Settings(fps=fps, detect_text=False)
    work = _Workload(frames, build_perceiver(settings), fps)
    with tempfile.TemporaryDirectory() as tmp:
        runs = _ingest_with_answers(work, Path(tmp), model_s, pairs)
        over = _answer_overheads(base, work.perceiver, settings, Path(tmp), n_questions)
    cmd = f"onlook bench --only vlm --clip {clip.name}"
    p95c, p95o = pct(over.context_ms, 95), pct(over.process_ms, 95)
    results = [
        BenchResult("VLM context building", f"p50 {pct(over.context_ms, 50):.1f} ms, p95 {p95c:.1f} ms "
                    f"({n_questions} questions; retrieval + recent frames + dedup + event log; {over.images} images "
                    f"of <= {over.image_side} px)", "p95 < 50 ms", p95c < 50, {"cmd": cmd}),
        BenchResult("VLM answer overhead excluding the model",
                    f"p50 {pct(over.process_ms, 50):.1f} ms, p95 {p95o:.1f} ms with the answerer in its own process "
                    f"(the default; on a thread: p50 {pct(over.thread_ms, 50):.1f} ms, p95 "
                    f"{pct(over.thread_ms, 95):.1f} ms); context + JPEG data URLs + request + streamed reply parsing "
                    f"(+ the live snapshot and the pipe); a stand-in server in another process on 127.0.0.1 streams "
                    f"a {len(STUB_REPLY.split())}-chunk reply at once", "p95 < 50 ms", p95o < 50, {"cmd": cmd}),
    ]
    for kind, what in (("process", "answerer in its own process (the default)"),
                       ("thread", "answerer on a thread of the watching process (answerer_process=false)")):
        results.append(_in_flight_row(kind, what, runs[kind], pairs=pairs, n_frames=len(frames) - work.warm,
                                      loops=loops, fps=fps, model_s=model_s, cmd=cmd))
    return results
