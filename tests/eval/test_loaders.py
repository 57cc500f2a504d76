"""Tests of onlook.eval.loaders: parsing tables, malformed files, and the real annotation files."""

from __future__ import annotations

import json
import math
import os
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

import onlook.eval
from onlook.errors import QueryError
from onlook.eval import loaders
from onlook.eval.alerts import load_alert_cases
from onlook.eval.loaders import EvalQuestion, load_questions, normalize_options, parse_hms, parse_needs
from onlook.types import Capability


@pytest.fixture(scope="module")
def bench_dir() -> Path:
    env = os.environ.get("ONLOOK_BENCHMARKS")
    d = Path(env) if env else Path(__file__).resolve().parents[3] / "shared" / "benchmarks"
    if not d.is_dir():
        pytest.skip("benchmark annotations not found ($ONLOOK_BENCHMARKS or ../shared/benchmarks)")
    return d


def _write(tmp_path: Path, data: Any, name: str = "q.json") -> Path:
    p = tmp_path / name
    p.write_text(data if isinstance(data, str) else json.dumps(data), encoding="utf-8")
    return p


def test_loader_names_are_exported() -> None:
    for name in loaders.__all__:
        assert name in onlook.eval.__all__
        assert getattr(onlook.eval, name) is getattr(loaders, name)


# ---------------------------------------------------------------- pure parsing


@pytest.mark.parametrize("text, expected", [
    ("00:01:05", 65.0), ("1:05", 65.0), ("65", 65.0), ("0:00:10.5", 10.5), (" 0:02:00 ", 120.0),
    ("00:00:8", 8.0), ("00:24", 24.0), ("1:00:00", 3600.0), ("0", 0.0), ("12.25", 12.25),
    ("100:00", 6000.0),
])
def test_parse_hms(text: str, expected: float) -> None:
    assert parse_hms(text) == expected


@pytest.mark.parametrize("text", [
    "", "abc", "1:60", "0:60:00", "00:12450", "-5", "1:2:3:4", "1.5:00", "1::2", ":30", "1:05 pm", None, 65,
])
def test_parse_hms_rejects(text: Any) -> None:
    with pytest.raises(QueryError):
        parse_hms(text)


@pytest.mark.parametrize("options, expected", [
    (["red", "blue"], ("A. red", "B. blue")),
    (["A. red", "B. blue"], ("A. red", "B. blue")),
    (["A) red", "B)  blue "], ("A. red", "B. blue")),
    (["A.red", "B.blue"], ("A. A.red", "B. B.blue")),  # no space after the dot: not a label
    (["A.Lebrun.", "Fan Z.D.", "Xu xin.", "Ma Lin."], ("A. A.Lebrun.", "B. Fan Z.D.", "C. Xu xin.", "D. Ma Lin.")),
    (["A. Wade", "B. Tyler", "D. Carter", "C. Jensen"],  # initials, not labels (OVO-Bench id 1326)
     ("A. A. Wade", "B. B. Tyler", "C. D. Carter", "D. C. Jensen")),
    (["A black jacket.", "A navy jacket."], ("A. A black jacket.", "B. A navy jacket.")),
    ([], ()),
])
def test_normalize_options(options: list[str], expected: tuple[str, ...]) -> None:
    assert normalize_options(options) == expected


@pytest.mark.parametrize("options", [[1, 2], "A. red", [f"o{i}" for i in range(27)]])
def test_normalize_options_rejects(options: Any) -> None:
    with pytest.raises(QueryError):
        normalize_options(options)


def test_eval_question_is_frozen_and_coerces() -> None:
    q = EvalQuestion("q", "a.mp4", 3, "?", "forward", gt_span=(1, 2), extra={"k": 1})
    assert isinstance(q.time_s, float) and q.gt_span == (1.0, 2.0)
    assert q == EvalQuestion("q", "a.mp4", 3.0, "?", "forward", gt_span=(1.0, 2.0))  # extra not compared
    with pytest.raises(AttributeError):
        q.time_s = 4.0  # type: ignore[misc]  # the point: the record is frozen
    mc = EvalQuestion("m", "a.mp4", 0.0, "?", "realtime", ("A. x", "B. y"), "B")
    assert mc.answer_index == 1 and q.answer_index is None


@pytest.mark.parametrize("kw", [
    {"type": "future"}, {"time_s": -1.0}, {"time_s": math.nan}, {"time_s": math.inf}, {"time_s": "3"},
    {"time_s": True}, {"gt_span": (2.0, 1.0)}, {"gt_span": (1.0,)}, {"options": ["A. x"]},
    {"options": ("A. x", "B. y"), "answer": "C"}, {"options": ("A. x", "B. y"), "answer": "yes"},
    {"needs": ["peeple"]}, {"needs": "people"}, {"needs": 3},
])
def test_eval_question_validates(kw: dict) -> None:
    base = {"id": "q", "video": "a.mp4", "time_s": 1.0, "question": "?", "type": "realtime"}
    with pytest.raises(QueryError):
        EvalQuestion(**{**base, **kw})


@pytest.mark.parametrize("raw, expected", [
    (None, None),
    ([], frozenset()),
    (["people"], frozenset({Capability.PEOPLE})),
    (("people", "person_colour", "people"), frozenset({Capability.PEOPLE, Capability.PERSON_COLOUR})),
    ([Capability.OCR, "beyond"], frozenset({Capability.OCR, Capability.BEYOND})),
])
def test_parse_needs(raw: Any, expected: Any) -> None:
    assert parse_needs(raw) == expected


@pytest.mark.parametrize("raw", ["people", ["People"], ["person colour"], [None], {"people": 1}, 1])
def test_parse_needs_rejects(raw: Any) -> None:
    with pytest.raises(QueryError):
        parse_needs(raw)


def test_needs_labels_are_the_capability_values() -> None:
    # the labels ../shared/eval/README.md lists, one member each
    assert {c.value for c in Capability} == {
        "people", "person_colour", "faces", "face_state", "hands", "pose", "objects", "shots", "ocr", "speech",
        "scene_colour", "motion", "beyond"}


# ---------------------------------------------------------------- small files per format

ONLOOK = [
    {"id": "a-1", "video": "a.mp4", "time_s": 5, "question": "How many?", "type": "count", "answer": 3},
    {"id": "a-2", "video": "a.mp4", "time_s": "0:00:07.5", "question": "Colour?", "type": "realtime",
     "options": ["A. red", "B. blue"], "answer": "b", "evidence": "f75"},
    {"id": "a-3", "video": "a.mp4", "time_s": 2.0, "question": "Tell me when", "type": "forward",
     "answer": 4.0, "gt_span": [4.0, 4.5]},
]
SB_REAL = [{"time": "[0:00:00 - 0:00:10]", "video_path": "./videos/sample_7_real.mp4", "video_categories": "x",
            "questions": [{"task_type": "Object Recognition", "question": "What now?", "time_stamp": "00:01:05",
                           "answer": "B", "options": ["A. a", "B. b", "C. c", "D. d"],
                           "required_ability": "working memory"},
                          {"task_type": "Brand New Task", "question": "What before?", "time_stamp": "0:00:09",
                           "answer": "A", "options": ["a", "b"], "required_ability": "episodic memory"}]},
           {"video_path": "./videos/sample_7_real.mp4",
            "questions": [{"task_type": "Counting", "question": "How many so far?", "time_stamp": "00:02:00",
                           "answer": "D", "options": ["1.", "2.", "3.", "4."]}]}]
SB_SQA = [[{"video_path": "./videos/sample_3_sqa.mp4",
            "questions": [{"task_type": "Sequential Question Answering", "question": f"Q{i}?",
                           "time_stamp": f"00:0{i}:00", "answer": "A", "options": ["x.", "y."]}]}
           for i in range(3)]]
SB_PRO = [{"video_path": "videos/sample_9_proactive.mp4",
           "questions": [{"task_type": "Proactive Output", "question": 'When X, output "X".',
                          "time_stamp": "00:00:01", "ground_truth_time_stamp": "00:00:10",
                          "ground_truth_output": "X"}]}]
OVO = [
    {"id": 0, "task": "EPM", "video": "Ego4D/a.mp4", "realtime": 21.5, "question": "Who?", "answer": "b",
     "options": ["a", "b", "c"], "gt": 1},
    {"id": 1, "task": "OCR", "video": "x/b.mp4", "realtime": 3, "question": "Text?", "answer": "t",
     "options": ["s", "t"], "gt": 1},
    {"id": 2, "task": "REC", "video": "p/c.mp4", "activity": "jump", "start_times": [1], "end_times": [2],
     "test_info": [{"realtime": 2, "count": 1}, {"realtime": 9.5, "count": 1}]},
    {"id": 3, "task": "SSR", "video": "coin/d.mp4", "tutorial": "T", "all_steps": ["s1", "s2"],
     "start_time": [1, 5], "end_time": [3, 8],
     "test_info": [{"realtime": 6, "step": "s2", "type": 1}, {"realtime": 2, "step": "s2", "type": 0}]},
    {"id": 4, "task": "CRR", "video": "m/e.mp4", "question": "What does she do?", "answer": "Walks past.",
     "ask_time": 10, "clue_time": 15, "test_info": [{"realtime": 10, "type": 0}, {"realtime": 16, "type": 1}]},
]


def test_load_onlook(tmp_path: Path) -> None:
    qs = load_questions(_write(tmp_path, ONLOOK))
    assert [q.id for q in qs] == ["a-1", "a-2", "a-3"] and {q.source for q in qs} == {"onlook"}
    assert qs[0].answer == 3 and qs[0].time_s == 5.0 and qs[0].options == ()
    assert qs[1].time_s == 7.5 and qs[1].answer == "B" and qs[1].extra == {"evidence": "f75"}
    assert qs[2].gt_span == (4.0, 4.5) and qs[2].type == "forward"
    assert load_questions(_write(tmp_path, ONLOOK), format="onlook") == qs
    assert load_questions(_write(tmp_path, []), format="auto") == []


def test_load_onlook_needs(tmp_path: Path) -> None:
    data = json.loads(json.dumps(ONLOOK))
    for entry, needs in zip(data, (["people"], ["people", "person_colour"], [])):
        entry["needs"] = needs
    a, b, c = load_questions(_write(tmp_path, data))
    assert a.needs == {Capability.PEOPLE} and b.needs == {Capability.PEOPLE, Capability.PERSON_COLOUR}
    assert c.needs == frozenset() and "needs" not in a.extra
    assert {q.needs for q in load_questions(_write(tmp_path, ONLOOK))} == {None}  # no field: unlabelled


def test_benchmark_formats_have_no_needs_unless_given(tmp_path: Path) -> None:
    for data in (SB_REAL, SB_SQA, SB_PRO, OVO):
        assert {q.needs for q in load_questions(_write(tmp_path, data))} == {None}
    sb = _mutate(SB_REAL, lambda d: d[0]["questions"][0].update(needs=["objects"]))
    assert load_questions(_write(tmp_path, sb))[0].needs == {Capability.OBJECTS}
    ovo = _mutate(OVO, lambda d: d[2].update(needs=["people", "pose"]))
    probes = [q for q in load_questions(_write(tmp_path, ovo)) if q.id.startswith("ovo-2-")]
    assert [q.needs for q in probes] == [{Capability.PEOPLE, Capability.POSE}] * 2


def test_load_alert_cases_reads_needs(tmp_path: Path) -> None:
    p = _write(tmp_path, [{"video": "a.mp4", "query": "a person enters", "gt_times": [1, 2], "needs": ["people"]},
                          {"video": "a.mp4", "query": "a cut", "gt_times": []}], "alerts.json")
    a, b = load_alert_cases(p)
    assert a.needs == {Capability.PEOPLE} and a.gt_times == (1.0, 2.0) and b.needs is None
    bad = _write(tmp_path, [{"video": "a.mp4", "query": "x", "gt_times": [], "needs": ["cars"]}], "bad.json")
    with pytest.raises(QueryError) as info:
        load_alert_cases(bad)
    assert "entry 0" in str(info.value) and "'cars'" in str(info.value) and "\n" not in str(info.value)


def test_load_streamingbench_real(tmp_path: Path) -> None:
    qs = load_questions(_write(tmp_path, SB_REAL))
    assert [q.id for q in qs] == ["sb-real-7-0", "sb-real-7-1", "sb-real-7-2"]
    a, b, c = qs
    assert (a.video, a.time_s, a.type, a.answer, a.task) == ("sample_7_real.mp4", 65.0, "realtime", "B",
                                                               "Object Recognition")
    assert a.extra["video_path"] == "./videos/sample_7_real.mp4" and a.extra["time_window"] == "[0:00:00 - 0:00:10]"
    assert b.type == "backward" and b.options == ("A. a", "B. b")  # unknown task: falls back on ability
    assert c.type == "backward" and c.options[3] == "D. 4." and c.source == "streamingbench"


def test_load_streamingbench_sqa_and_proactive(tmp_path: Path) -> None:
    sqa = load_questions(_write(tmp_path, SB_SQA), format="streamingbench")
    assert [q.id for q in sqa] == ["sb-sqa-3-0", "sb-sqa-3-1", "sb-sqa-3-2"]
    assert [q.extra["context_ids"] for q in sqa] == [[], ["sb-sqa-3-0"], ["sb-sqa-3-0", "sb-sqa-3-1"]]
    assert {q.type for q in sqa} == {"realtime"} and sqa[2].time_s == 120.0
    (pro,) = load_questions(_write(tmp_path, SB_PRO))
    assert (pro.id, pro.type, pro.time_s, pro.answer, pro.gt_span) == ("sb-proactive-9-0", "forward", 1.0,
                                                                       10.0, (8.0, 12.0))
    assert pro.extra["ground_truth_output"] == "X" and pro.extra["poll_until_s"] == 14.0 and pro.options == ()


def test_load_streamingbench_reads_odd_stamps_like_the_benchmark(tmp_path: Path) -> None:
    data = json.loads(json.dumps(SB_REAL))
    data[0]["questions"][0]["time_stamp"] = "00:12450"
    q = load_questions(_write(tmp_path, data))[0]
    assert q.time_s == 12450.0 and "00:12450" in q.extra["time_stamp_note"]


def test_load_ovobench(tmp_path: Path) -> None:
    qs = {q.id: q for q in load_questions(_write(tmp_path, OVO))}
    assert list(qs) == ["ovo-0", "ovo-1", "ovo-2-p0", "ovo-2-p1", "ovo-3-p0", "ovo-3-p1", "ovo-4-p0", "ovo-4-p1"]
    epm = qs["ovo-0"]
    assert (epm.type, epm.time_s, epm.answer, epm.options) == ("backward", 21.5, "B", ("A. a", "B. b", "C. c"))
    assert epm.video == "Ego4D/a.mp4" and epm.extra["answer_text"] == "b" and epm.task == "EPM"
    assert qs["ovo-1"].type == "realtime" and qs["ovo-1"].time_s == 3.0
    rec = qs["ovo-2-p1"]
    assert (rec.type, rec.time_s, rec.answer, rec.question) == ("forward", 9.5, 1, "How many times did they jump?")
    ssr = qs["ovo-3-p0"]
    assert (ssr.answer, ssr.gt_span, ssr.extra["step"], ssr.extra["probe_type"]) == ("Yes", (5.0, 8.0), "s2", 1)
    assert qs["ovo-3-p1"].answer == "No"
    crr = qs["ovo-4-p1"]
    assert crr.answer == "Yes" and crr.extra["clue_time"] == 15 and crr.question.startswith("What does she do?")
    assert {q.source for q in qs.values()} == {"ovobench"}


# ---------------------------------------------------------------- malformed input


def _mutate(data: list, fn: Any) -> list:
    data = json.loads(json.dumps(data))
    fn(data)
    return data


@pytest.mark.parametrize("data, fmt, needles", [
    ("{not json", "auto", ["not JSON"]),
    ({"questions": []}, "onlook", ["expected a JSON list"]),
    ([{"foo": 1}], "auto", ["unknown format", "entry 0"]),
    ([1, 2], "auto", ["unknown format"]),
    (ONLOOK, "yaml", ["unknown format 'yaml'"]),
    (_mutate(ONLOOK, lambda d: d[1].pop("video")), "onlook", ["entry 1", "missing field 'video'"]),
    (_mutate(ONLOOK, lambda d: d[2].update(time_s="soon")), "auto", ["entry 2", "bad time stamp"]),
    (_mutate(ONLOOK, lambda d: d[0].update(type="later")), "auto", ["entry 0", "unknown question type"]),
    (_mutate(ONLOOK, lambda d: d[1].update(answer="E")), "auto", ["entry 1", "answer 'E'"]),
    (_mutate(ONLOOK, lambda d: d[2].update(gt_span=[1])), "auto", ["entry 2", "gt_span"]),
    (_mutate(ONLOOK, lambda d: d[2].update(id="a-1")), "auto", ["question 2", "duplicate id 'a-1'"]),
    (_mutate(ONLOOK, lambda d: d.append("text")), "onlook", ["entry 3", "expected an object"]),
    (_mutate(ONLOOK, lambda d: d[1].update(options=["A. x", 2])), "auto", ["entry 1", "option 2"]),
    (_mutate(ONLOOK, lambda d: d[1].update(options="A. x")), "auto", ["entry 1", "'options' must be list"]),
    (_mutate(ONLOOK, lambda d: d[0].update(needs=["people", "cars"])), "auto", ["entry 0", "needs label 'cars'"]),
    (_mutate(ONLOOK, lambda d: d[0].update(needs="people")), "auto", ["entry 0", "needs must be a list"]),
    (_mutate(SB_REAL, lambda d: d[1]["questions"][0].update(time_stamp="noon")), "auto",
     ["entry 1, question 0", "bad time_stamp 'noon'"]),
    (_mutate(SB_REAL, lambda d: d[0]["questions"][1].pop("options")), "auto",
     ["entry 0, question 1", "missing field 'options'"]),
    (_mutate(SB_REAL, lambda d: d[0]["questions"][0].update(answer="Q")), "auto", ["entry 0, question 0", "'Q'"]),
    (_mutate(SB_REAL, lambda d: d[1].pop("video_path")), "streamingbench", ["entry 1", "'video_path'"]),
    (_mutate(SB_SQA, lambda d: d[0][2]["questions"][0].pop("question")), "auto",
     ["entry 0/2, question 0", "'question'"]),
    (_mutate(SB_PRO, lambda d: d[0]["questions"][0].update(ground_truth_time_stamp="x")), "auto",
     ["entry 0, question 0", "ground_truth_time_stamp"]),
    (_mutate(OVO, lambda d: d[1].update(gt=2)), "auto", ["entry 1", "gt 2"]),
    (_mutate(OVO, lambda d: d[0].update(realtime="1:00")), "auto", ["entry 0", "'realtime' must be a number"]),
    (_mutate(OVO, lambda d: d[2]["test_info"][1].pop("count")), "auto", ["entry 2, probe 1", "'count'"]),
    (_mutate(OVO, lambda d: d[3]["test_info"][0].update(type=2)), "auto", ["entry 3, probe 0", "0 or 1"]),
    (_mutate(OVO, lambda d: d[4].pop("test_info")), "ovobench", ["entry 4", "'test_info'"]),
    (_mutate(OVO, lambda d: d[0].update(options="abc")), "auto", ["entry 0", "'options' must be list"]),
])
def test_malformed_input_raises_one_line_query_error(tmp_path: Path, data: Any, fmt: str,
                                                     needles: list[str]) -> None:
    p = _write(tmp_path, data, "bad.json")
    with pytest.raises(QueryError) as info:
        load_questions(p, format=fmt)
    msg = str(info.value)
    assert "\n" not in msg and "bad.json" in msg
    for needle in needles:
        assert needle in msg


def test_missing_file_raises_query_error(tmp_path: Path) -> None:
    with pytest.raises(QueryError, match="nope.json: cannot read"):
        load_questions(tmp_path / "nope.json")


# ---------------------------------------------------------------- the real files


def test_onlook_questions_file(eval_dir: Path) -> None:
    qs = load_questions(eval_dir / "questions.json")
    assert len(qs) == 22 and {q.source for q in qs} == {"onlook"}
    assert Counter(q.type for q in qs) == {"realtime": 7, "count": 5, "backward": 5, "forward": 3, "grounding": 2}
    assert all(q.needs for q in qs)  # every question is labelled (README: "Every question ... carries needs")
    cases = load_alert_cases(eval_dir / "alerts.json")
    assert cases and all(c.needs for c in cases)
    for q in qs:
        if q.options:
            assert q.answer_index is not None
        if q.type in ("forward", "grounding"):
            assert q.gt_span is not None


REAL_FILES = {
    # file: (questions, per type, per task)
    "streamingbench/questions_real.json": (2500, {"realtime": 1701, "backward": 799}, {
        "Object Recognition": 367, "Action Recognition": 353, "Text-Rich Understanding": 321,
        "Clips Summarize": 317, "Attribute Recognition": 306, "Spatial Understanding": 246, "Counting": 193,
        "Event Understanding": 161, "Causal Reasoning": 128, "Prospective Reasoning": 108}),
    "streamingbench/questions_sqa.json": (250, {"realtime": 250}, {"Sequential Question Answering": 250}),
    "streamingbench/questions_proactive.json": (250, {"forward": 250}, {"Proactive Output": 250}),
    "ovo-bench/ovo_bench_new.json": (3035, {"backward": 631, "realtime": 837, "forward": 1567}, {
        "EPM": 297, "HLD": 186, "ASI": 148, "STU": 178, "OJR": 184, "ATR": 116, "ACR": 109, "OCR": 149,
        "FPD": 101, "REC": 698, "SSR": 629, "CRR": 240}),
}


@pytest.fixture(scope="module")
def real(bench_dir: Path) -> dict[str, list[EvalQuestion]]:
    return {name: load_questions(bench_dir / name) for name in REAL_FILES}


@pytest.mark.parametrize("name", list(REAL_FILES))
def test_real_files_parse_completely(real: dict[str, list[EvalQuestion]], name: str) -> None:
    qs = real[name]
    total, per_type, per_task = REAL_FILES[name]
    assert len(qs) == total
    assert Counter(q.type for q in qs) == per_type
    assert Counter(q.task for q in qs) == per_task
    assert len({q.id for q in qs}) == total
    for q in qs:
        if q.options:
            assert all(o[:3] == f"{chr(65 + i)}. " for i, o in enumerate(q.options))
            assert q.answer_index is not None
        assert q.video and not q.video.startswith("./")


def test_real_file_formats_are_sniffed(real: dict[str, list[EvalQuestion]]) -> None:
    sb = {q.source for name in REAL_FILES if name.startswith("stream") for q in real[name]}
    assert sb == {"streamingbench"}
    assert {q.source for q in real["ovo-bench/ovo_bench_new.json"]} == {"ovobench"}


def test_real_streamingbench_details(real: dict[str, list[EvalQuestion]]) -> None:
    qs = {q.id: q for q in real["streamingbench/questions_real.json"]}
    first = qs["sb-real-348-0"]
    assert (first.video, first.time_s, first.answer, first.type) == ("sample_348_real.mp4", 31.0, "C", "backward")
    odd = [q for q in qs.values() if "time_stamp_note" in q.extra]
    assert [(q.id, q.time_s) for q in odd] == [("sb-real-132-4", 12450.0)]  # published as "00:12450"
    sqa = real["streamingbench/questions_sqa.json"]
    assert sqa[0].options[0] == "A. Wang chuqin." and len(sqa[4].extra["context_ids"]) == 4
    pro = real["streamingbench/questions_proactive.json"]
    assert all(q.gt_span == (max(0.0, q.answer - 2), q.answer + 2) and q.answer >= q.time_s for q in pro)


def test_real_ovobench_details(real: dict[str, list[EvalQuestion]]) -> None:
    qs = {q.id: q for q in real["ovo-bench/ovo_bench_new.json"]}
    assert qs["ovo-0"].answer == "C" and qs["ovo-0"].time_s == 215.0
    assert qs["ovo-1326"].options[:3] == ("A. A. Wade", "B. B. Tyler", "C. D. Carter")
    crr = [qs[f"ovo-1468-p{k}"] for k in range(5)]
    assert [q.answer for q in crr] == ["No", "No", "Yes", "Yes", "Yes"] and crr[2].time_s == 310.0
    assert qs["ovo-1558-p0"].answer == 1 and qs["ovo-1516-p0"].gt_span == (25.0, 30.0)
    for q in qs.values():
        if q.task == "REC":
            assert isinstance(q.answer, int)
        elif q.task in ("SSR", "CRR"):
            assert q.answer in ("Yes", "No")
