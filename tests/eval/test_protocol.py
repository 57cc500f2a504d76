"""The causal protocol: each question sees nothing after its time; forward questions fire later."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from media import scene_frames, write_clip

from onlook.config import Settings
from onlook.engine import StreamEngine
from onlook.eval import EvalQuestion, load_questions
from onlook.eval.protocol import CausalityError, run_protocol
from onlook.eval.scoring import score_response, summarize
from onlook.perception.pipeline import Perceiver

pytestmark = pytest.mark.timeout(120)

FAST = Settings(fps=5.0, detect_faces=False, detect_text=False, detect_people=False)


@pytest.fixture
def clip_dir(tmp_path: Path) -> Path:
    write_clip(tmp_path / "cuts.mp4", scene_frames(8, cut_at=3.0, walker_from=100), fps=10)
    return tmp_path


def _factory(record: list):
    def make(src: str, settings: Settings) -> StreamEngine:
        eng = StreamEngine(src, settings=settings, perceiver=Perceiver(settings), stream_id="eval")
        orig = eng.answerer.answer

        def spy(question, view, at=None):
            record.append((question, at, eng.seen_until))
            return orig(question, view, at=at)

        eng.answerer.answer = spy  # type: ignore[method-assign]  # spying on the calls
        return eng

    return make


def test_questions_never_see_frames_after_their_time(clip_dir):
    qs = [EvalQuestion(f"q{i}", "cuts.mp4", t, "how many scene changes so far?", "count", answer=int(t >= 3.0))
          for i, t in enumerate([0.0, 1.0, 2.9, 3.0, 3.05, 6.0, 7.9])]
    seen: list = []
    responses = run_protocol(qs, clip_dir, settings=FAST, engine_factory=_factory(seen))
    assert [r.question.id for r in responses] == [q.id for q in qs]
    for (_question, at, seen_until), q in zip(seen, qs):
        assert at == q.time_s and seen_until <= q.time_s
    scored = [score_response(r) for r in responses]
    assert [s.correct for s in scored] == [True] * len(qs)  # 0 cuts before 3.0 s, 1 from 3.0 s on


def test_an_engine_that_looks_ahead_is_caught(clip_dir):
    class Peeking(StreamEngine):
        @property
        def seen_until(self) -> float:
            return super().seen_until + 1.0  # pretends to have seen a second further

    q = EvalQuestion("q", "cuts.mp4", 2.0, "how many scene changes so far?", "count", answer=0)
    with pytest.raises(CausalityError):
        run_protocol([q], clip_dir, settings=FAST,
                     engine_factory=lambda src, s: Peeking(src, settings=s, perceiver=Perceiver(s)))


def test_forward_question_is_answered_by_a_later_alert(clip_dir):
    q = EvalQuestion("f", "cuts.mp4", 1.0, "tell me when there is a scene change", "forward", answer=3.0,
                     gt_span=(3.0, 3.0))
    refused = EvalQuestion("g", "cuts.mp4", 1.0, "tell me when the dog barks", "forward", answer=5.0,
                           gt_span=(5.0, 5.0))
    r1, r2 = run_protocol([q, refused], clip_dir, settings=FAST)
    assert r1.fired and r1.fired[0] == pytest.approx(3.0)
    assert score_response(r1).correct
    assert r2.answer.abstained and not score_response(r2).correct and score_response(r2).abstained


def test_missing_video_is_reported_not_fatal(clip_dir):
    q = EvalQuestion("m", "nope.mp4", 1.0, "how many people are visible now?", "count", answer=0)
    (r,) = run_protocol([q], clip_dir, settings=FAST)
    assert r.answer is None and "not found" in r.error
    s = score_response(r)
    assert not s.correct and s.abstained
    assert summarize([s])["overall"] == 0.0


def _onlook(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "onlook.cli", *args], capture_output=True, text=True, timeout=170,
                          # Speech off: these clips are silent and the figures are about what is seen
                          # (the speech capability has its own tests, tests/test_speech.py).
                          env={**os.environ, "COLUMNS": "200", "ONLOOK_SPEECH": "false", **(env or {})})


def _strict_json(text: str):
    """Parse JSON refusing the NaN/Infinity that Python's json writes and reads by default."""
    def refuse(name: str):
        raise AssertionError(f"non-standard JSON constant {name} in output")

    return json.loads(text, parse_constant=refuse)


def test_eval_cli_json_and_jsonl(clip_dir, tmp_path):
    qfile = tmp_path / "q.json"
    qfile.write_text(json.dumps([
        {"id": "c1", "video": "cuts.mp4", "time_s": 5.0, "question": "How many scene cuts so far?", "type": "count",
         "answer": 1, "needs": ["shots"]},
        {"id": "c2", "video": "cuts.mp4", "time_s": 6.0, "question": "When was the first scene change?",
         "type": "grounding", "answer": 3.0, "gt_span": [3.0, 3.4], "needs": ["shots"]},
        {"id": "c3", "video": "cuts.mp4", "time_s": 6.0, "question": "What is the man holding?", "type": "realtime",
         "options": ["A. A pen", "B. A cup"], "answer": "A", "needs": ["people", "hands", "objects"]},
        {"id": "c4", "video": "cuts.mp4", "time_s": 6.0, "question": "How many scene changes so far?",
         "type": "count", "answer": 1},
    ]))
    out = tmp_path / "res.jsonl"
    r = _onlook("eval", str(qfile), "--footage", str(clip_dir), "--json", "--out", str(out),
                env={"ONLOOK_DETECT_FACES": "false", "ONLOOK_DETECT_OBJECTS": "false", "ONLOOK_DETECT_HANDS": "false"})
    assert r.returncode == 0, r.stderr
    summary = _strict_json(r.stdout)
    assert summary["overall"] == pytest.approx(3 / 4)
    assert summary["by_type"] == {"count": 1.0, "grounding": 1.0, "realtime": 0.0}
    # the subset is decided by needs and the engine's capabilities (faces, objects switched off), not by the words
    assert summary["capabilities"] == ["motion", "ocr", "people", "person_colour", "pose", "scene_colour", "shots"]
    pv = summary["perceivable"]
    assert (pv["n"], pv["correct"], pv["accuracy"], pv["ids"]) == (2, 2, 1.0, ["c1", "c2"])
    assert (summary["unlabelled"]["n"], summary["unlabelled"]["correct"]) == (1, 1)
    need = summary["by_need"]
    assert list(need) == ["people", "hands", "objects", "shots"]
    assert (need["objects"]["n"], need["objects"]["correct"], need["objects"]["accuracy"],
            need["objects"]["declared"]) == (1, 0, 0.0, False)
    assert need["people"]["declared"] is True and need["shots"]["accuracy"] == 1.0
    rows = [_strict_json(ln) for ln in out.read_text().splitlines()]
    assert {k for k in rows[0]} >= {"id", "answer", "correct", "abstained", "evidence_times", "latency_s", "needs"}
    assert rows[2]["abstained"] is True and rows[2]["correct"] is False
    assert rows[2]["needs"] == ["hands", "objects", "people"] and rows[3]["needs"] is None


def test_eval_cli_human_output_reports_by_need(clip_dir, tmp_path):
    qfile = tmp_path / "q.json"
    qfile.write_text(json.dumps([
        {"id": "c1", "video": "cuts.mp4", "time_s": 5.0, "question": "How many scene cuts so far?", "type": "count",
         "answer": 1, "needs": ["shots"]},
        {"id": "c2", "video": "cuts.mp4", "time_s": 5.0, "question": "Is the man smiling?", "type": "realtime",
         "options": ["A. yes", "B. no"], "answer": "A", "needs": ["face_state"]}]))
    r = _onlook("eval", str(qfile), "--footage", str(clip_dir), "--no-faces", "--no-ocr", "--no-people", "--no-objects",
                "--no-hands")
    assert r.returncode == 0, r.stderr
    assert "engine capabilities: motion, scene_colour, shots" in r.stdout
    assert "by need" in r.stdout and "face_state" in r.stdout and "perceivable" in r.stdout
    assert "nan" not in r.stdout.lower()


def test_eval_alerts_cli_by_need_without_nan(clip_dir, tmp_path):
    afile = tmp_path / "alerts.json"
    afile.write_text(json.dumps([
        {"video": "cuts.mp4", "query": "a scene change", "gt_times": [3.0], "needs": ["shots"]},
        {"video": "cuts.mp4", "query": "the dog barks", "gt_times": [5.0], "needs": ["objects", "beyond"]},
        {"video": "cuts.mp4", "query": "a person enters the view", "gt_times": []},
    ]))
    # the settings' env switches work too
    off = {"ONLOOK_DETECT_FACES": "false", "ONLOOK_DETECT_TEXT": "false", "ONLOOK_DETECT_OBJECTS": "false",
           "ONLOOK_DETECT_HANDS": "false"}
    r = _onlook("eval-alerts", str(afile), "--footage", str(clip_dir), "--json", env=off)
    assert r.returncode == 0, r.stderr
    s = _strict_json(r.stdout)
    assert s["capabilities"] == ["motion", "people", "person_colour", "pose", "scene_colour", "shots"]
    assert (s["perceivable"]["cases"], s["perceivable"]["f1"]) == (1, 1.0)
    assert s["perceivable"]["delay_p95_s"] is not None
    assert s["unlabelled"]["cases"] == 1 and s["refused"] == 1
    need = s["by_need"]
    assert need["beyond"]["declared"] is False and need["beyond"]["recall"] == 0.0
    assert need["beyond"]["delay_p95_s"] is None  # no hit: null, where it used to be NaN
    refused = next(q for q in s["per_query"] if q["query"] == "the dog barks")
    assert refused["refused"] and refused["delay_p50_s"] is None and refused["needs"] == ["beyond", "objects"]
    human = _onlook("eval-alerts", str(afile), "--footage", str(clip_dir), "--no-faces", "--no-ocr",
                    "--no-objects", "--no-hands")
    assert human.returncode == 0, human.stderr
    assert "by need" in human.stdout and "perceivable" in human.stdout and "nan" not in human.stdout.lower()
    assert "engine capabilities: motion, people, person_colour, pose, scene_colour, shots" in human.stdout


def test_eval_alerts_cli_bad_needs(clip_dir, tmp_path):
    afile = tmp_path / "alerts.json"
    afile.write_text(json.dumps([{"video": "cuts.mp4", "query": "a scene change", "gt_times": [3.0],
                                  "needs": ["cuts"]}]))
    r = _onlook("eval-alerts", str(afile), "--footage", str(clip_dir))
    assert r.returncode == 2 and "needs label 'cuts'" in r.stderr and "Traceback" not in r.stderr


@pytest.mark.parametrize("fmt", ["streamingbench", "ovobench"])
def test_benchmark_formats_end_to_end_on_generated_clips(tmp_path, fmt):
    """Files in the published layouts, with clips generated under the names they expect."""
    videos = tmp_path / "videos"
    videos.mkdir()
    write_clip(videos / "sample_1_real.mp4", scene_frames(6, cut_at=2.0, walker_from=100), fps=10)
    if fmt == "streamingbench":
        data = [{"time": "[0:00:00 - 0:00:06]", "video_categories": "test", "video_path": "./videos/sample_1_real.mp4",
                 "questions": [{"task_type": "Counting", "question": "How many scene changes so far?",
                                "time_stamp": "00:00:05", "answer": "B", "options": ["A. 0", "B. 1", "C. 2", "D. 3"],
                                "required_ability": "counting"}]}]
    else:
        data = [{"id": 7, "task": "STU", "video": "sample_1_real.mp4", "realtime": 5,
                 "question": "How many scene changes so far?", "answer": "1", "options": ["0", "1", "2", "3"], "gt": 1}]
    qfile = tmp_path / f"{fmt}.json"
    qfile.write_text(json.dumps(data))
    assert len(load_questions(qfile)) == 1
    r = _onlook("eval", "--format", fmt, str(qfile), "--footage", str(videos), "--json")
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["overall"] == 1.0


def test_eval_cli_bad_inputs(tmp_path):
    r = _onlook("eval", str(tmp_path / "missing.json"), "--footage", str(tmp_path))
    assert r.returncode == 2 and "Traceback" not in r.stderr and len(r.stderr.strip().splitlines()) == 1
    (tmp_path / "bad.json").write_text("{not json")
    r = _onlook("eval", str(tmp_path / "bad.json"), "--footage", str(tmp_path))
    assert r.returncode == 2 and "Traceback" not in r.stderr
    (tmp_path / "ok.json").write_text("[]")
    r = _onlook("eval", str(tmp_path / "ok.json"), "--footage", str(tmp_path / "nofolder"))
    assert r.returncode == 2 and "does not exist" in r.stderr
    r = _onlook("eval", str(tmp_path / "ok.json"), "--footage", str(tmp_path),
                "--out", str(tmp_path / "no" / "x.jsonl"))
    assert r.returncode == 2 and "cannot write" in r.stderr and "Traceback" not in r.stderr
