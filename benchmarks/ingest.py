"""Ingest: speed against real time and against a naive loop, the gate's skip ratio, alert delay."""

from __future__ import annotations

import json
import os
import tempfile
import time
from pathlib import Path

from benchmarks.results import BenchResult, pct
from onlook.config import Settings
from onlook.errors import SourceError

__all__ = ["bench_alert_delay", "bench_ingest", "bench_process", "score_enters"]


def bench_ingest(clip: Path, fps: float = 2.0) -> list[BenchResult]:
    """Engine ingest (default perception) vs real time and vs a naive loop."""
    import cv2

    from onlook.engine import StreamEngine
    from onlook.perception.pipeline import build_perceiver
    from onlook.sampling import FpsSampler

    settings = Settings(fps=fps)
    # Load models before timing: start-up is paid once per process, not per frame.
    perceiver = build_perceiver(settings)
    if perceiver.text is not None and hasattr(perceiver.text, "load"):
        perceiver.text.load()
    with tempfile.TemporaryDirectory() as tmp:
        settings_run = Settings(fps=fps, store=Path(tmp) / "s")
        eng = StreamEngine(str(clip), settings=settings_run, perceiver=perceiver,
                           alerts=["a person enters the view"])
        enters: list[float] = []
        eng.subscribe(lambda m: enters.append(m["t"]) if m["type"] == "alert" else None)
        t0 = time.perf_counter()
        eng.run()
        engine_s = time.perf_counter() - t0
        duration = eng.stats["t"] + 1.0 / 10
        skipped = perceiver.skipped_area_fraction
        eng.close()

    # Naive: OpenCV decodes every frame; every detector runs on every whole sampled frame, and the shot
    # model on every window of every frame's thumbnail (no candidates).
    naive = build_perceiver(Settings(fps=fps))
    if naive.text is not None and hasattr(naive.text, "load"):
        naive.text.load()
    import numpy as np

    from onlook.perception.color import dominant_colors
    from onlook.perception.objects import DetectorSet
    from onlook.perception.shots import thumbnail
    from onlook.sampling import resize_for_analysis

    shot_model = naive.shots.model if naive.shots is not None else None
    thumbs: list[np.ndarray] = []

    cap = cv2.VideoCapture(str(clip))
    sampler = FpsSampler(fps)
    n = 0
    naive_enters: list[float] = []
    t0 = time.perf_counter()
    while True:
        ok, img = cap.read()
        if not ok:
            break
        t = cap.get(cv2.CAP_PROP_POS_MSEC) / 1000.0
        if shot_model is not None:
            thumbs.append(thumbnail(img))
            if len(thumbs) >= shot_model.window:
                shot_model.predict(np.stack(thumbs[:shot_model.window]))
                del thumbs[:shot_model.window - 2 * shot_model.context]
        if not sampler.keep(t):
            continue
        im = resize_for_analysis(img, settings.analysis_width)
        if naive.people is not None:
            res = naive.people.update(im, t, changed=None)
            naive_enters += [e.t for e in res.events if e.kind == "enter"]
        faces_now = naive.faces.detect(im, t, None) if naive.faces is not None else []
        if naive.text is not None:
            naive.text.detect(im, t, None)
        if isinstance(naive.objects, DetectorSet):
            naive.objects.detect(im, t, force=True)  # every detector on every whole sampled frame
        elif naive.objects is not None:
            naive.objects.detect(im)
        if naive.hands is not None:
            naive.hands.detect(im, t)
        if naive.face_state is not None and faces_now:
            naive.face_state.update(im, t, faces_now)
        dominant_colors(im)
        n += 1
    naive_s = time.perf_counter() - t0
    cap.release()

    cmd = f"onlook bench --only ingest --clip {clip.name}"
    rt = duration / engine_s
    ratio = naive_s / engine_s
    alerts = score_enters(clip, enters)
    ungated = score_enters(clip, naive_enters)
    gate_note, gate_ok = "", True
    if alerts and ungated:
        # The gate must not lose an entry that looking at everything would have caught.
        lost = sorted(set(alerts["missed"]) - set(ungated["missed"]))
        gate_ok = not lost
        gate_note = (f"; person entries caught: {alerts['hits']}/{alerts['gt']} with the gate, "
                     f"{ungated['hits']}/{ungated['gt']} with every detector on every whole frame; "
                     f"lost to the gate: {lost or 'none'}")
    return [
        BenchResult("ingest speed", f"{rt:.1f}x real time ({duration:.1f} s of video in {engine_s:.2f} s, "
                    f"{fps:g} fps sampling, faces+face state+hands+OCR+people+objects+colours+shot model on)",
                    ">= 20x", rt >= 20,
                    {"cmd": cmd, "engine_s": engine_s, "video_s": duration}),
        BenchResult("ingest vs naive loop", f"{ratio:.1f}x faster (naive: OpenCV decode of every frame, all "
                    f"detectors on every whole sampled frame: {naive_s:.2f} s for {n} frames)", ">= 10x",
                    ratio >= 10, {"cmd": cmd, "naive_s": naive_s}),
        BenchResult("gate: sampled image area skipped", f"{100 * skipped:.1f}%{gate_note}",
                    ">= 80%, no person entry lost to the gate", skipped >= 0.8 and gate_ok,
                    {"cmd": cmd}),
    ]


def score_enters(clip: Path, fired: list[float]) -> dict[str, float] | None:
    """Score fired alert times against ../shared/eval/alerts.json when it is there."""
    gt_file = clip.parent.parent / "eval" / "alerts.json"
    if not gt_file.is_file():
        return None
    items = [a for a in json.loads(gt_file.read_text()) if a["video"] == clip.name
             and a["query"] == "a person enters the view"]
    if not items:
        return None
    from onlook.eval.scoring import match_alerts

    return match_alerts(items[0]["gt_times"], fired)


def bench_alert_delay(clip: Path, seconds: float = 60.0) -> list[BenchResult]:
    """Event-to-alert delay with the file paced in real time (like a live camera)."""
    from onlook.engine import StreamEngine

    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(fps=2.0, realtime=True, store=Path(tmp) / "s")
        eng = StreamEngine(str(clip), settings=settings, alerts=["a person enters the view"], until_s=seconds)
        eng.run()
        delays = list(eng.stats["alert_delays_s"])
        eng.close()
    p95 = pct(delays, 95)
    return [BenchResult("live event-to-alert delay", f"p50 {pct(delays, 50) * 1000:.0f} ms, p95 "
                        f"{p95 * 1000:.0f} ms over {len(delays)} alerts ({seconds:.0f} s of {clip.name} at real-time "
                        "pace; from the frame's decode to the alert's emission)", "p95 <= 1 s",
                        bool(delays) and p95 <= 1.0, {"cmd": f"onlook bench --only delay --clip {clip.name}"})]


def _timed_watch(cmd: list[str], env: dict[str, str]) -> tuple[float, float]:
    """Wall seconds and peak RSS (MB) of one ``onlook watch`` child process run to its end.

    Raises:
        SourceError: the watch failed (its last words say why), as a bad clip would.
    """
    import subprocess

    # stderr to a file, not a pipe: a chatty child must not fill a pipe nobody reads while we wait on it
    with tempfile.TemporaryFile() as err:
        t0 = time.perf_counter()
        proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=err, env=env)
        # wait4 gives this child's own peak RSS (getrusage of all children would keep the largest so far)
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - t0
        proc.returncode = os.waitstatus_to_exitcode(status)
        if proc.returncode != 0:
            err.seek(0)
            said = err.read().decode(errors="replace").strip()[-300:]
            raise SourceError(f"{' '.join(cmd[2:])} exited {proc.returncode}: {said}")
    return wall, usage.ru_maxrss / 1024.0  # Linux reports kB


def bench_process(clip: Path, rounds: int = 3) -> list[BenchResult]:
    """The whole ``onlook watch CLIP --json`` process against real time, start-up included.

    Each round runs the full clip and then a start-up-only run (``--until 0.1``: imports, opening the store
    and the source, loading every default model, the first frame), alternating so that a noisy spell of the
    machine hits both alike. The figure is the median round; the spread says how noisy the machine was.
    """
    import shutil
    import statistics
    import sys

    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}  # a user's install has .pyc
    base = [sys.executable, "-m", "onlook.cli", "watch", str(clip), "--json"]
    full, start, peak = [], [], []
    with tempfile.TemporaryDirectory() as tmp:
        for i in range(rounds):
            for until, into in ((None, full), (0.1, start)):
                store = Path(tmp) / f"s{i}-{until}"
                cmd = [*base, "--store", str(store)] + (["--until", str(until)] if until is not None else [])
                wall, rss = _timed_watch(cmd, env)
                into.append(wall)
                if until is None:
                    peak.append(rss)
                shutil.rmtree(store, ignore_errors=True)
    video_s = _duration_s(clip)
    med, su = statistics.median(full), statistics.median(start)
    rt = video_s / med
    cmd = f"onlook bench --only process --clip {clip.name}"
    return [
        BenchResult("ingest speed, whole process", f"{rt:.1f}x real time: `onlook watch {clip.name} --json` took "
                    f"{med:.2f} s (median of {rounds}; {min(full):.2f}-{max(full):.2f} s) for {video_s:.1f} s of "
                    f"video, start-up included; start-up alone (`--until 0.1`) {su:.2f} s "
                    f"({min(start):.2f}-{max(start):.2f} s), so {video_s / max(med - su, 1e-6):.1f}x after "
                    f"start-up; peak RSS {statistics.median(peak):.0f} MB", ">= 20x", rt >= 20,
                    {"cmd": cmd, "full_s": full, "startup_s": start, "peak_rss_mb": peak, "video_s": video_s}),
    ]


def _duration_s(clip: Path) -> float:
    """The clip's length in seconds, from its frame count and rate."""
    import cv2

    cap = cv2.VideoCapture(str(clip))
    try:
        n, fps = cap.get(cv2.CAP_PROP_FRAME_COUNT), cap.get(cv2.CAP_PROP_FPS)
    finally:
        cap.release()
    if n <= 0 or fps <= 0:
        raise SourceError(f"{clip}: cannot read its length (no frame count or rate)")
    return n / fps
