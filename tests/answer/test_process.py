"""The VLM answerer in a child process: same answers as in-process, from the same memory, errors as one line."""

from __future__ import annotations

import os

import pytest

from onlook.answer.factory import build_answerer
from onlook.answer.openai_vlm import OpenAIAnswerer
from onlook.answer.process import LiveSnapshot, ProcessAnswerer
from onlook.bench import _VLM_REPLY, _standin_vlm
from onlook.config import Settings
from onlook.errors import ConfigError, ModelError

pytestmark = [pytest.mark.timeout(120)]


@pytest.fixture(scope="module")
def standin():
    with _standin_vlm(0.0) as (url, _):
        yield url


@pytest.fixture(scope="module")
def vlm(standin):
    a = ProcessAnswerer(Settings(answerer="openai", answerer_model="bench", answerer_base_url=standin,
                                 answerer_retries=0, answerer_timeout_s=10))
    yield a
    a.close()


def test_answers_come_from_a_child_process(vlm, make_view):
    view = make_view()
    assert vlm.child_pid != os.getpid()
    # At a lower CPU priority than the watching process (answerer_nice, 10 by default).
    assert os.getpriority(os.PRIO_PROCESS, vlm.child_pid) == min(19, os.getpriority(os.PRIO_PROCESS, 0) + 10)
    ans = vlm.answer("what is the person in red carrying?", view)
    assert ans.text == _VLM_REPLY and not ans.abstained
    assert ans.evidence and all(e.t <= ans.at for e in ans.evidence)
    pieces = list(vlm.stream_answer("and then?", view, history=[{"question": "who came in?", "answer": "x"}]))
    assert len(pieces) == len(_VLM_REPLY.split()) and "".join(pieces).strip() == _VLM_REPLY


def test_the_child_sees_what_the_watcher_sees(vlm, standin, make_view):
    """Same evidence as an in-process answerer: the store read-only plus the live snapshot (open event,
    latest state, recent frames) equal the watcher's own view."""
    view = make_view(end=30.0)  # live: the person is still in view, an event is open
    assert view.live.open_event() is not None
    local = OpenAIAnswerer("bench", base_url=standin, retries=0, timeout_s=10)
    for at in (None, 14.0):
        a = vlm.answer("what is the person in red carrying?", view, at=at)
        b = local.answer("what is the person in red carrying?", view, at=at)
        assert a.at == b.at
        assert [(e.t, e.keyframe) for e in a.evidence] == [(e.t, e.keyframe) for e in b.evidence]
    local.client.close()


def test_choose_goes_through_the_child(vlm, standin, make_view):
    view = make_view()
    options = ["A. a person walked in", "B. nothing"]
    ans = vlm.choose("what happened?", options, view)
    local = OpenAIAnswerer("bench", base_url=standin, retries=0, timeout_s=10)
    same = local.choose("what happened?", options, view)
    local.client.close()
    assert (ans.value, ans.abstained, ans.text) == (same.value, same.abstained, same.text)
    assert ans.value == "A"  # the stand-in's reply starts "A person ...": read as option A, as in-process


def test_server_down_is_a_one_line_model_error(make_view):
    from media import free_port

    a = ProcessAnswerer(Settings(answerer="openai", answerer_model="m", answerer_retries=0, answerer_timeout_s=3,
                                 answerer_base_url=f"http://127.0.0.1:{free_port()}/v1"))
    try:
        with pytest.raises(ModelError) as exc:
            a.answer("what happened?", make_view())
        assert "\n" not in str(exc.value)
        # The child survives a failed question.
        with pytest.raises(ModelError):
            a.answer("what happened?", make_view(name="other"))
    finally:
        a.close()


def test_bad_settings_fail_at_construction():
    with pytest.raises(ConfigError, match="needs --model"):
        ProcessAnswerer(Settings(answerer="openai"))


def test_factory_puts_the_openai_answerer_in_its_own_process(standin):
    s = Settings(answerer="openai", answerer_model="bench", answerer_base_url=standin)
    a = build_answerer(s)
    try:
        assert isinstance(a, ProcessAnswerer)
    finally:
        a.close()
    assert isinstance(build_answerer(s, in_process=True), OpenAIAnswerer)
    assert isinstance(build_answerer(s.model_copy(update={"answerer_process": False})), OpenAIAnswerer)


def test_snapshot_keeps_the_newest_frames(make_view):
    view = make_view()
    snap = LiveSnapshot.of(view.live, keep=3)
    recent = view.live.recent_frames()
    assert [a.frame.pts for a in snap.recent_frames()] == [a.frame.pts for a in recent[-3:]]
    assert snap.latest() == view.live.latest() and snap.open_event() == view.live.open_event()
    assert LiveSnapshot.of(None, 3) is None


def test_snapshot_sends_each_frame_once(make_view):
    """A second question ships only the frames analysed since the first; the child fills in the rest."""
    import pickle

    view = make_view()
    window = view.live.recent_frames()
    first = LiveSnapshot.of(view.live, keep=8)
    kept: dict[int, object] = {}
    pickle.loads(pickle.dumps(first)).resolve(kept)
    assert sorted(kept) == sorted(a.frame.seq for a in window[-8:])
    known = {a.frame.seq for a in window[-8:-2]}  # pretend two frames came after the child's last question
    second = LiveSnapshot.of(view.live, keep=8, known=known)
    assert sum(not isinstance(a, int) for a in second.recent) == 2
    assert len(pickle.dumps(second)) < len(pickle.dumps(first)) / 2
    child = pickle.loads(pickle.dumps(second))
    child.resolve(kept)
    assert [a.frame.pts for a in child.recent_frames()] == [a.frame.pts for a in window[-8:]]
    assert all(not a.frame.image.flags.writeable for a in child.recent_frames())


def test_budget_reaches_the_child(standin, make_view):
    a = ProcessAnswerer(Settings(answerer="openai", answerer_model="bench", answerer_base_url=standin,
                                 answerer_retries=0, context_images=2, context_recent=1))
    try:
        ans = a.answer("what is the person in red carrying?", make_view())
        assert 1 <= len(ans.evidence) <= 2
    finally:
        a.close()
