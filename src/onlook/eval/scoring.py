"""Scoring responses by question type, as ``../shared/eval/README.md`` defines it.

* multiple choice: the chosen letter equals the answer;
* count: exact, and within +-1 (reported separately);
* grounding: IoU of the returned span with ``gt_span`` (R@IoU>=0.3 and >=0.5);
* forward: the alert fired within ``[start - before_s, end + after_s]`` of ``gt_span``;
* alerts: precision, recall, F1 and delay percentiles (:func:`match_alerts`).

Abstentions count as wrong but are reported separately, so honest
abstaining stays visible next to accuracy.

The *perceivable* subset is decided by the data, not by the engine's reading
of the words: a question belongs to it when every one of its hand-made
``needs`` is among the capabilities the engine declares
(:func:`is_perceivable`); questions without ``needs`` are reported apart, as
unlabelled. A figure over no questions is ``None`` (JSON ``null``), never NaN.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np

from onlook.eval.protocol import Response, is_poll
from onlook.types import Capability

__all__ = ["Scored", "score_response", "summarize", "match_alerts", "span_iou", "is_perceivable", "json_safe"]


def is_perceivable(needs: Iterable[Capability] | None, capabilities: Iterable[Capability]) -> bool:
    """Whether an engine with ``capabilities`` has everything a question or alert ``needs``.

    Args:
        needs: The hand-made labels of the question or alert; ``None`` when unlabelled.
        capabilities: What the engine declares (``StreamEngine.capabilities``).

    Returns:
        False for unlabelled items (they are reported apart), else whether ``needs`` is a subset.
        ``beyond`` is never declared, so an item that needs it is never perceivable.

    Example:
        >>> caps = {Capability.PEOPLE, Capability.PERSON_COLOUR}
        >>> is_perceivable({Capability.PEOPLE}, caps), is_perceivable({Capability.OBJECTS}, caps)
        (True, False)
        >>> is_perceivable(None, caps)
        False
    """
    return needs is not None and frozenset(needs) <= frozenset(capabilities)


def json_safe(obj: Any) -> Any:
    """``obj`` with every non-finite float (NaN, inf) replaced by ``None``, through dicts, lists and tuples.

    JSON has no NaN: ``json.dumps`` would write the non-standard ``NaN`` that strict readers reject.

    Example:
        >>> json_safe({"p95": float("nan"), "xs": [1.0, float("inf")]})
        {'p95': None, 'xs': [1.0, None]}
    """
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, dict):
        return {k: json_safe(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [json_safe(v) for v in obj]
    return obj


def _ratio(num: float, den: float) -> float | None:
    return num / den if den else None


def match_alerts(gt_times: list[float], fired: list[float], *, before_s: float = 0.5,
                 after_s: float = 2.0) -> dict[str, Any]:
    """Precision, recall, F1 and delay percentiles of fired alert times.

    An alert is a hit if it fires within ``after_s`` after a ground-truth time
    and not more than ``before_s`` before it; each ground-truth time and each
    alert can be matched once (greedy in time order). Delays of early hits
    count as 0; with no hits the delay percentiles are ``None``.

    Example:
        >>> r = match_alerts([1.0, 5.0], [1.4, 3.0, 5.2])
        >>> (round(r["precision"], 2), r["recall"], r["hits"])
        (0.67, 1.0, 2)
    """
    gt = sorted(float(g) for g in gt_times)
    fired_sorted = sorted(float(f) for f in fired)
    used = [False] * len(fired_sorted)
    delays: list[float] = []
    missed: list[float] = []
    for g in gt:
        for i, f in enumerate(fired_sorted):
            if not used[i] and g - before_s <= f <= g + after_s:
                used[i] = True
                delays.append(f - g)
                break
        else:
            missed.append(g)
    hits = len(delays)
    precision = hits / len(fired_sorted) if fired_sorted else (1.0 if not gt else 0.0)
    recall = hits / len(gt) if gt else 1.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    pos = [max(0.0, d) for d in delays]
    return {"precision": precision, "recall": recall, "f1": f1, "hits": hits, "fired": len(fired_sorted),
            "gt": len(gt), "delay_p50_s": float(np.percentile(pos, 50)) if pos else None,
            "delay_p95_s": float(np.percentile(pos, 95)) if pos else None, "delays_s": pos,
            "missed": missed, "false": [f for f, u in zip(fired_sorted, used) if not u]}


def span_iou(a: tuple[float, float], b: tuple[float, float]) -> float:
    """Intersection over union of two time spans (a zero-length span scores by containment)."""
    a0, a1 = sorted(a)
    b0, b1 = sorted(b)
    if a0 == a1 or b0 == b1:  # an instant (a cut) is right when it lies inside the other span
        p, (s0, s1) = (a0, (b0, b1)) if a0 == a1 else (b0, (a0, a1))
        return 1.0 if s0 <= p <= s1 else 0.0
    inter = max(0.0, min(a1, b1) - max(a0, b0))
    return inter / (max(a1, b1) - min(a0, b0))


@dataclass(frozen=True, slots=True)
class Scored:
    """One response with its verdict."""

    response: Response
    correct: bool
    abstained: bool
    within_one: bool | None = None
    iou: float | None = None

    def to_dict(self) -> dict[str, Any]:
        r = self.response
        a = r.answer
        needs = r.question.needs
        return {"id": r.question.id, "video": r.question.video, "type": r.question.type,
                "time_s": r.question.time_s, "question": r.question.question,
                "needs": None if needs is None else sorted(c.value for c in needs),
                "answer": None if a is None else (a.value if a.value is not None else a.text),
                "text": None if a is None else a.text, "expected": r.question.answer,
                "correct": self.correct, "abstained": self.abstained, "within_one": self.within_one,
                "iou": self.iou, "evidence_times": [] if a is None else [round(e.t, 3) for e in a.evidence],
                "seen_until": round(r.seen_until, 3), "latency_s": round(r.latency_s, 4),
                "fired": r.fired, "error": r.error}


def _num(x: Any) -> float | None:
    try:
        return float(x)
    except (TypeError, ValueError):
        return None


def score_response(r: Response, *, before_s: float = 0.5, after_s: float = 2.0) -> Scored:
    """Judge one response against its question's ground truth."""
    q, a = r.question, r.answer
    if a is None:
        return Scored(r, False, True)
    abstained = bool(a.abstained)
    if is_poll(q):
        want = str(q.answer).strip().lower()
        got = "" if a.value is None else str(a.value).strip().lower()
        if isinstance(a.value, bool):
            got = "yes" if a.value else "no"
        want_n, got_n = _num(q.answer), _num(a.value)
        if want_n is not None and got_n is not None:
            return Scored(r, not abstained and abs(want_n - got_n) < 1e-6, abstained)
        return Scored(r, not abstained and got == want, abstained)
    if q.type == "forward":
        span = q.gt_span or ((_num(q.answer), _num(q.answer)) if _num(q.answer) is not None else None)
        ok = bool(span and r.fired and span[0] - before_s <= r.fired[0] <= span[1] + after_s)
        return Scored(r, ok, abstained)
    if q.options:
        return Scored(r, (not abstained) and str(a.value).upper() == str(q.answer).upper(), abstained)
    if q.type == "count":
        want, got = _num(q.answer), _num(a.value)
        if want is None or got is None or abstained:
            return Scored(r, False, abstained, within_one=False)
        return Scored(r, abs(want - got) < 1e-6, abstained, within_one=abs(want - got) <= 1.0 + 1e-9)
    if q.type == "grounding" and q.gt_span:
        span = a.span or ((a.value, a.value) if _num(a.value) is not None else None)
        if span is None or abstained:
            return Scored(r, False, abstained, iou=0.0)
        iou = span_iou(tuple(span), q.gt_span)  # type: ignore[arg-type]  # span is a (start, end) pair; gt_span is set for this kind
        return Scored(r, iou >= 0.3, abstained, iou=iou)
    return Scored(r, False, abstained)


def summarize(scored: list[Scored], capabilities: Iterable[Capability] = ()) -> dict[str, Any]:
    """Overall, per-type and per-need figures, and those of the perceivable subset.

    Args:
        scored: The scored responses.
        capabilities: What the engine that answered declares; decides the perceivable subset with
            each question's ``needs`` (:func:`is_perceivable`).

    Returns:
        ``overall`` (accuracy), ``n``, ``abstained``, latency percentiles, ``accuracy_when_answering``,
        ``capabilities`` (sorted values), and blocks of ``n``, ``correct``, ``accuracy``,
        ``abstained``... for ``by_type``, ``by_need`` (each need label that occurs, with
        ``declared``: whether the engine has it), ``perceivable`` (with its ``ids``) and
        ``unlabelled`` (questions without ``needs``). Accuracy over no questions is ``None``.
    """
    caps = frozenset(capabilities)
    by: dict[str, list[Scored]] = defaultdict(list)
    by_need: dict[Capability, list[Scored]] = defaultdict(list)
    for s in scored:
        by[s.response.question.type].append(s)
        for need in s.response.question.needs or ():
            by_need[need].append(s)

    def block(items: list[Scored]) -> dict[str, Any]:
        n = len(items)
        lat = [s.response.latency_s for s in items if s.response.answer is not None and s.response.latency_s > 0]
        d: dict[str, Any] = {"n": n, "correct": sum(s.correct for s in items),
                             "accuracy": _ratio(sum(s.correct for s in items), n),
                             "abstained": sum(s.abstained for s in items),
                             "latency_p50_ms": round(float(np.percentile(lat, 50)) * 1000, 2) if lat else None,
                             "latency_p95_ms": round(float(np.percentile(lat, 95)) * 1000, 2) if lat else None}
        w1 = [s.within_one for s in items if s.within_one is not None]
        if w1:
            d["within_one"] = sum(w1) / len(w1)
        ious = [s.iou for s in items if s.iou is not None]
        if ious:
            d["r_at_iou_0.3"] = sum(i >= 0.3 for i in ious) / len(ious)
            d["r_at_iou_0.5"] = sum(i >= 0.5 for i in ious) / len(ious)
        answered = [s for s in items if not s.abstained]
        d["accuracy_when_answering"] = _ratio(sum(s.correct for s in answered), len(answered))
        return d

    overall = block(scored)
    answerable = [s for s in scored if is_perceivable(s.response.question.needs, caps)]
    unlabelled = [s for s in scored if s.response.question.needs is None]
    return {"overall": overall["accuracy"], "n": overall["n"], "abstained": overall["abstained"],
            "capabilities": sorted(c.value for c in caps),
            "perceivable": block(answerable) | {"ids": [s.response.question.id for s in answerable]},
            "unlabelled": block(unlabelled),
            "accuracy_when_answering": overall["accuracy_when_answering"],
            "latency_p50_ms": overall["latency_p50_ms"], "latency_p95_ms": overall["latency_p95_ms"],
            "by_type": {t: block(items) for t, items in sorted(by.items())},
            "by_need": {c.value: block(by_need[c]) | {"declared": c in caps} for c in Capability if c in by_need}}
