"""Fault injection that runs longer than CI allows: a live producer that flaps.

:class:`LiveProducer` is ``ffmpeg`` sending a test pattern as MPEG-TS over
loopback TCP (it listens, onlook connects), which can be killed and started
again like a camera that reboots. :func:`flap` watches it with a real
:class:`~onlook.engine.StreamEngine` and a store while it goes down and up
``cycles`` times, and reports what a deployment cares about: frames received,
outages made vs gaps stored (each open while it lasted, closed after), and how
long after the producer came back the first frame got through.

Run it as ``python -m benchmarks.faults flap --cycles 5`` (from the repository root) (one line of JSON), or
through :func:`bench_flap` as rows for ``BENCHMARKS.md``. Loopback only; every
wait is bounded.
"""

from __future__ import annotations

import argparse
import json
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from benchmarks.faults_kill import kill_rounds, summarize
from benchmarks.results import BenchResult
from onlook.config import Settings
from onlook.errors import ConfigError

__all__ = ["DiskFillRound", "FlapReport", "LiveProducer", "bench_faults", "bench_flap", "disk_fill", "flap"]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class LiveProducer:
    """``ffmpeg -re`` sending a moving test pattern as MPEG-TS to whoever connects to ``uri``.

    It listens on a loopback TCP port and serves one client; stop it and start
    it again to make an outage (the port refuses connections in between).

    Args:
        port: Loopback port to listen on (default: a free one).
        size: Picture size, ``(width, height)``.
        fps: Frame rate.

    Raises:
        ConfigError: ``ffmpeg`` is not on PATH.

    Example:
        >>> with LiveProducer() as cam:  # doctest: +SKIP
        ...     cam.start(); ...; cam.stop(); ...; cam.start()
    """

    def __init__(self, port: int | None = None, *, size: tuple[int, int] = (160, 120), fps: int = 10) -> None:
        ffmpeg = shutil.which("ffmpeg")
        if ffmpeg is None:
            raise ConfigError("ffmpeg is not on PATH (needed to produce a live stream)")
        self.ffmpeg = ffmpeg
        self.port = port or _free_port()
        self.size = size
        self.fps = fps
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def uri(self) -> str:
        """What a consumer opens."""
        return f"tcp://127.0.0.1:{self.port}"

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def start(self) -> None:
        """Start sending (listening until a client connects); no-op when running."""
        if self.running:
            return
        w, h = self.size
        self.proc = subprocess.Popen(
            [self.ffmpeg, "-nostdin", "-loglevel", "error", "-re",
             "-f", "lavfi", "-i", f"testsrc2=size={w}x{h}:rate={self.fps}",
             "-c:v", "libx264", "-preset", "ultrafast", "-tune", "zerolatency", "-g", str(self.fps),
             "-f", "mpegts", f"{self.uri}?listen=1"],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def stop(self) -> None:
        """Kill it, as a camera losing power would go (no goodbye to the client)."""
        if self.proc is not None:
            if self.proc.poll() is None:
                self.proc.kill()
            self.proc.wait(10)
            self.proc = None

    def __enter__(self) -> LiveProducer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


@dataclass
class FlapReport:
    """What :func:`flap` saw.

    Attributes:
        cycles: Outages made (the producer killed, then started again).
        down_s: How long the producer was down in each cycle.
        frames_decoded: Frames the engine received over the whole run.
        gaps_stored: Gaps in the store at the end (outages, plus any the
            engine saw that were not made here).
        gaps_closed: Of those, closed (frames came back after them).
        open_while_down: Cycles in which the store held the outage's gap
            open (``end`` None) while the producer was down.
        reconnect_s: Per cycle, seconds from the producer's restart to the
            first frame after the outage (the gap's ``wall_end``); None when
            no frame came back.
        gap_vs_down_s: Per cycle, the stored gap's wall length minus the
            time the producer was down (positive: the outage began before
            the kill was noticed, or frames came back after a backoff).
        state: How the watch ended (``"ran"``: still running when stopped).
        error: The engine's error, if it failed.
    """

    cycles: int
    down_s: list[float]
    frames_decoded: int = 0
    gaps_stored: int = 0
    gaps_closed: int = 0
    open_while_down: int = 0
    reconnect_s: list[float | None] = field(default_factory=list)
    gap_vs_down_s: list[float | None] = field(default_factory=list)
    state: str = "ran"
    error: str | None = None

    @property
    def ok(self) -> bool:
        """Every outage stored as one gap, open while down and closed after; the watch still running."""
        return (self.error is None and self.gaps_stored == self.cycles and self.gaps_closed == self.cycles
                and self.open_while_down == self.cycles and all(r is not None for r in self.reconnect_s))


def _wait(cond: Callable[[], Any], timeout_s: float, step: float = 0.05) -> Any:
    deadline = time.monotonic() + timeout_s
    while True:
        value = cond()
        if value or time.monotonic() >= deadline:
            return value
        time.sleep(step)


def flap(cycles: int = 5, *, up_s: float = 4.0, down_s: Sequence[float] = (1.0, 3.0, 6.0, 10.0, 20.0),
         settings: Settings | None = None, log: Callable[[str], None] | None = None) -> FlapReport:
    """Watch a producer that goes down and up ``cycles`` times; report what was stored.

    Args:
        cycles: Outages to make.
        up_s: Seconds the producer runs between outages (and before the first).
        down_s: Down time of each cycle, repeated when shorter than ``cycles``.
        settings: Engine settings (default: detectors off, so the figures are
            about the source and the store; reconnect settings as defaults).
        log: Called with one line per cycle.

    Returns:
        A :class:`FlapReport`.
    """
    if cycles < 1 or not down_s:
        raise ConfigError("flap needs at least one cycle and one down time")
    from onlook.engine import StreamEngine

    downs = [float(down_s[i % len(down_s)]) for i in range(cycles)]
    report = FlapReport(cycles=cycles, down_s=downs)
    root = tempfile.mkdtemp(prefix="onlook-flap-")
    base = settings or Settings(detect_people=False, detect_faces=False, detect_text=False, detect_colors=False)
    s = base.model_copy(update={"store": Path(root)})
    with LiveProducer() as cam:
        cam.start()
        engine = StreamEngine(cam.uri, settings=s, stream_id="flap")
        try:
            engine.start()
            if not _wait(lambda: engine.stats["frames_decoded"] > 0 or engine.done.is_set(), 30):
                raise RuntimeError("the producer's first frame did not arrive within 30 s")
            restarts: list[float] = []
            for i, down in enumerate(downs):
                time.sleep(up_s)
                if engine.done.is_set():
                    break
                cam.stop()
                killed = time.time()
                # The outage is noticed at once (the TCP connection ends): its gap must be stored open.
                seen_open = _wait(lambda n=i: _open_gap(engine, n), min(down, 5.0))
                time.sleep(max(0.0, down - (time.time() - killed)))
                report.open_while_down += bool(seen_open and _open_gap(engine, i))
                cam.start()
                restarts.append(time.time())
                closed = _wait(lambda n=i: _closed_gap(engine, n), s.reconnect_backoff_max_s + 30)
                if log is not None:
                    log(f"flap {i + 1}/{cycles}: down {down:g} s, gap open while down: {bool(seen_open)}, "
                        f"back after {closed.wall_end - restarts[-1]:.2f} s" if closed else
                        f"flap {i + 1}/{cycles}: down {down:g} s, no frame came back")
            time.sleep(min(up_s, 2.0))
        finally:
            engine.stop()
            report.frames_decoded = int(engine.stats["frames_decoded"])
            report.state = "ran" if engine.error is None else "failed"
            report.error = None if engine.error is None else str(engine.error)
            gaps = engine.store.gaps()
            engine.close()
            shutil.rmtree(root, ignore_errors=True)
    report.gaps_stored = len(gaps)
    report.gaps_closed = sum(g.end is not None for g in gaps)
    for i, down in enumerate(downs[:len(restarts)]):
        g = gaps[i] if i < len(gaps) else None
        if g is None or g.wall_end is None:
            report.reconnect_s.append(None)
            report.gap_vs_down_s.append(None)
            continue
        report.reconnect_s.append(round(g.wall_end - restarts[i], 3))
        report.gap_vs_down_s.append(round((g.wall_end - g.wall_start) - down, 3))
    report.reconnect_s += [None] * (cycles - len(report.reconnect_s))
    report.gap_vs_down_s += [None] * (cycles - len(report.gap_vs_down_s))
    return report


def _open_gap(engine: Any, i: int) -> bool:
    gaps = engine.store.gaps()
    return len(gaps) > i and gaps[i].end is None


def _closed_gap(engine: Any, i: int) -> Any:
    gaps = engine.store.gaps()
    return gaps[i] if len(gaps) > i and gaps[i].end is not None else None


def bench_flap(cycles: int = 5, **kw: Any) -> list[BenchResult]:
    """:func:`flap` as rows for ``onlook bench``: gaps vs outages, reconnect times."""

    r = flap(cycles, **kw)
    s = kw.get("settings") or Settings()
    back = sorted(x for x in r.reconnect_s if x is not None)
    worst = f"{back[-1]:.2f}" if back else "-"
    median = f"{back[len(back) // 2]:.2f}" if back else "-"
    cmd = "onlook bench --only faults"
    downs = ", ".join(f"{d:g}" for d in r.down_s)
    return [
        BenchResult("faults: flapping producer, gaps", f"{r.gaps_stored} gaps stored ({r.gaps_closed} closed, "
                    f"{r.open_while_down} open while down) for {r.cycles} outages of {downs} s; {r.frames_decoded} "
                    f"frames received (sampled at {s.fps:g} fps); watch {r.state}",
                    "one gap per outage, open while down; the watch rides "
                    "out every outage", r.ok, {"cmd": cmd, "report": asdict(r)}),
        BenchResult("faults: flapping producer, reconnect", f"first frame {median} s (median), {worst} s (worst) "
                    f"after the producer came back (backoff {s.reconnect_backoff_s:g} s doubling to "
                    f"{s.reconnect_backoff_max_s:g} s, jittered; each reopen probes up to 1 s of stream)",
                    "within the backoff reached", None, {"cmd": cmd}),
    ]


@dataclass(frozen=True)
class DiskFillRound:
    """One watch into a store on a disk that fills up, then a second watch once there is room.

    Attributes:
        disk: Size of the tmpfs the store lives on (``"3m"``).
        exit_full: Exit code of the watch that hit the full disk (target 1).
        stderr_lines: Lines it wrote to stderr (target 1: one clear line).
        traceback: Whether stderr held a Python traceback (target False).
        message: Its last stderr line.
        events_after_full: Events readable from the store right after.
        check_problems: What ``store check`` found besides orphan keyframes (target none).
        exit_resumed: Exit code of the watch that carried on once the disk had room (target 0).
        events_after_resume: Events readable after it (target >= ``events_after_full``).
        resume_s: How long that second watch took, start to exit.
    """

    disk: str
    exit_full: int
    stderr_lines: int
    traceback: bool
    message: str
    events_after_full: int
    check_problems: tuple[str, ...]
    exit_resumed: int | None
    events_after_resume: int | None
    resume_s: float | None

    @property
    def ok(self) -> bool:
        return (self.exit_full == 1 and self.stderr_lines == 1 and not self.traceback and not self.check_problems
                and self.exit_resumed == 0 and (self.events_after_resume or 0) >= self.events_after_full)


def _mount(path: Path, size: str, remount: bool = False) -> str | None:
    """Mount (or resize) a tmpfs at ``path``; the reason it could not, or None."""
    opts = f"remount,size={size}" if remount else f"size={size}"
    try:
        r = subprocess.run(["mount", "-t", "tmpfs", "-o", opts, "tmpfs", str(path)], capture_output=True,
                           text=True, timeout=20)
    except (OSError, subprocess.TimeoutExpired) as e:
        return str(e)
    return None if r.returncode == 0 else (r.stderr.strip() or f"mount exited {r.returncode}")


def _events(store: Path) -> int:
    from onlook.memory.store import Store

    st = Store(store, readonly=True)
    try:
        return len(st.events())
    finally:
        st.close()


def disk_fill(clip: str | Path, sizes: Sequence[str] = ("1m", "2m", "4m"), *, timeout_s: float = 300.0,
              watch_args: Sequence[str] = ("--no-ocr", "--fps", "4")) -> list[DiskFillRound]:
    """Watch ``clip`` into a store on a tmpfs of each size until the disk is full, then again with room.

    Needs root (it mounts tmpfs); every wait is bounded by ``timeout_s``.

    Raises:
        PermissionError: a tmpfs could not be mounted (not root, or no mount in this container).
    """
    from onlook.memory.check import check_store

    out: list[DiskFillRound] = []
    cmd = [sys.executable, "-m", "onlook.cli", "watch", str(clip), "--json", *watch_args]
    with tempfile.TemporaryDirectory(prefix="onlook-diskfill-") as tmp:
        for size in sizes:
            mnt = Path(tmp) / f"disk-{size}"
            mnt.mkdir()
            why = _mount(mnt, size)
            if why is not None:
                raise PermissionError(f"cannot mount a {size} tmpfs: {why}")
            try:
                store = mnt / "store"
                full = subprocess.run([*cmd, "--store", str(store)], capture_output=True, text=True,
                                      timeout=timeout_s)
                err = [ln for ln in full.stderr.splitlines() if ln.strip()]
                events = _events(store)
                report = check_store(store, orphan_min_age_s=0.0)
                problems = tuple(f.message for f in report.problems if f.kind.value != "orphan_keyframes")
                exit_resumed = events_resumed = resume_s = None
                if _mount(mnt, "256m", remount=True) is None:
                    t0 = time.monotonic()
                    again = subprocess.run([*cmd, "--store", str(store), "--until", "20"], capture_output=True,
                                           text=True, timeout=timeout_s)
                    resume_s = round(time.monotonic() - t0, 2)
                    exit_resumed = again.returncode
                    events_resumed = _events(store)
                out.append(DiskFillRound(size, full.returncode, len(err), "Traceback" in full.stderr,
                                         err[-1] if err else "", events, problems, exit_resumed, events_resumed,
                                         resume_s))
            finally:
                subprocess.run(["umount", "-l", str(mnt)], capture_output=True, timeout=20)
    return out


def bench_faults(clip: Path, *, kill_rounds_n: int = 5) -> list[BenchResult]:
    """The fault-injection rows of ``onlook bench --only faults``: kill -9, a flapping producer, a filling disk."""

    cmd = "onlook bench --only faults"
    rows: list[BenchResult] = []
    with tempfile.TemporaryDirectory(prefix="onlook-kill-") as tmp:
        s = summarize(kill_rounds(clip, Path(tmp) / "store", kill_rounds_n, watch_args=("--no-ocr",)))
    rows.append(BenchResult(
        "faults: kill -9 of a watcher at random moments",
        f"{s['rows_lost']} of {s['rows_committed']} committed rows lost over {s['rounds']} kills "
        f"({s['printed_lost']} printed events/alerts missing; {s['rounds_failed']} rounds failed); reopen "
        f"{s['reopen_s_median'] * 1000:.0f} ms median ({s['reopen_s_max'] * 1000:.0f} ms worst), next watcher to its "
        f"first status {s['startup_s_median']} s median; store check after: "
        f"{'; '.join(s['problems']) or 'no problem'} ({s['orphans_after_last']} orphan keyframes) - {clip.name}, "
        "--realtime, killed 2-8 s in",
        "0 rows lost", s["rows_lost"] == 0 and s["printed_lost"] == 0 and not s["rounds_failed"],
        {"cmd": cmd, "summary": s}))
    rows.extend(bench_flap())
    try:
        disk = disk_fill(clip)
    except PermissionError as e:
        rows.append(BenchResult("faults: disk filling up", f"not measured: {e}", "-", None, {"cmd": cmd}))
        return rows
    parts = [f"{r.disk}: exit {r.exit_full}, {r.stderr_lines} line "
             f"({'traceback!' if r.traceback else 'no traceback'}), "
             f"{r.events_after_full} events readable, check {'; '.join(r.check_problems) or 'clean'}, with room "
             f"again exit {r.exit_resumed} and {r.events_after_resume} events ({r.resume_s} s)" for r in disk]
    rows.append(BenchResult(
        "faults: disk filling up (store on a small tmpfs)",
        "; ".join(parts) + f" - {clip.name} at 4 fps, OCR off; e.g. \"{disk[0].message}\"",
        "one clear line and exit 1; what was stored readable; carries on once there is room",
        all(r.ok for r in disk), {"cmd": cmd, "rounds": [asdict(r) for r in disk]}))
    return rows


def main(argv: list[str] | None = None) -> int:
    """``python -m benchmarks.faults flap [--cycles N] [--up S] [--down S,S,...]``: one line of JSON."""
    p = argparse.ArgumentParser(prog="python -m benchmarks.faults", description=__doc__.splitlines()[0])
    sub = p.add_subparsers(dest="cmd", required=True)
    f = sub.add_parser("flap", help="a live producer going down and up N times")
    f.add_argument("--cycles", type=int, default=5)
    f.add_argument("--up", type=float, default=4.0, help="seconds up between outages")
    f.add_argument("--down", default="1,3,6,10,20", help="seconds down per cycle, comma separated")
    f.add_argument("--backoff-max", type=float, default=None, help="largest reconnect delay (default: settings)")
    a = p.parse_args(argv)
    try:
        downs = [float(x) for x in a.down.split(",") if x.strip()]
        s = Settings(detect_people=False, detect_faces=False, detect_text=False, detect_colors=False)
        if a.backoff_max is not None:
            s = s.model_copy(update={"reconnect_backoff_max_s": a.backoff_max})
        report = flap(a.cycles, up_s=a.up, down_s=downs, settings=s,
                      log=lambda line: print(line, flush=True, file=sys.stderr))
    except (ConfigError, ValueError) as e:
        print(f"benchmarks.faults: {e}", file=sys.stderr)
        return 2
    print(json.dumps({**asdict(report), "ok": report.ok}))
    return 0 if report.ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
