"""Scorers, on hand-made responses."""

from __future__ import annotations

import json
import math

import pytest

from onlook.eval import EvalQuestion
from onlook.eval.alerts import AlertCase, AlertResult, summarize_alerts
from onlook.eval.protocol import Response
from onlook.eval.scoring import is_perceivable, json_safe, match_alerts, score_response, span_iou, summarize
from onlook.types import Answer, Capability

C = Capability


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
    assert span_iou((5.48, 5.48), (5.44, 5.52)) == 1.0  # an instant inside the span
    assert span_iou((5.6, 5.6), (5.44, 5.52)) == 0.0
    assert span_iou((5.44, 5.52), (5.48, 5.48)) == 1.0


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
    # no hit, no delay: None (JSON null), not NaN
    assert silent["delay_p50_s"] is None and silent["delay_p95_s"] is None
    assert r["delays_s"] == pytest.approx([0.0, 0.5])  # the early hit counts as no delay


def test_summary_reports_abstentions_and_types():
    scored = [score_response(resp(MC, "B")), score_response(resp(MC, None, abstained=True)),
              score_response(resp(COUNT, 3))]
    s = summarize(scored)
    assert s["overall"] == pytest.approx(2 / 3) and s["abstained"] == 1
    assert s["by_type"]["realtime"]["accuracy"] == 0.5 and s["by_type"]["count"]["accuracy"] == 1.0
    assert s["accuracy_when_answering"] == 1.0


@pytest.mark.parametrize(("needs", "caps", "expected"), [
    ({C.PEOPLE}, {C.PEOPLE, C.FACES}, True),
    ({C.PEOPLE, C.PERSON_COLOUR}, {C.PEOPLE}, False),
    ({C.OBJECTS}, set(C) - {C.OBJECTS}, False),
    ({C.BEYOND}, set(C) - {C.BEYOND}, False),
    (set(), set(), True),          # needs nothing perceived: any engine has that
    (None, set(C), False),         # unlabelled: reported apart, never in the subset
])
def test_is_perceivable_compares_needs_with_capabilities(needs, caps, expected):
    assert is_perceivable(needs, caps) is expected


def q(qid: str, needs, qtype: str = "count", answer=1) -> EvalQuestion:
    return EvalQuestion(qid, "v.mp4", 1.0, "The words do not matter here", qtype, answer=answer, needs=needs)


# A hand-made table: (id, needs, correct, abstained)
TABLE = [
    ("p1", {C.PEOPLE}, True, False),
    ("p2", {C.PEOPLE}, False, True),
    ("p3", {C.PEOPLE, C.PERSON_COLOUR}, True, False),
    ("o1", {C.OBJECTS}, False, True),
    ("o2", {C.OBJECTS, C.PEOPLE}, False, False),
    ("s1", {C.SHOTS}, True, False),
    ("u1", None, True, False),
]


def _scored_table():
    out = []
    for qid, needs, correct, abstained in TABLE:
        question = q(qid, needs)
        out.append(score_response(resp(question, None if abstained else (1 if correct else 2), abstained=abstained)))
    assert [s.correct for s in out] == [t[2] for t in TABLE]
    return out


def test_summary_by_need_and_perceivable_subset():
    s = summarize(_scored_table(), {C.PEOPLE, C.PERSON_COLOUR, C.SHOTS, C.MOTION})
    assert s["capabilities"] == ["motion", "people", "person_colour", "shots"]
    pv = s["perceivable"]
    assert pv["ids"] == ["p1", "p2", "p3", "s1"]
    assert (pv["n"], pv["correct"], pv["abstained"]) == (4, 3, 1) and pv["accuracy"] == pytest.approx(0.75)
    assert (s["unlabelled"]["n"], s["unlabelled"]["correct"]) == (1, 1)
    need = s["by_need"]
    assert list(need) == ["people", "person_colour", "objects", "shots"]  # the Enum's order, only those used
    assert (need["people"]["n"], need["people"]["correct"], need["people"]["declared"]) == (4, 2, True)
    assert need["people"]["accuracy"] == pytest.approx(0.5)
    assert (need["objects"]["n"], need["objects"]["correct"], need["objects"]["declared"]) == (2, 0, False)
    assert need["objects"]["accuracy"] == 0.0
    assert need["shots"]["accuracy"] == 1.0
    assert s["n"] == 7 and s["overall"] == pytest.approx(4 / 7)


def test_empty_subsets_are_null_not_nan():
    s = summarize(_scored_table(), set())  # an engine that declares nothing: no question is perceivable
    assert s["perceivable"]["n"] == 0 and s["perceivable"]["accuracy"] is None
    assert s["perceivable"]["accuracy_when_answering"] is None and s["perceivable"]["latency_p95_ms"] is None
    assert all(not b["declared"] for b in s["by_need"].values())
    empty = summarize([])
    assert empty["overall"] is None and empty["by_need"] == {} and empty["unlabelled"]["accuracy"] is None
    json.dumps(s, allow_nan=False)  # raises on NaN
    json.dumps(empty, allow_nan=False)


def test_unlabelled_questions_are_counted_apart():
    scored = [score_response(resp(q("a", None), 1)), score_response(resp(q("b", None), 2))]
    s = summarize(scored, set(C))
    assert s["perceivable"]["n"] == 0 and s["unlabelled"]["n"] == 2 and s["by_need"] == {}
    assert score_response(resp(q("a", None), 1)).to_dict()["needs"] is None
    assert score_response(resp(q("a", {C.SHOTS, C.PEOPLE}), 1)).to_dict()["needs"] == ["people", "shots"]


def _alert(needs, gt, fired, refused=None) -> AlertResult:
    r = AlertResult(AlertCase("v.mp4", "q", tuple(gt), needs=needs), fired=list(fired), refused=refused)
    r.metrics = match_alerts(list(gt), r.fired)
    return r


def test_alert_summary_by_need_and_perceivable():
    results = [
        _alert(frozenset({C.PEOPLE}), [1.0, 5.0], [1.2, 9.0]),              # 1 hit, 1 false, 1 missed
        _alert(frozenset({C.SHOTS}), [2.0], [2.5]),                          # perfect
        _alert(frozenset({C.OBJECTS, C.BEYOND}), [3.0], [], refused="no"),   # refused: counts as missed
        _alert(None, [4.0], [4.0]),
    ]
    s = summarize_alerts(results, {C.PEOPLE, C.SHOTS})
    pv = s["perceivable"]
    assert (pv["cases"], pv["gt"], pv["fired"], pv["hits"]) == (2, 3, 3, 2)
    assert pv["precision"] == pytest.approx(2 / 3) and pv["recall"] == pytest.approx(2 / 3)
    assert pv["delay_p95_s"] == pytest.approx(0.5, abs=0.05)
    assert (s["cases"], s["gt"], s["hits"], s["refused"]) == (4, 5, 3, 1)
    assert s["unlabelled"]["cases"] == 1 and s["unlabelled"]["f1"] == 1.0
    need = s["by_need"]
    assert list(need) == ["people", "objects", "shots", "beyond"]
    assert need["objects"]["declared"] is False and need["beyond"]["declared"] is False
    assert (need["objects"]["recall"], need["objects"]["f1"], need["objects"]["delay_p95_s"]) == (0.0, 0.0, None)
    assert need["shots"]["f1"] == 1.0 and need["people"]["recall"] == 0.5


def test_alert_summary_empty_subsets_are_null():
    s = summarize_alerts([_alert(frozenset({C.FACE_STATE}), [1.0], [])], {C.PEOPLE})
    pv = s["perceivable"]
    assert pv["cases"] == 0 and (pv["precision"], pv["recall"], pv["f1"], pv["delay_p95_s"]) == (None,) * 4
    assert s["delay_p50_s"] is None
    json.dumps(s, allow_nan=False)
    json.dumps(summarize_alerts([]), allow_nan=False)


def test_json_safe_replaces_non_finite_floats():
    assert json_safe({"a": [float("nan"), 1.5, (float("-inf"),)], "b": {"c": float("inf")}, "d": "nan"}) == \
        {"a": [None, 1.5, [None]], "b": {"c": None}, "d": "nan"}
    assert not math.isnan(json_safe(0.0))
