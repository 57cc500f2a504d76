"""Which benchmark parts exist, and running a selection of them (what ``onlook bench`` calls)."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from benchmarks.results import BenchResult
from onlook.errors import ConfigError

__all__ = ["PARTS", "BenchOptions", "run_bench", "run_part"]

PARTS = ("ingest", "process", "rss", "query", "delay", "vlm", "serve", "speech", "faults")
"""The parts ``onlook bench --only`` chooses from, in the order a full run measures them."""


@dataclass(frozen=True)
class BenchOptions:
    """Sizes of the parts that take them.

    Attributes:
        hours: Stream hours of the RSS benchmark.
        query_hours: Hours of stream in the store for ask/search latency.
        delay_s: Seconds of real-time stream for the alert delay.
    """

    hours: float = 10.0
    query_hours: float = 24.0
    delay_s: float = 60.0


def run_part(name: str, clip: Path, opts: BenchOptions = BenchOptions()) -> list[BenchResult]:
    """Measure one part on ``clip``; its modules are imported only when it runs (serve, faults and speech
    start servers, producers and child processes)."""
    if name == "ingest":
        from benchmarks.ingest import bench_ingest

        return bench_ingest(clip)
    if name == "process":
        from benchmarks.ingest import bench_process

        return bench_process(clip)
    if name == "rss":
        from benchmarks.memory import bench_rss

        return bench_rss(clip, opts.hours)
    if name == "query":
        from benchmarks.memory import bench_query

        return bench_query(clip, opts.query_hours)
    if name == "delay":
        from benchmarks.ingest import bench_alert_delay

        return bench_alert_delay(clip, opts.delay_s)
    if name == "vlm":
        from benchmarks.vlm import bench_vlm

        return bench_vlm(clip)
    if name == "serve":
        from benchmarks.serve import bench_serve

        return bench_serve(clip)
    if name == "speech":
        from benchmarks.speech import bench_speech

        return bench_speech(clip)
    if name == "faults":
        from benchmarks.faults import bench_faults

        return bench_faults(clip)
    raise ConfigError(f"unknown benchmark {name!r}: choose from {', '.join(PARTS)}")


def run_bench(clip: Path, *, only: Sequence[str] | None = None, opts: BenchOptions = BenchOptions(),
              log: Callable[[str], None] = print) -> list[BenchResult]:
    """Run the selected parts (all when ``only`` is empty) in :data:`PARTS` order; returns their rows."""
    out: list[BenchResult] = []
    for name in PARTS:
        if only and name not in only:
            continue
        log(f"bench: {name} ...")
        t0 = time.perf_counter()
        res = run_part(name, clip, opts)
        for r in res:
            log(f"  {r.name}: {r.figure}  [target {r.target}: {'met' if r.ok else 'NOT met'}]")
        log(f"  ({time.perf_counter() - t0:.0f} s)")
        out.extend(res)
    return out
