"""Scoring alerts against ground truth, the way ``../shared/eval/README.md`` defines it.

An alert is a hit if it fires within ``after_s`` after a ground-truth time and
not more than ``before_s`` before it; each ground-truth time can be hit once
and each fired alert counts for at most one ground-truth time. Matching is
greedy in time order, which is optimal for this interval structure.
"""

from __future__ import annotations

import numpy as np

__all__ = ["match_alerts"]


def match_alerts(gt_times: list[float], fired: list[float], *, before_s: float = 0.5,
                 after_s: float = 2.0) -> dict[str, object]:
    """Precision, recall, F1 and delay percentiles of fired alert times.

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
            "gt": len(gt), "delay_p50_s": float(np.percentile(pos, 50)) if pos else float("nan"),
            "delay_p95_s": float(np.percentile(pos, 95)) if pos else float("nan"),
            "missed": missed, "false": [f for f, u in zip(fired_sorted, used) if not u]}
