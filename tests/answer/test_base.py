"""The declared answerer seam: every backend derives from the base, defaults work, state is per call."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest

from onlook.answer.base import Answerer, AnswerStream, BaseAnswerer
from onlook.answer.context import Context
from onlook.answer.extractive import ExtractiveAnswerer
from onlook.answer.factory import BACKENDS, build_answerer, register_backend
from onlook.answer.fake import FakeAnswerer
from onlook.answer.openai_vlm import OpenAIAnswerer
from onlook.answer.process import ProcessAnswerer
from onlook.answer.transformers_vlm import TransformersAnswerer
from onlook.answer.vlm import VLMAnswerer
from onlook.cluster.models import ServeAnswerer
from onlook.cluster.remote import RemoteStream
from onlook.config import Settings
from onlook.errors import ConfigError


@pytest.mark.parametrize("cls", [ExtractiveAnswerer, OpenAIAnswerer, TransformersAnswerer, ProcessAnswerer,
                                 ServeAnswerer, FakeAnswerer])
def test_every_backend_derives_from_the_base(cls):
    assert issubclass(cls, BaseAnswerer) and Answerer is BaseAnswerer
    for flag in ("takes_history", "streams", "chooses"):
        assert isinstance(getattr(cls, flag), bool)


@pytest.mark.parametrize(("cls", "history", "streams", "chooses"), [
    (ExtractiveAnswerer, False, False, True),
    (OpenAIAnswerer, True, True, True),
    (TransformersAnswerer, True, True, True),
    (ProcessAnswerer, True, True, True),
    (ServeAnswerer, True, False, False),  # whole replies from the deployment; evaluations ask as questions
])
def test_declared_capabilities(cls, history, streams, chooses):
    assert (cls.takes_history, cls.streams, cls.chooses) == (history, streams, chooses)


def test_the_remote_answerer_declares_history_only():
    stream = RemoteStream(executor=None, stream_id="s", vlm=True)  # type: ignore[arg-type]  # never called
    a = stream.answerer
    assert isinstance(a, BaseAnswerer) and a.takes_history and not a.streams and not a.chooses


class _Counting(BaseAnswerer):
    """Only ``answer``: counts people entered, as the extractive answerer would (it is used for choose)."""

    def __init__(self) -> None:
        self.asked: list[tuple[str, float | None]] = []

    def answer(self, question, view, at=None, *, history=()):
        self.asked.append((question, at))
        return ExtractiveAnswerer().answer(question, view, at)


def test_defaults_choose_from_memory_and_stream_the_whole_answer(make_view):
    view = make_view()
    a = _Counting()
    pick = a.choose("how many people entered so far?", ["A. none", "B. one person", "C. three"], view, at=30.0)
    assert pick.value == "B" and pick.at == 30.0
    assert pick == ExtractiveAnswerer().choose("how many people entered so far?",
                                               ["A. none", "B. one person", "C. three"], view, at=30.0)
    stream = a.stream_answer("how many people entered so far?", view, at=30.0)
    assert isinstance(stream, AnswerStream) and stream.at is None  # lazy: nothing asked yet
    n = len(a.asked)
    pieces = list(stream)
    assert len(a.asked) == n + 1 and len(pieces) == 1
    assert stream.at == 30.0 and stream.answer is not None and pieces == [stream.answer.text]
    assert stream.answer.value == 1
    chosen = a.stream_answer("how many people entered so far?", view, at=30.0, options=["A. one", "B. two"])
    assert "".join(chosen).startswith("A.") and chosen.answer.value == "A"


def test_an_answer_stream_closed_before_it_starts_runs_nothing():
    ran: list[int] = []
    s = AnswerStream(lambda st: ran.append(1) or iter(["x"]))
    s.close()
    assert list(s) == [] and ran == []


class _EchoVLM(VLMAnswerer):
    """A VLM whose model replies with the stream time of the context it was shown, in two pieces."""

    name = "echo"

    def __init__(self) -> None:
        super().__init__()
        self.shown: list[Context] = []

    def reply_pieces(self, question, ctx, view, options, history) -> Iterator[str]:
        self.shown.append(ctx)
        yield "B " if options else "at "
        yield f"{ctx.at:g}"


def test_vlm_base_flow_answer_choose_and_reply(make_view):
    view = make_view()
    vlm = _EchoVLM()
    ans = vlm.answer("what happened?", view, at=20.0)
    assert ans.text == "at 20" and ans.at == 20.0
    pick = vlm.choose("which?", ["A. a cup", "B. a bag"], view, at=21.0)
    assert pick.value == "B" and pick.confidence == 0.6
    ctx = vlm.shown[-1]
    assert vlm.reply("q", ctx) == "at 21" and vlm.reply("q", ctx, options=["A. x", "B. y"]) == "B 21"
    assert not hasattr(vlm, "last_context")  # no per-question state on a shared answerer


def test_concurrent_streams_of_one_answerer_keep_their_own_context(make_view):
    view = make_view()
    vlm = _EchoVLM()
    early, late = vlm.stream_answer("q?", view, at=10.0), vlm.stream_answer("q?", view, at=30.0)
    assert next(early) == "at " and next(late) == "at "
    assert (early.at, late.at) == (10.0, 30.0)  # the later start did not overwrite the earlier one
    assert early.context.at == 10.0 and late.context.at == 30.0
    assert "".join(late) == "30" and "".join(early) == "10"


def test_streams_on_threads_do_not_mix(make_view):
    view = make_view()
    vlm = _EchoVLM()
    got: dict[float, tuple[float | None, str]] = {}
    barrier = threading.Barrier(4)

    def run(at: float) -> None:
        s = vlm.stream_answer("q?", view, at=at)
        first = next(s)
        barrier.wait(5)
        got[at] = (s.at, first + "".join(s))

    threads = [threading.Thread(target=run, args=(float(t),)) for t in (5, 15, 25, 35)]
    for th in threads:
        th.start()
    for th in threads:
        th.join(10)
    assert got == {t: (t, f"at {t:g}") for t in (5.0, 15.0, 25.0, 35.0)}


# --- the registry -----------------------------------------------------------------------------


def test_build_answerer_never_returns_none():
    a = build_answerer(Settings())
    assert isinstance(a, ExtractiveAnswerer)
    assert sorted(BACKENDS) == ["extractive", "openai", "serve", "transformers"]


@pytest.mark.parametrize(("answerer", "message"), [
    ("openai", "--answerer openai needs --model"),
    ("transformers", "--answerer transformers needs --model"),
])
def test_vlm_backends_need_a_model(answerer, message):
    with pytest.raises(ConfigError, match=message):
        build_answerer(Settings(answerer=answerer))


def test_registered_backends_are_built_by_name(monkeypatch):
    monkeypatch.setattr("onlook.answer.factory.BACKENDS", dict(BACKENDS))
    built: list[tuple[bool, bool]] = []

    def fake(settings, *, load=True, in_process=False):
        built.append((load, in_process))
        return FakeAnswerer()

    register_backend("openai", fake)
    a = build_answerer(Settings(answerer="openai", answerer_model="m"), load=False, in_process=True)
    assert isinstance(a, FakeAnswerer) and built == [(False, True)]
    unknown = Settings().model_copy(update={"answerer": "nope"})
    with pytest.raises(ConfigError, match="unknown answerer 'nope'"):
        build_answerer(unknown)
    with pytest.raises(ConfigError):
        register_backend("", fake)


def test_openai_answerer_built_in_process():
    s = Settings(answerer="openai", answerer_model="m", answerer_process=False)
    a = build_answerer(s)
    assert isinstance(a, OpenAIAnswerer) and a.takes_history and a.model == "m"
