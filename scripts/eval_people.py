#!/usr/bin/env python
"""Score onlook's people tracker on the real clips.

Decodes a clip with PyAV, samples it at the given rates, feeds the frames (at
the analysis width) to :class:`onlook.perception.people.PeopleTracker` and
scores its ``enter`` events against the "a person enters the view" times in
``eval/alerts.json`` with the rule of ``eval/README.md``: a hit fires no more
than 0.5 s before and at most 2 s after a ground-truth time, and each time is
hit once. The tracker's ``count`` is checked against the ``count`` questions
of ``eval/questions.json`` for the clip. The other clips (a moving-camera
montage and a table top without people) show whether it invents people.

Usage::

    python scripts/eval_people.py                 # vtest.avi at 2 and 4 fps
    python scripts/eval_people.py --fps 2 -v      # list every event
    python scripts/eval_people.py --gate          # pass a tile change mask too
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
import sys
import time
from pathlib import Path

import av
import cv2
import numpy as np

from onlook.footage import find_clip
from onlook.perception.people import PeopleTracker

ROOT = Path(__file__).resolve().parents[1]
EVAL_DIR = ROOT.parent / "shared" / "eval"
ENTER_QUERY = "a person enters the view"


def sample(path: Path, fps: float, width: int):
    """Yield ``(t, bgr)`` at ``fps`` (the first frame at or after each tick), ``width`` wide."""
    with av.open(str(path)) as c:
        stream = c.streams.video[0]
        tb = stream.time_base
        step, nxt, idx = 1.0 / fps, 0.0, 0
        rate = float(stream.average_rate or 25)
        for frame in c.decode(stream):
            t = float(frame.pts * tb) if frame.pts is not None else idx / rate
            idx += 1
            if t + 1e-6 < nxt:
                continue
            while nxt <= t + 1e-6:
                nxt += step
            img = frame.to_ndarray(format="bgr24")
            h, w = img.shape[:2]
            if w > width:
                img = cv2.resize(img, (width, int(round(h * width / w))), interpolation=cv2.INTER_AREA)
            yield t, img


class TileGate:
    """A stand-in for the pipeline's change gate: tiles whose mean grey changed."""

    def __init__(self, tile: int = 32, threshold: float = 12.0) -> None:
        self.tile, self.threshold, self.prev = tile, threshold, None

    def __call__(self, img: np.ndarray) -> np.ndarray | None:
        g = cv2.cvtColor(img, cv2.COLOR_BGR2GRAY).astype(np.float32)
        prev, self.prev = self.prev, g
        if prev is None:
            return None
        h, w = g.shape
        th, tw = max(1, h // self.tile), max(1, w // self.tile)
        d = cv2.resize(np.abs(g - prev), (tw, th), interpolation=cv2.INTER_AREA)
        return d > self.threshold


def score(preds: list[float], gts: list[float], before: float = 0.5, after: float = 2.0):
    """Match predicted alert times to ground truth (each hit once); return hits as (gt, pred)."""
    gts_left = sorted(gts)
    hits = []
    for p in sorted(preds):
        # Earliest-deadline first is optimal for equal-length windows.
        for g in gts_left:
            if g - before <= p <= g + after:
                hits.append((g, p))
                gts_left.remove(g)
                break
    return hits


def count_question_kind(text: str) -> tuple[str, str | None]:
    """``("entries", edge)`` for questions counting arrivals, else ``("visible", None)``."""
    low = text.lower()
    if re.search(r"\b(walked|came|come|entered|enter|arrived)\b.*\b(into|in|through)\b", low):
        m = re.search(r"\b(left|right|top|bottom)\b edge", low)
        return "entries", m.group(1) if m else None
    return "visible", None


def run(path: Path, fps: float, width: int, *, gate: bool, verbose: bool):
    tracker = PeopleTracker(fps=fps)
    tiles = TileGate() if gate else None
    counts, events, costs, fractions = [], [], [], []
    for t, img in sample(path, fps, width):
        changed = tiles(img) if tiles else None
        t0 = time.perf_counter()
        res = tracker.update(img, t, changed=changed)
        costs.append((time.perf_counter() - t0) * 1000)
        fractions.append(tracker.work_fraction)
        counts.append((t, res.count))
        for e in res.events:
            events.append(e)
            if verbose:
                print(f"  {e.t:6.1f} {e.kind:5s} #{e.track_id:<3d} {e.attrs.get('edge', ''):6s} "
                      f"box={tuple(round(v, 2) for v in e.box or ())}")
    return counts, events, costs, fractions


def report_vtest(path: Path, eval_dir: Path, fps: float, width: int, gate: bool, verbose: bool) -> dict:
    video = path.name
    alerts = json.loads((eval_dir / "alerts.json").read_text())
    gts = next(a["gt_times"] for a in alerts if a["video"] == video and a["query"] == ENTER_QUERY)
    questions = [q for q in json.loads((eval_dir / "questions.json").read_text())
                 if q["video"] == video and q["type"] == "count"]
    counts, events, costs, fractions = run(path, fps, width, gate=gate, verbose=verbose)
    enters = [e.t for e in events if e.kind == "enter"]
    hits = score(enters, gts)
    tp = len(hits)
    p = tp / len(enters) if enters else 0.0
    r = tp / len(gts)
    f1 = 2 * p * r / (p + r) if p + r else 0.0
    delays = [pr - g for g, pr in hits]
    exact = within1 = 0
    lines = []
    for q in questions:
        kind, edge = count_question_kind(q["question"])
        if kind == "entries":
            got = sum(1 for e in events if e.kind == "enter" and e.t <= q["time_s"]
                      and (edge is None or e.attrs.get("edge") == edge))
        else:
            got = next((c for t, c in reversed(counts) if t <= q["time_s"] + 1e-6), 0)
        exact += got == q["answer"]
        within1 += abs(got - q["answer"]) <= 1
        lines.append(f"    {q['id']} @ {q['time_s']:.0f}s {kind:8s} truth {q['answer']} got {got}")
    missed = sorted(set(gts) - {g for g, _ in hits})
    false = sorted(set(enters) - {pr for _, pr in hits})
    out = {"fps": fps, "P": p, "R": r, "F1": f1, "tp": tp, "n_pred": len(enters), "n_gt": len(gts),
           "delay_p50": float(np.percentile(delays, 50)) if delays else float("nan"),
           "delay_p95": float(np.percentile(delays, 95)) if delays else float("nan"),
           "count_exact": exact, "count_within1": within1, "n_count": len(questions),
           "ms_mean": statistics.fmean(costs), "ms_p95": float(np.percentile(costs, 95)),
           "work_fraction": statistics.fmean(fractions),
           "exits": sum(e.kind == "exit" for e in events)}
    print(f"vtest.avi @ {fps:g} fps: P {p:.2f} R {r:.2f} F1 {f1:.2f} ({tp}/{len(gts)} hit, "
          f"{len(enters)} enters, {out['exits']} exits)  delay p50 {out['delay_p50']:.2f}s "
          f"p95 {out['delay_p95']:.2f}s")
    print(f"  count questions: exact {exact}/{len(questions)}, within 1 {within1}/{len(questions)}")
    for line in lines:
        print(line)
    print(f"  missed gt: {missed}")
    print(f"  false enters: {[round(x, 1) for x in false]}")
    print(f"  cost: {out['ms_mean']:.2f} ms/update mean, p95 {out['ms_p95']:.2f} ms; "
          f"HOG on {100 * out['work_fraction']:.1f}% of the image on average")
    return out


def report_other(path: Path, fps: float, width: int, gate: bool) -> dict:
    video = path.name
    counts, events, costs, _ = run(path, fps, width, gate=gate, verbose=False)
    n_enter = sum(e.kind == "enter" for e in events)
    cs = [c for _, c in counts]
    print(f"{video} @ {fps:g} fps: {n_enter} enters, {sum(e.kind == 'exit' for e in events)} exits, "
          f"count mean {statistics.fmean(cs):.2f} max {max(cs)}; "
          f"{statistics.fmean(costs):.2f} ms/update")
    return {"video": video, "enters": n_enter, "count_max": max(cs)}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--fps", type=float, nargs="+", default=[2.0, 4.0])
    ap.add_argument("--width", type=int, default=640, help="analysis width (the pipeline's)")
    ap.add_argument("--gate", action="store_true", help="pass a 32-px tile change mask")
    ap.add_argument("--no-others", action="store_true", help="skip bikes.mp4 and box.mp4")
    ap.add_argument("-v", "--verbose", action="store_true", help="print every event")
    ap.add_argument("--eval-dir", type=Path, default=EVAL_DIR, help="folder of alerts.json, questions.json")
    ap.add_argument("--json", type=Path, help="also write the numbers here")
    args = ap.parse_args(argv)
    vtest = find_clip("vtest.avi")
    if vtest is None or not (args.eval_dir / "alerts.json").is_file():
        print("vtest.avi or eval/alerts.json not found (set ONLOOK_FOOTAGE, --eval-dir)", file=sys.stderr)
        return 2
    results = [report_vtest(vtest, args.eval_dir, f, args.width, args.gate, args.verbose) for f in args.fps]
    if not args.no_others:
        for video in ("bikes.mp4", "box.mp4"):
            if (path := find_clip(video)) is not None:
                results.append(report_other(path, args.fps[0], args.width, args.gate))
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
