"""``onlook bench --cluster``: the Ray executor against the in-process one, on this machine, in one run.

The same ``streams`` streams (the clip at 640x480, as fast as they decode, default
perception at ``fps``) run first behind the in-process executor, then as Ray actors
on a local Ray with this machine's CPUs, alternating for ``rounds`` rounds. Each
run's figure is the analysed frames per second summed over the streams during a
window after every stream got going; "streams sustained" divides it by the
sampling rate: decoded as fast as possible, each stream's analysed frames are still
``1/fps`` s of video apart, the same work per frame as a live camera sampled at
``fps``. Ray's overhead is the relative loss of the Ray runs against the
in-process runs (negative: Ray is faster, e.g. because its processes do not
share one GIL).
"""

from __future__ import annotations

import os
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from benchmarks.clips import serve_clip
from benchmarks.results import BenchResult
from onlook.cluster.executor import InProcessExecutor, StreamSpec
from onlook.config import Settings
from onlook.errors import ConfigError

__all__ = ["bench_cluster"]


def _run(executor: Any, clip: Path, root: Path, streams: int, fps: float, warmup_s: float,
         window_s: float) -> dict[str, float]:
    """Open ``streams`` streams, wait until each has analysed frames, count frames over ``window_s``."""
    ids = [f"s{i}" for i in range(streams)]
    for sid in ids:
        executor.open(StreamSpec(sid, str(clip), Settings(store=root / sid, fps=fps, realtime=False)))
    try:
        deadline = time.monotonic() + 180
        while not all(executor.status(s)["frames_kept"] > 0 for s in ids):  # models loaded, decoding
            if time.monotonic() > deadline:
                raise TimeoutError("streams did not start within 180 s")
            time.sleep(0.5)
        time.sleep(warmup_s)
        before = {s: executor.status(s)["frames_kept"] for s in ids}
        t0 = time.monotonic()
        time.sleep(window_s)
        after = {s: executor.status(s) for s in ids}
        elapsed = time.monotonic() - t0
        ended = [s for s in ids if after[s]["state"] != "running"]
        if ended:
            raise RuntimeError(f"streams {', '.join(ended)} ended inside the window: use a longer clip")
        rates = [(after[s]["frames_kept"] - before[s]) / elapsed for s in ids]
        return {"total": sum(rates), "min": min(rates), "max": max(rates),
                "lag": max(float(after[s].get("lag_s") or 0.0) for s in ids)}
    finally:
        for sid in ids:
            executor.close(sid)


def bench_cluster(clip: Path, *, streams: int = 8, fps: float = 2.0, rounds: int = 2,
                  warmup_s: float = 5.0, window_s: float = 20.0,
                  log: Callable[[str], None] = lambda m: None) -> list[BenchResult]:
    """Aggregate ingest of ``streams`` streams: in-process vs Ray actors, alternating, on this machine.

    Raises:
        ConfigError: Ray is not installed.
    """
    try:
        import ray
    except ImportError:
        raise ConfigError("the cluster benchmark needs Ray: pip install 'onlook[cluster]'") from None
    from onlook.cluster.ray_executor import RayExecutor

    cpus = os.cpu_count() or 1
    tmp = Path(tempfile.mkdtemp(prefix="onlook-bench-cluster-"))
    video = serve_clip(clip, tmp / "cam.mp4", seconds=600)  # long enough that no stream ends in a window
    runs: dict[str, list[dict[str, float]]] = {"local": [], "ray": []}
    ray.init(address="local", num_cpus=cpus, include_dashboard=False, log_to_driver=False, namespace="onlook-bench")
    try:
        ray_ex = RayExecutor(num_cpus=cpus / streams, call_timeout_s=120)
        for r in range(rounds):
            for kind in ("local", "ray"):
                executor = InProcessExecutor() if kind == "local" else ray_ex
                res = _run(executor, video, tmp / f"{kind}{r}", streams, fps, warmup_s, window_s)
                runs[kind].append(res)
                log(f"  round {r + 1}, {kind}: {res['total']:.1f} frames/s over {streams} streams "
                    f"(per stream {res['min']:.2f}-{res['max']:.2f})")
    finally:
        ray.shutdown()
    local = statistics.mean(x["total"] for x in runs["local"])
    remote = statistics.mean(x["total"] for x in runs["ray"])
    overhead = 1.0 - remote / local
    spread = {k: (min(x["total"] for x in v), max(x["total"] for x in v)) for k, v in runs.items()}
    cmd = "onlook bench --cluster"
    figure = (f"Ray actors {remote:.1f} vs in-process {local:.1f} analysed frames/s over {streams} streams "
              f"(runs: Ray {spread['ray'][0]:.1f}-{spread['ray'][1]:.1f}, in-process "
              f"{spread['local'][0]:.1f}-{spread['local'][1]:.1f}; {rounds} alternating rounds of {window_s:g} s); "
              f"overhead {overhead:+.1%}; live streams this {cpus}-core node sustains at {fps:g} fps: "
              f"{int(remote // fps)} with Ray, {int(local // fps)} in-process "
              f"(640x480 {clip.name}, {fps:g} fps sampling, default perception, as fast as decoded)")
    return [BenchResult(f"cluster: Ray executor vs in-process, {streams} streams", figure,
                        "Ray's overhead <= 10% at 8 streams", overhead <= 0.10,
                        {"cmd": cmd, "runs": runs, "overhead": overhead})]
