"""onlook's benchmarks: measurement code outside the installed library.

``onlook bench`` (the entry point) finds this package next to the source
checkout's ``src/`` (or at ``$ONLOOK_BENCHMARKS``). Each part measures and
returns :class:`~benchmarks.results.BenchResult` rows; :mod:`benchmarks.report`
turns rows into ``BENCHMARKS.md`` markdown. Nothing here is asserted in tests:
targets are reported, not enforced.

Modules:
    results      the row type and small statistics
    clips        the footage a run uses (found, or generated), clip preparation
    ingest       ingest speed vs real time and a naive loop, the gate, alert delay
    memory       RSS over a long stream, ask/search latency over a large store
    vlm          VLM context building, answer overhead, ingest with answers in flight
    serve        ``onlook serve`` under load
    speech       speech delay and cost
    faults       a flapping live producer, a filling disk, and the fault rows
    faults_kill  kill -9 of a watcher at random moments
    cluster      the Ray executor vs in-process
    runner       which parts exist, and running a selection of them
    report       BENCHMARKS.md rendering and updating
"""

from benchmarks.results import BenchResult
from benchmarks.runner import PARTS, run_bench

__all__ = ["PARTS", "BenchResult", "run_bench"]
