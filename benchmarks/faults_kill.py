"""Fault injection: kill -9 a watcher at random moments and count what its store lost.

Each round runs ``onlook watch CLIP --store DIR --json --realtime`` in a child
process, waits a random time after its first status line, and kills it with
SIGKILL. Just before the kill a reader notes every row the store has committed
(the row ids of its tables); after it, the store is reopened for writing (which
replays SQLite's WAL) and every one of those rows must still be there, as must
every event and alert the watcher printed (it prints them after their commit).
The next round watches into the same store, which carries on. Reported per
round: rows committed and lost (the target is 0), how long reopening took,
how long the next watcher took to its first status line, and what
``onlook store check`` finds (an orphan keyframe, written just before a row
the kill prevented, is expected; a missing one is not).

Run it longer than CI allows::

    python -m benchmarks.faults_kill ../shared/footage/vtest.avi --rounds 20 --json   # from the repository root

The budget is set far above what a round writes, so no row leaves by eviction
and every missing row is a lost one.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from onlook.memory.check import check_store
from onlook.memory.store import Store

__all__ = ["KillRound", "kill_rounds", "summarize", "main"]

_TABLES = ("frames", "events", "sightings", "alerts", "gaps", "alert_queries")


@dataclass(frozen=True)
class KillRound:
    """What one kill did to the store.

    Attributes:
        round: Its number, from 1.
        killed_after_s: Seconds between the watcher's first status line and the kill.
        rows_committed: Rows a reader saw committed just before the kill (all tables).
        rows_lost: Of those, rows missing once the store was reopened.
        printed_lost: Events and alerts the watcher printed that are missing.
        reopen_s: Seconds to reopen the store for writing after the kill (WAL recovery).
        startup_s: Seconds from starting this round's watcher to its first status line.
        orphans: Keyframe files no row names after the kill.
        problems: What ``onlook store check`` found besides orphans.
        error: Why the round could not run as planned (the watcher ended first, ...).
    """

    round: int
    killed_after_s: float
    rows_committed: int
    rows_lost: int
    printed_lost: int
    reopen_s: float
    startup_s: float | None
    orphans: int
    problems: tuple[str, ...] = ()
    error: str = ""
    lost_by_table: dict[str, int] = field(default_factory=dict)


def _committed(db: Path) -> dict[str, set[int]]:
    """Row ids of every table, as a reader sees them now."""
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5.0)
    try:
        out = {}
        names = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        for table in _TABLES:
            if table in names:
                out[table] = {r[0] for r in conn.execute(f"SELECT rowid FROM {table}")}
        return out
    finally:
        conn.close()


class _Lines:
    """A child's stdout, read on a thread into (arrival time, parsed JSON) pairs."""

    def __init__(self, proc: subprocess.Popen) -> None:
        self.items: list[tuple[float, dict[str, Any]]] = []
        self.first_status = threading.Event()
        self._thread = threading.Thread(target=self._read, args=(proc,), daemon=True)
        self._thread.start()

    def _read(self, proc: subprocess.Popen) -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            try:
                obj = json.loads(line)
            except ValueError:
                continue
            self.items.append((time.monotonic(), obj))
            if obj.get("type") == "status":
                self.first_status.set()

    def join(self, timeout: float) -> None:
        self._thread.join(timeout)


def _printed_missing(store: Path, printed: list[dict[str, Any]]) -> int:
    """Printed events and alerts that the store does not hold."""
    with Store(store, readonly=True) as s:
        spans = {(round(e.start, 3), round(e.end, 3)) for e in s.events()}
        alerts = {(a.query, round(a.t, 3)) for a in s.alerts()}
    missing = 0
    for o in printed:
        if o.get("type") == "event" and o.get("kind") == "segment":
            missing += (round(o["start"], 3), round(o["end"], 3)) not in spans
        elif o.get("type") == "alert":
            missing += (o["query"], round(o["t"], 3)) not in alerts
    return missing


def kill_rounds(clip: str | os.PathLike[str], store: str | os.PathLike[str], rounds: int = 5, *,
                min_s: float = 2.0, max_s: float = 8.0, seed: int | None = None,
                watch_args: Sequence[str] = (), start_timeout_s: float = 120.0,
                on_round: Any = None) -> list[KillRound]:
    """Kill -9 a watcher of ``clip`` into ``store`` ``rounds`` times; see the module docstring.

    Args:
        clip: The video to watch (``--realtime``, so it behaves like a live stream).
        store: The store folder (created; carried on from round to round).
        rounds: How many kills.
        min_s: Earliest kill, seconds after the watcher's first status line.
        max_s: Latest kill.
        seed: For the random moments (None: a different run each time).
        watch_args: More ``onlook watch`` options (``--no-ocr``, ``--fps 4``...).
        start_timeout_s: How long a watcher may take to its first status line.
        on_round: Called with each :class:`KillRound` as it is measured.

    Returns:
        One :class:`KillRound` per kill.
    """
    rng = random.Random(seed)
    store = Path(store)
    db = store / "onlook.db"
    out: list[KillRound] = []
    cmd = [sys.executable, "-m", "onlook.cli", "watch", str(clip), "--store", str(store), "--json", "--realtime",
           "--budget", "100GB", *watch_args]
    for i in range(1, rounds + 1):
        delay = rng.uniform(min_s, max_s)
        started = time.monotonic()
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        lines = _Lines(proc)
        error = ""
        startup_s = None
        try:
            wait_until = time.monotonic() + start_timeout_s
            while not lines.first_status.wait(0.1) and proc.poll() is None and time.monotonic() < wait_until:
                pass
            if lines.first_status.is_set():
                startup_s = next(t for t, o in lines.items if o.get("type") == "status") - started
                deadline = time.monotonic() + delay
                while time.monotonic() < deadline and proc.poll() is None:
                    time.sleep(min(0.05, max(0.0, deadline - time.monotonic())))
            else:
                error = f"no status line within {start_timeout_s:g} s"
        except BaseException:  # interrupted: leave no watcher behind
            proc.kill()
            proc.wait(30)
            raise
        if proc.poll() is not None:
            error = error or f"the watcher ended by itself (exit {proc.returncode}) before the kill"
        before: dict[str, set[int]] = {}
        if db.is_file():
            before = _committed(db)
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGKILL)
        killed_after = time.monotonic() - started - (startup_s or 0.0)
        proc.wait(30)
        lines.join(10)
        if proc.stderr is not None:
            stderr = proc.stderr.read()
            proc.stderr.close()
            if error and stderr.strip():
                error += f": {stderr.strip().splitlines()[-1]}"
        t0 = time.monotonic()
        Store(store).close()  # a writer's open: replays the WAL the kill left
        reopen_s = time.monotonic() - t0
        after = _committed(db)
        lost = {t: len(ids - after.get(t, set())) for t, ids in before.items()}
        printed = [o for _, o in lines.items]
        report = check_store(store, orphan_min_age_s=0.0)
        orphans = sum(f.count for f in report.problems if f.kind.value == "orphan_keyframes")
        problems = tuple(f.message for f in report.problems if f.kind.value != "orphan_keyframes")
        r = KillRound(i, round(killed_after, 3), sum(len(v) for v in before.values()), sum(lost.values()),
                      _printed_missing(store, printed), round(reopen_s, 4),
                      round(startup_s, 3) if startup_s is not None else None, orphans, problems, error,
                      {t: n for t, n in lost.items() if n})
        out.append(r)
        if on_round is not None:
            on_round(r)
    return out


def summarize(rounds: Sequence[KillRound]) -> dict[str, Any]:
    """Totals and medians over the rounds (``rows_committed``: what the store held at the last kill)."""
    reopen = [r.reopen_s for r in rounds]
    startup = [r.startup_s for r in rounds if r.startup_s is not None]
    return {"type": "faults_kill", "rounds": len(rounds),
            "rounds_failed": sum(1 for r in rounds if r.error),
            "rows_committed": rounds[-1].rows_committed if rounds else 0,
            "rows_lost": sum(r.rows_lost for r in rounds), "printed_lost": sum(r.printed_lost for r in rounds),
            "reopen_s_median": round(statistics.median(reopen), 4) if reopen else None,
            "reopen_s_max": round(max(reopen), 4) if reopen else None,
            "startup_s_median": round(statistics.median(startup), 3) if startup else None,
            "startup_s_max": round(max(startup), 3) if startup else None,
            "orphans_after_last": rounds[-1].orphans if rounds else 0,
            "problems": sorted({p for r in rounds for p in r.problems})}


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m benchmarks.faults_kill CLIP [--rounds N] [--store DIR] [--json]``.

    Exits 1 if a committed row was lost.
    """
    ap = argparse.ArgumentParser(prog="python -m benchmarks.faults_kill", description=__doc__.split("\n\n")[0])
    ap.add_argument("clip", help="video to watch (in real time)")
    ap.add_argument("--rounds", type=int, default=5, help="how many kills (default 5)")
    ap.add_argument("--store", type=Path, help="store folder (default: a temporary one)")
    ap.add_argument("--min-s", type=float, default=2.0, help="earliest kill after the first status line")
    ap.add_argument("--max-s", type=float, default=8.0, help="latest kill after the first status line")
    ap.add_argument("--seed", type=int, help="seed of the random moments")
    ap.add_argument("--json", action="store_true", help="one JSON object per round, then the summary")
    ap.epilog = "Options after -- go to onlook watch (e.g. -- --no-ocr --fps 4)."
    argv = list(sys.argv[1:] if argv is None else argv)
    extra = argv[argv.index("--") + 1:] if "--" in argv else []
    a = ap.parse_args(argv[: argv.index("--")] if "--" in argv else argv)
    if not Path(a.clip).is_file():
        print(f"error: no such file '{a.clip}'", file=sys.stderr)
        return 2

    def show(r: KillRound) -> None:
        if a.json:
            print(json.dumps(asdict(r)), flush=True)
        else:
            print(f"round {r.round}: killed {r.killed_after_s:.1f} s in, {r.rows_committed} rows committed, "
                  f"{r.rows_lost} lost, {r.printed_lost} printed lost, reopen {r.reopen_s * 1000:.0f} ms, "
                  f"startup {r.startup_s} s, {r.orphans} orphans" + (f"; {r.error}" if r.error else "")
                  + ("; " + "; ".join(r.problems) if r.problems else ""), flush=True)

    with tempfile.TemporaryDirectory(prefix="onlook-kill-") as tmp:
        rounds = kill_rounds(a.clip, a.store or Path(tmp) / "store", a.rounds, min_s=a.min_s, max_s=a.max_s,
                             seed=a.seed, watch_args=extra, on_round=show)
    s = summarize(rounds)
    print(json.dumps(s) if a.json else
          f"{s['rounds']} kills: {s['rows_lost']} committed rows lost of {s['rows_committed']}, "
          f"{s['printed_lost']} printed rows lost; reopen median {s['reopen_s_median']} s (max {s['reopen_s_max']}); "
          f"startup median {s['startup_s_median']} s; {s['orphans_after_last']} orphan keyframes"
          + (f"; problems: {'; '.join(s['problems'])}" if s["problems"] else ""))
    return 1 if s["rows_lost"] or s["printed_lost"] or s["rounds_failed"] else 0


if __name__ == "__main__":
    sys.exit(main())
