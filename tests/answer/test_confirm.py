"""Alert confirmation: yes/no decisions, rate limits, policies, and the engine hook (off the ingest thread)."""

from __future__ import annotations

import threading
import time

import pytest
from media import scene_frames

from onlook.answer.confirm import AlertConfirmer, Verdict, confirm_question
from onlook.config import Settings
from onlook.engine import StreamEngine
from onlook.errors import ConfigError, ModelError
from onlook.perception.pipeline import Perceiver
from onlook.sources import FakeSource
from onlook.types import Alert, Answer

pytestmark = pytest.mark.timeout(60)


class FakeVLM:
    """Answers the yes/no check from a script; records what it was asked."""

    def __init__(self, replies=("A",), delay_s: float = 0.0) -> None:
        self.replies = list(replies)
        self.delay_s = delay_s
        self.asked: list[tuple[str, list[str], float | None]] = []
        self.threads: set[str] = set()

    def choose(self, question, options, view, at=None):
        self.asked.append((question, options, at))
        self.threads.add(threading.current_thread().name)
        if self.delay_s:
            time.sleep(self.delay_s)
        r = self.replies[min(len(self.asked) - 1, len(self.replies) - 1)]
        if isinstance(r, Exception):
            raise r
        letter = r if r in ("A", "B") else None
        return Answer(question, r, at or 0.0, 0.6 if letter else 0.0, abstained=letter is None, value=letter)


def _alert(t: float, query: str = "a person enters the view") -> Alert:
    return Alert(query=query, t=t, wall=0.0, stream_id="cam")


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


@pytest.mark.parametrize("reply,fire,reason", [("A", True, "confirmed"), ("B", False, "rejected"),
                                               ("hmm, hard to say", True, "unclear")])
def test_check_decides_from_the_models_reply(reply, fire, reason):
    vlm = FakeVLM([reply])
    v = AlertConfirmer(vlm).check(_alert(12.0), view=None)
    assert (v.fire, v.reason, v.checked) == (fire, reason, True)
    q, opts, at = vlm.asked[0]
    assert q == confirm_question("a person enters the view") and opts == ["A. yes", "B. no"] and at == 12.0


def test_rate_limit_per_minute_and_per_query_interval():
    clock = Clock()
    vlm = FakeVLM(["B"])
    c = AlertConfirmer(vlm, max_per_minute=2, min_interval_s=5.0, clock=clock)
    assert c.check(_alert(10.0), None).reason == "rejected"
    assert c.check(_alert(12.0), None).reason == "rate-limited"        # same query within 5 s of stream
    assert c.check(_alert(12.0, "a scene change"), None).reason == "rejected"
    limited = c.check(_alert(30.0), None)                                 # third call within the minute
    assert limited == Verdict(True, False, "rate-limited")                # fired unchecked (default policy)
    clock.now = 61.0
    assert c.check(_alert(40.0), None).checked
    assert len(vlm.asked) == 3 and c.stats["unchecked"] == 2


def test_drop_policy_and_model_errors():
    c = AlertConfirmer(FakeVLM([ModelError("cannot reach the model server")]), when_unchecked="drop")
    v = c.check(_alert(1.0), None)
    assert not v.fire and not v.checked and v.reason.startswith("error: cannot reach")
    c = AlertConfirmer(FakeVLM([ModelError("timeout")]))
    assert c.check(_alert(1.0), None).fire  # default: never lose an alert because the checker failed


@pytest.mark.parametrize("kw", [dict(when_unchecked="maybe"), dict(max_per_minute=0), dict(queue_size=0),
                                dict(min_interval_s=-1)])
def test_bad_settings(kw):
    with pytest.raises(ConfigError):
        AlertConfirmer(FakeVLM(), **kw)


def test_submit_runs_off_the_callers_thread_and_full_queue_is_decided_at_once():
    vlm = FakeVLM(["A"], delay_s=0.2)
    c = AlertConfirmer(vlm, max_per_minute=100, min_interval_s=0.0, queue_size=1)
    got: list[tuple[float, Verdict]] = []
    t0 = time.perf_counter()
    for t in (1.0, 2.0, 3.0, 4.0):
        c.submit(_alert(t), None, lambda a, v: got.append((a.t, v)))
    assert time.perf_counter() - t0 < 0.15  # submit never waits for the model
    assert c.drain(5.0)
    reasons = sorted((t, v.reason) for t, v in got)
    assert len(reasons) == 4 and ("busy" in {r for _, r in reasons})
    assert vlm.threads == {"onlook-confirm"}
    c.close()


def _engine(tmp_path, confirmer) -> StreamEngine:
    settings = Settings(fps=5.0, detect_faces=False, detect_text=False, detect_people=False, store=tmp_path / "s")
    eng = StreamEngine(FakeSource(scene_frames(8, cut_at=4.0), fps=10), settings=settings,
                       perceiver=Perceiver(settings), alerts=["a scene change"])
    eng.confirmer = confirmer
    return eng


@pytest.mark.parametrize("reply,fired", [("A", [4.0]), ("B", [])])
def test_engine_fires_only_confirmed_alerts(tmp_path, reply, fired):
    vlm = FakeVLM([reply], delay_s=0.3)
    eng = _engine(tmp_path, AlertConfirmer(vlm))
    msgs: list[dict] = []
    eng.subscribe(msgs.append)
    eng.run()  # run() drains pending checks before it ends
    alerts = [round(m["t"], 1) for m in msgs if m["type"] == "alert"]
    assert alerts == fired
    assert len(vlm.asked) == 1 and vlm.asked[0][2] == pytest.approx(4.0)
    assert len(eng.store.alerts()) == len(fired)
    if fired:
        assert eng.stats["alert_delays_s"][-1] >= 0.3  # the check's latency is part of the alert's delay
    eng.close()
