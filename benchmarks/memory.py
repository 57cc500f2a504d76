"""Memory: RSS over a long accelerated stream, ask/search latency over a store of many hours."""

from __future__ import annotations

import gc
import tempfile
import time
from pathlib import Path

import numpy as np

from benchmarks.clips import decode_frames
from benchmarks.results import BenchResult, pct, rss_mb
from onlook.config import Settings
from onlook.types import Frame

__all__ = ["bench_query", "bench_rss"]


def bench_rss(clip: Path, hours: float, fps: float = 2.0) -> list[BenchResult]:
    """RSS after ``hours`` of accelerated stream vs after 10 minutes (looped footage)."""
    from onlook.engine import StreamEngine
    from onlook.perception.pipeline import build_perceiver
    from onlook.sampling import resize_for_analysis

    base = decode_frames(clip)
    src_fps = 1.0 / max(1e-6, (base[-1].pts - base[0].pts) / max(1, len(base) - 1))
    step = max(1, round(src_fps / fps))
    # Pre-sample and pre-shrink: this measures onlook's memory, not the decoder's.
    loop = [resize_for_analysis(f.image, 640) for f in base[::step]]
    del base  # the full-rate decode is ~1 GB; keep only the looped sample
    period = len(loop) / fps
    total = int(hours * 3600 * fps)
    marks = {int(600 * fps): "10min", total - 1: "end"}
    rss: dict[str, float] = {}

    def frames():
        for i in range(total):
            yield Frame("rss", i, i / fps, time.time(), loop[i % len(loop)])

    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(fps=fps, store=Path(tmp) / "s", budget=50 * 1000**2, detect_text=False)
        perceiver = build_perceiver(settings)
        eng = StreamEngine(None, settings=settings, perceiver=perceiver, stream_id="rss")
        t0 = time.perf_counter()
        for i, frame in enumerate(frames()):
            eng.feed(frame)
            if i in marks:
                gc.collect()
                rss[marks[i]] = rss_mb()
        eng.finish()
        wall = time.perf_counter() - t0
        size = eng.store.size_bytes()
        eng.close()
    growth = rss["end"] / rss["10min"] - 1.0
    return [BenchResult(
        f"RSS after {hours:g} h vs 10 min of stream",
        f"{rss['10min']:.0f} MB -> {rss['end']:.0f} MB ({100 * growth:+.1f}%), store held at "
        f"{size / 1e6:.1f} MB under a 50 MB budget; {total} frames ({hours:g} h at {fps:g} fps, "
        f"{clip.name} looped every {period:.0f} s) in {wall:.0f} s, OCR off",
        "within 10%", abs(growth) <= 0.10, {"cmd": f"onlook bench --only rss --hours {hours:g}"})]


def bench_query(clip: Path, hours: float = 24.0, fps: float = 2.0, n_queries: int = 60) -> list[BenchResult]:
    """ask/search latency over a store holding ``hours`` of stream.

    The store is filled by the real memory path (Memory.add) from analyses of
    the clip, replayed with advancing times, so it holds what ``watch`` would.
    """
    from onlook.answer.extractive import ExtractiveAnswerer
    from onlook.memory import Memory, Store
    from onlook.perception.pipeline import build_perceiver
    from onlook.query.search import MemoryView, search

    base = decode_frames(clip)
    settings = Settings(fps=fps, detect_faces=False)
    perceiver = build_perceiver(settings)
    from onlook.sampling import FpsSampler

    sampler = FpsSampler(fps)
    analyses = [perceiver.analyze(f) for f in base if sampler.keep(f.pts)]
    del base
    period = len(analyses) / fps
    total = int(hours * 3600 * fps)
    with tempfile.TemporaryDirectory() as tmp:
        store = Store(Path(tmp) / "s", budget_bytes=10 * 1000**3)
        mem = Memory(store, "q")
        t0 = time.perf_counter()
        from onlook.types import Analysis, Observation

        for i in range(total):
            a = analyses[i % len(analyses)]
            t = (i // len(analyses)) * period + (a.frame.pts - analyses[0].frame.pts)
            obs = [Observation(t, o.kind, o.label, o.score, o.box,
                               None if o.track_id is None else o.track_id + 10000 * (i // len(analyses)),
                               o.attrs) for o in a.observations]
            frame = Frame("q", i, t, time.time(), a.frame.image)
            mem.add(Analysis(frame, obs, a.analysed_fraction, a.people, None))
        mem.flush()
        fill_s = time.perf_counter() - t0
        size = store.size_bytes()
        view = MemoryView(store, stream_id="q")
        ans = ExtractiveAnswerer()
        questions = ["how many people are visible now?", "when did someone first enter?",
                     "how many people entered in the last 10 minutes?", "when was the last time someone left?",
                     "is there anyone in red right now?", "what happened in the last 2 minutes?",
                     "how many people entered so far?", "what is the man carrying?"]
        searches = ["person in red entering", "people leaving on the left", "motion in the lower right",
                    "a person in blue"]
        rng = np.random.default_rng(0)
        ask_ms: list[float] = []
        search_ms: list[float] = []
        end = total / fps
        for i in range(n_queries):
            at = float(rng.uniform(0.5, 1.0) * end)
            q = questions[i % len(questions)]
            t1 = time.perf_counter()
            ans.answer(q, view, at=at)
            ask_ms.append((time.perf_counter() - t1) * 1000)
            s = searches[i % len(searches)]
            t1 = time.perf_counter()
            search(view, s + " in the last 10 minutes" if i % 2 else s, until=at)
            search_ms.append((time.perf_counter() - t1) * 1000)
        store.close()
    cmd = f"onlook bench --only query --hours {hours:g}"
    p95a, p95s = pct(ask_ms, 95), pct(search_ms, 95)
    return [
        BenchResult(f"ask latency, store of {hours:g} h", f"p50 {pct(ask_ms, 50):.1f} ms, p95 {p95a:.1f} ms "
                    f"({n_queries} questions; store {size / 1e6:.0f} MB, filled in {fill_s:.0f} s)", "p95 < 50 ms",
                    p95a < 50, {"cmd": cmd}),
        BenchResult(f"search latency, store of {hours:g} h", f"p50 {pct(search_ms, 50):.1f} ms, p95 {p95s:.1f} ms",
                    "p95 < 50 ms", p95s < 50, {"cmd": cmd}),
    ]
