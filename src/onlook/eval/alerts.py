"""``onlook eval-alerts``: standing alert queries scored against ground-truth times.

The file format is in ``docs/eval-format.md``. Each case is scored with :func:`~onlook.eval.scoring.match_alerts`;
:func:`summarize_alerts` micro-averages over all cases, over the perceivable ones (every ``need`` declared
by the engine) and per need label.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from onlook.config import Settings
from onlook.engine import StreamEngine
from onlook.errors import OnlookError, QueryError, UnsupportedQuery
from onlook.eval.loaders import parse_needs
from onlook.eval.protocol import find_video
from onlook.eval.scoring import is_perceivable, match_alerts
from onlook.types import Capability

__all__ = ["AlertCase", "AlertResult", "load_alert_cases", "run_alert_eval", "summarize_alerts"]


@dataclass(frozen=True, slots=True)
class AlertCase:
    """One standing query on one video and the times it should fire.

    Attributes:
        video: File name of the video under the footage folder.
        query: The standing query, in the user's words.
        gt_times: Stream times at which it should fire.
        tolerance_s: How early (seconds before a ground-truth time) a firing still counts.
        needs: The perception capabilities the query requires (hand-made); ``None`` when unlabelled.
    """

    video: str
    query: str
    gt_times: tuple[float, ...]
    tolerance_s: float = 0.5
    needs: frozenset[Capability] | None = None


@dataclass
class AlertResult:
    case: AlertCase
    fired: list[float] = field(default_factory=list)
    refused: str | None = None
    error: str | None = None
    metrics: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        needs = self.case.needs
        return {"video": self.case.video, "query": self.case.query, "gt_times": list(self.case.gt_times),
                "needs": None if needs is None else sorted(c.value for c in needs),
                "fired": [round(t, 3) for t in self.fired], "refused": self.refused, "error": self.error,
                **{k: v for k, v in self.metrics.items()}}


def load_alert_cases(path: str | Path) -> list[AlertCase]:
    """Read an ``alerts.json`` file (format: ``docs/eval-format.md``).

    Raises:
        QueryError: the file is not JSON, an entry lacks a field, or a ``needs`` label is unknown.
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
            needs = parse_needs(d.get("needs"))
            out.append(AlertCase(str(d["video"]), str(d["query"]), tuple(float(t) for t in d["gt_times"]),
                                 float(d.get("tolerance_s", 0.5)), needs))
        except QueryError as e:
            raise QueryError(f"{p}: entry {i}: {e}") from None
        except (KeyError, TypeError, ValueError) as e:
            raise QueryError(f"{p}: entry {i}: missing or bad field ({e})") from None
    return out


def run_alert_eval(cases: list[AlertCase], footage: Path, *, settings: Settings | None = None,
                   on_result: Callable[[AlertResult], None] | None = None,
                   engine_factory: Callable[[str, Settings], StreamEngine] | None = None) -> list[AlertResult]:
    """Stream each case's video once (accelerated) with its query registered from the start.

    Args:
        cases: The alert cases.
        footage: Folder holding the videos.
        settings: Engine settings (default: the offline defaults).
        on_result: Called with each result as soon as it is known.
        engine_factory: Builds the engine for a video path (default: a :class:`StreamEngine`).
    """
    settings = settings or Settings()
    make = engine_factory or (lambda src, s: StreamEngine(src, settings=s, stream_id="eval-alerts"))
    results = []
    for case in cases:
        res = AlertResult(case)
        path = find_video(footage, case.video)
        if path is None:
            res.error = f"video {case.video!r} not found under {footage}"
        else:
            try:
                eng = make(str(path), settings)
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


def _block(results: list[AlertResult]) -> dict[str, Any]:
    """Micro-averaged figures over some cases; ``None`` where there is nothing to average."""
    hits = sum(r.metrics["hits"] for r in results)
    fired = sum(r.metrics["fired"] for r in results)
    gt = sum(r.metrics["gt"] for r in results)
    if results:
        precision = hits / fired if fired else (1.0 if not gt else 0.0)
        recall = hits / gt if gt else 1.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    else:
        precision = recall = f1 = None
    delays = [d for r in results for d in r.metrics.get("delays_s", [])]
    return {"cases": len(results), "gt": gt, "fired": fired, "hits": hits,
            "precision": precision, "recall": recall, "f1": f1,
            "delay_p50_s": float(np.percentile(delays, 50)) if delays else None,
            "delay_p95_s": float(np.percentile(delays, 95)) if delays else None,
            "refused": sum(r.refused is not None for r in results),
            "errors": sum(r.error is not None for r in results)}


def summarize_alerts(results: list[AlertResult], capabilities: Iterable[Capability] = ()) -> dict[str, Any]:
    """Micro-averaged precision/recall/F1 and delays: over all cases, the perceivable ones, and by need.

    Refused cases count as missed everywhere. Figures over no cases are ``None``, never NaN.

    Args:
        results: The scored cases.
        capabilities: What the engine declares; a case is perceivable when every one of its ``needs``
            is among them (:func:`~onlook.eval.scoring.is_perceivable`).

    Returns:
        The overall block's keys at the top level (``precision``, ``recall``, ``f1``, delay percentiles,
        ``cases``, ``refused``, ``errors``...), plus ``capabilities``, ``perceivable`` (a block),
        ``unlabelled`` (a block of the cases without ``needs``), ``by_need`` (a block per need label
        that occurs, with ``declared``) and ``accepted_queries`` (a block of the cases the engine did
        not refuse: a diagnostic of the query compiler, not a measure of perception).
    """
    caps = frozenset(capabilities)
    by_need: dict[Capability, list[AlertResult]] = defaultdict(list)
    for r in results:
        for need in r.case.needs or ():
            by_need[need].append(r)
    return {**_block(results), "capabilities": sorted(c.value for c in caps),
            "perceivable": _block([r for r in results if is_perceivable(r.case.needs, caps)]),
            "unlabelled": _block([r for r in results if r.case.needs is None]),
            "by_need": {c.value: _block(by_need[c]) | {"declared": c in caps} for c in Capability if c in by_need},
            "accepted_queries": _block([r for r in results if r.refused is None and r.error is None])}
