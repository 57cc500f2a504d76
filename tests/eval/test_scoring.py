"""Scorers, on hand-made responses."""

from __future__ import annotations

import math

import pytest

from onlook.eval import EvalQuestion
from onlook.eval.protocol import Response
from onlook.eval.scoring import match_alerts, perceivable, score_response, span_iou, summarize
from onlook.types import Answer


def resp(q: EvalQuestion, value=None, *, abstained=False, span=None, fired=None) -> Response:
    a = Answer(q.question, "x", q.time_s, 0.5, abstained=abstained, value=value, span=span)
    return Response(q, a, q.time_s, 0.01, fired=fired or [])


MC = EvalQuestion("m", "v.mp4", 1.0, "Who is there?", "realtime", options=("A. x", "B. y"), answer="B")
COUNT = EvalQuestion("c", "v.mp4", 1.0, "How many people?", "count", answer=3)
GROUND = EvalQuestion("g", "v.mp4", 9.0, "When did someone enter?", "grounding", answer=2.0, gt_span=(2.0, 3.0))
FWD = EvalQuestion("f", "v.mp4", 1.0, "Tell me when a person enters", "forward", answer=5.0, gt_span=(5.0, 5.5))


@pytest.mark.parametrize(("response", "correct", "abstained"), [
    (resp(MC, "B"), True, False),
    (resp(MC, "b"), True, False),
    (resp(MC, "A"), False, False),
    (resp(MC, None, abstained=True), False, True),
    (resp(COUNT, 3), True, False),
    (resp(COUNT, 4), False, False),
    (resp(COUNT, None, abstained=True), False, True),
    (resp(GROUND, 2.0, span=(2.0, 2.5)), True, False),   # IoU 0.5
    (resp(GROUND, 0.0, span=(0.0, 1.0)), False, False),
    (resp(FWD, 5.4, fired=[5.4]), True, False),
    (resp(FWD, 8.0, fired=[8.0]), False, False),          # later than end + 2 s
    (resp(FWD, 4.6, fired=[4.6]), True, False),           # within 0.5 s before
    (resp(FWD, None, abstained=True), False, True),
])
def test_score_response(response, correct, abstained):
    s = score_response(response)
    assert (s.correct, s.abstained) == (correct, abstained)


def test_count_within_one_and_iou_recorded():
    assert score_response(resp(COUNT, 4)).within_one is True
    assert score_response(resp(COUNT, 5)).within_one is False
    assert score_response(resp(GROUND, 2.0, span=(2.0, 2.5))).iou == pytest.approx(0.5)


def test_span_iou():
    assert span_iou((0, 2), (1, 3)) == pytest.approx(1 / 3)
    assert span_iou((0, 1), (2, 3)) == 0.0
    assert span_iou((1, 1), (1, 1)) == 1.0


def test_match_alerts_rules():
    r = match_alerts([1.0, 5.0, 9.0], [0.6, 1.2, 7.1, 9.5])
    # 0.6 hits 1.0 (0.4 s early is allowed), 1.2 is a duplicate, 7.1 is 2.1 s late, 9.5 hits 9.0
    assert (r["hits"], r["fired"], r["gt"]) == (2, 4, 3)
    assert r["missed"] == [5.0] and r["false"] == [1.2, 7.1]
    assert r["delay_p95_s"] == pytest.approx(0.475)
    empty = match_alerts([], [])  # nothing to find and nothing fired: perfect, not undefined
    assert (empty["precision"], empty["recall"], empty["f1"]) == (1.0, 1.0, 1.0)
    silent = match_alerts([1.0], [])
    assert (silent["precision"], silent["recall"], silent["f1"]) == (0.0, 0.0, 0.0)
    assert math.isnan(match_alerts([1.0], [])["delay_p50_s"])


def test_summary_reports_abstentions_and_types():
    scored = [score_response(resp(MC, "B")), score_response(resp(MC, None, abstained=True)),
              score_response(resp(COUNT, 3))]
    s = summarize(scored)
    assert s["overall"] == pytest.approx(2 / 3) and s["abstained"] == 1
    assert s["by_type"]["realtime"]["accuracy"] == 0.5 and s["by_type"]["count"]["accuracy"] == 1.0
    assert s["accuracy_when_answering"] == 1.0


@pytest.mark.parametrize(("question", "qtype", "expected"), [
    ("How many people are visible right now?", "count", True),
    ("What is the man carrying?", "realtime", False),
    ("Tell me when a person in red appears", "forward", True),
    ("Let me know when someone opens the boot of the car", "forward", False),
    ("How many scene cuts so far?", "count", True),
])
def test_perceivable_is_decided_by_the_parser(question, qtype, expected):
    q = EvalQuestion("p", "v.mp4", 1.0, question, qtype, answer=1, gt_span=(1.0, 2.0) if qtype == "forward" else None)
    assert perceivable(q) is expected
