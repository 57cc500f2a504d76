"""``onlook eval-alerts``: standing alert queries scored against ground-truth times."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from onlook.config import Settings
from onlook.engine import StreamEngine
from onlook.errors import OnlookError, QueryError, UnsupportedQuery
from onlook.eval.protocol import find_video
from onlook.eval.scoring import match_alerts

__all__ = ["AlertCase", "AlertResult", "load_alert_cases", "run_alert_eval", "summarize_alerts"]


@dataclass(frozen=True, slots=True)
class AlertCase:
    """One standing query on one video and the times it should fire."""

    video: str
    query: str
    gt_times: tuple[float, ...]
    tolerance_s: float = 0.5


@dataclass
class AlertResult:
    case: AlertCase
    fired: list[float] = field(default_factory=list)
    refused: str | None = None
    error: str | None = None
    metrics: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"video": self.case.video, "query": self.case.query, "gt_times": list(self.case.gt_times),
                "fired": [round(t, 3) for t in self.fired], "refused": self.refused, "error": self.error,
                **{k: v for k, v in self.metrics.items()}}


def load_alert_cases(path: str | Path) -> list[AlertCase]:
    """Read an ``alerts.json`` file (see ``../shared/eval/README.md``).

    Raises:
        QueryError: the file is not JSON or an entry lacks a field.
    """
    p = Path(path)
    try:
        data = json.loads(p.read_text())
    except FileNotFoundError:
        raise QueryError(f"{p}: no such file") from None
    except (OSError, json.JSONDecodeError) as e:
        raise QueryError(f"{p}: not a JSON alerts file ({e})") from None
    if not isinstance(data, list):
        raise QueryError(f"{p}: expected a JSON list of alert cases")
    out = []
    for i, d in enumerate(data):
        try:
            out.append(AlertCase(str(d["video"]), str(d["query"]), tuple(float(t) for t in d["gt_times"]),
                                 float(d.get("tolerance_s", 0.5))))
        except (KeyError, TypeError, ValueError) as e:
            raise QueryError(f"{p}: entry {i}: missing or bad field ({e})") from None
    return out


def run_alert_eval(cases: list[AlertCase], footage: Path, *, settings: Settings | None = None,
                   on_result: Callable[[AlertResult], None] | None = None) -> list[AlertResult]:
    """Stream each case's video once (accelerated) with its query registered from the start."""
    settings = settings or Settings()
    results = []
    for case in cases:
        res = AlertResult(case)
        path = find_video(footage, case.video)
        if path is None:
            res.error = f"video {case.video!r} not found under {footage}"
        else:
            try:
                eng = StreamEngine(str(path), settings=settings, stream_id="eval-alerts")
            except OnlookError as e:
                res.error = str(e)
                eng = None
            if eng is not None:
                try:
                    eng.add_alert(case.query)
                except UnsupportedQuery as e:
                    res.refused = str(e)
                if res.refused is None:
                    eng.subscribe(lambda m, r=res: r.fired.append(m["t"]) if m["type"] == "alert" else None)
                    try:
                        eng.run()
                    except OnlookError as e:
                        res.error = str(e)
                eng.close()
        res.metrics = match_alerts(list(case.gt_times), res.fired, before_s=case.tolerance_s)
        results.append(res)
        if on_result:
            on_result(res)
    return results


def summarize_alerts(results: list[AlertResult]) -> dict[str, Any]:
    """Micro-averaged precision/recall/F1 and delays over all cases; refused cases count as missed."""
    hits = sum(r.metrics["hits"] for r in results)
    fired = sum(r.metrics["fired"] for r in results)
    gt = sum(r.metrics["gt"] for r in results)
    precision = hits / fired if fired else (1.0 if not gt else 0.0)
    recall = hits / gt if gt else 1.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    delays = []
    for r in results:
        used = set()
        for g in r.case.gt_times:
            for i, f in enumerate(sorted(r.fired)):
                if i not in used and g - r.case.tolerance_s <= f <= g + 2.0:
                    used.add(i)
                    delays.append(max(0.0, f - g))
                    break
    accepted = [r for r in results if r.refused is None and r.error is None]
    sub = {"hits": sum(r.metrics["hits"] for r in accepted), "fired": sum(r.metrics["fired"] for r in accepted),
           "gt": sum(r.metrics["gt"] for r in accepted)}
    sp = sub["hits"] / sub["fired"] if sub["fired"] else 1.0
    sr = sub["hits"] / sub["gt"] if sub["gt"] else 1.0
    return {"precision": precision, "recall": recall, "f1": f1,
            "delay_p50_s": float(np.percentile(delays, 50)) if delays else None,
            "delay_p95_s": float(np.percentile(delays, 95)) if delays else None,
            "cases": len(results), "refused": sum(r.refused is not None for r in results),
            "errors": sum(r.error is not None for r in results),
            "accepted_queries": {"precision": sp, "recall": sr,
                                 "f1": 2 * sp * sr / (sp + sr) if sp + sr else 0.0, **sub}}
