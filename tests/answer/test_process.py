"""The VLM answerer in a child process: same answers as in-process, from the same memory, errors as one line."""

from __future__ import annotations

import os

import pytest

from onlook.answer.factory import build_answerer
from onlook.answer.openai_vlm import OpenAIAnswerer
from onlook.answer.process import ChildLive, LiveSnapshot, ProcessAnswerer
from onlook.answer.stub_server import STUB_REPLY, stub_openai_server
from onlook.config import Settings
from onlook.errors import ConfigError, ModelError

pytestmark = [pytest.mark.timeout(120)]


@pytest.fixture(scope="module")
def standin():
    with stub_openai_server(0.0) as (url, _):
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
    assert ans.text == STUB_REPLY and not ans.abstained
    assert ans.evidence and all(e.t <= ans.at for e in ans.evidence)
    pieces = list(vlm.stream_answer("and then?", view, history=[{"question": "who came in?", "answer": "x"}]))
    assert len(pieces) == len(STUB_REPLY.split()) and "".join(pieces).strip() == STUB_REPLY


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


def test_snapshot_carries_no_pixels(make_view):
    """The snapshot names the newest frames (number, time, hash) and holds the window for the sender."""
    import pickle

    from onlook.answer.context import dhash

    view = make_view()
    snap, window = LiveSnapshot.of(view.live, keep=3)
    recent = view.live.recent_frames()
    assert [(r.seq, r.t) for r in snap.refs] == [(a.frame.seq, a.frame.pts) for a in recent[-3:]]
    assert [r.digest for r in snap.refs] == [dhash(a.frame.image) for a in recent[-3:]]
    assert sorted(window) == [a.frame.seq for a in recent[-3:]]
    assert snap.state == view.live.latest() and snap.event == view.live.open_event()
    assert len(pickle.dumps(snap)) < 20_000  # a 16-frame window of pixels would be megabytes
    assert LiveSnapshot.of(None, 3) is None


def test_child_live_fetches_each_frame_once(make_view):
    """The child asks only for frames it does not hold; frames that left the window are forgotten."""
    import pickle

    view = make_view()
    window = view.live.recent_frames()
    asked: list[list[int]] = []
    by_seq = {a.frame.seq: a for a in window}

    def fetch(seqs):
        asked.append(list(seqs))
        return [pickle.loads(pickle.dumps(by_seq[s])) for s in seqs]

    kept: dict[int, object] = {}
    first = ChildLive(LiveSnapshot(refs=LiveSnapshot.of(view.live, keep=8)[0].refs[:6]), kept, fetch)
    newest = [r.seq for r in first.recent_refs()[-2:]]
    assert sorted(first.recent_images(newest)) == sorted(newest) and asked == [newest]
    first.recent_images(newest)
    assert len(asked) == 1  # held now
    second = ChildLive(LiveSnapshot.of(view.live, keep=8)[0], kept, fetch)
    frames = second.recent_frames()
    assert [a.frame.pts for a in frames] == [a.frame.pts for a in window[-8:]]
    assert sorted(asked[1]) == sorted(set(a.frame.seq for a in window[-8:]) - set(newest))
    assert all(not a.frame.image.flags.writeable for a in frames)
    ChildLive(LiveSnapshot(refs=second.recent_refs()[-3:]), kept, fetch)
    assert sorted(kept) == [r.seq for r in second.recent_refs()[-3:]]  # pruned to the window


def test_build_context_fetches_only_the_frames_it_shows(make_view):
    """Through the refs, build_context picks the same frames as from the whole window, and
    fetches only the pixels of the recent frames it shows."""
    from onlook.answer.context import ContextBudget, build_context
    from onlook.query.search import MemoryView

    view = make_view()
    snap, window = LiveSnapshot.of(view.live, keep=16)
    asked: list[int] = []

    def fetch(seqs):
        asked.extend(seqs)
        return [window[s] for s in seqs]

    child = MemoryView(view.store, live=ChildLive(snap, {}, fetch), stream_id="cam")
    budget = ContextBudget(images=6, recent=3)
    a = build_context("what is the person in red carrying?", child, budget=budget)
    b = build_context("what is the person in red carrying?", view, budget=budget)
    assert [(f.t, f.why) for f in a.frames] == [(f.t, f.why) for f in b.frames]
    shown = {round(f.t, 3) for f in a.frames if f.why == "recent"}
    assert shown and sorted(round(window[s].frame.pts, 3) for s in asked) == sorted(shown)
    assert len(asked) < len(window)


def test_budget_reaches_the_child(standin, make_view):
    a = ProcessAnswerer(Settings(answerer="openai", answerer_model="bench", answerer_base_url=standin,
                                 answerer_retries=0, context_images=2, context_recent=1))
    try:
        ans = a.answer("what is the person in red carrying?", make_view())
        assert 1 <= len(ans.evidence) <= 2
    finally:
        a.close()


def test_a_question_given_up_on_does_not_answer_the_next(make_view):
    """A reply that comes after its question timed out is dropped: the next question gets its own."""
    with stub_openai_server(1.0) as (url, _):
        a = ProcessAnswerer(Settings(answerer="openai", answerer_model="bench", answerer_base_url=url,
                                     answerer_retries=0, answerer_timeout_s=10))
        try:
            view = make_view()
            a.timeout_s = 0.3  # the stand-in takes 1 s per answer
            with pytest.raises(ModelError, match="no reply within"):
                a.answer("first question?", view)
            a.timeout_s = 10.0
            second = a.answer("second question?", view)
            assert second.question == "second question?" and second.text == STUB_REPLY
            # Also after a streamed answer left after its first piece.
            pieces = a.stream_answer("third question?", view)
            next(pieces)
            pieces.close()
            fourth = a.answer("fourth question?", view)
            assert fourth.question == "fourth question?"
        finally:
            a.close()
