"""The fake answerer shipped for tests, and the callers that use each capability (dialogue, confirm, eval)."""

from __future__ import annotations

from pathlib import Path

import pytest
from media import scene_frames, write_clip

from onlook.answer.confirm import AlertConfirmer
from onlook.answer.dialogue import Conversations
from onlook.answer.fake import FakeAnswerer, FakeCall
from onlook.config import Settings
from onlook.engine import StreamEngine
from onlook.errors import ModelError
from onlook.eval import EvalQuestion
from onlook.eval.protocol import run_protocol
from onlook.perception.pipeline import Perceiver
from onlook.types import Alert


class _Now:
    def now(self) -> float:
        return 7.0


def test_scripted_answers_choices_and_streams_are_recorded():
    fake = FakeAnswerer(answers={"who?": "a man in red"}, choices={"which?": "b"}, pieces=["a ", "{turns}"])
    view = _Now()
    assert fake.answer("who?", view).text == "a man in red"
    assert fake.answer("else?", view, at=3.0, history=[{"question": "who?", "answer": "x"}]).text == \
        "fake answer to 'else?' after 1 earlier turn(s)"
    pick = fake.choose("which?", ["A. a cup", "B. a bag"], view)
    assert pick.value == "B" and pick.text == "B. a bag"
    assert fake.choose("unscripted?", ["a cup", "a bag"], view).value == "A"
    stream = fake.stream_answer("who?", view, history=["t1", "t2"])
    assert fake.calls_of("stream") == []  # nothing happens before the first piece is asked for
    assert list(stream) == ["a ", "2"] and stream.at == 7.0
    assert fake.calls == [
        FakeCall("answer", "who?", 7.0),
        FakeCall("answer", "else?", 3.0, ({"question": "who?", "answer": "x"},)),
        FakeCall("choose", "which?", 7.0, (), ("A. a cup", "B. a bag")),
        FakeCall("choose", "unscripted?", 7.0, (), ("a cup", "a bag")),
        FakeCall("stream", "who?", 7.0, ("t1", "t2")),
    ]


def test_unscripted_choice_can_abstain_and_words_are_streamed_by_default():
    fake = FakeAnswerer(abstain_unscripted=True, default="one two three")
    pick = fake.choose("which?", ["A. x", "B. y"], _Now())
    assert pick.abstained and pick.value is None
    assert list(fake.stream_answer("q", _Now())) == ["one ", "two ", "three"]


@pytest.mark.parametrize(("fail", "pieces_before"), [("start", []), ("middle", ["fake "])])
def test_failures_on_demand(fail, pieces_before):
    fake = FakeAnswerer(fail=fail)
    got: list[str] = []
    with pytest.raises(ModelError):
        for piece in fake.stream_answer("q", _Now()):
            got.append(piece)
    assert got == pieces_before
    if fail == "start":
        with pytest.raises(ModelError):
            fake.answer("q", _Now())


def test_conversations_record_each_streams_own_time(make_view, tmp_path):
    """Two conversations streamed at once through one answerer: each turn keeps its own question time."""
    view = make_view()
    fake = FakeAnswerer(pieces=["x", "y"])
    convs = Conversations(view.store)
    one, two = convs.conversation("one"), convs.conversation("two")
    first = one.stream(fake, "early?", view, at=10.0)
    second = two.stream(fake, "late?", view, at=30.0)
    assert next(first) == "x" and next(second) == "x"
    assert list(second) == ["y"] and list(first) == ["y"]  # the later question ends first
    assert [t.at for t in one.history()] == [10.0] and [t.at for t in two.history()] == [30.0]
    chat = convs.conversation("three")
    chat.ask(fake, "who?", view, at=5.0)
    chat.ask(fake, "which?", view, at=6.0, options=["A. x", "B. y"])
    assert fake.calls[-1] == FakeCall("choose", "which?", 6.0, tuple(chat.history()[:1]), ("A. x", "B. y"))
    convs.close()


def test_alert_confirmer_uses_choose(make_view):
    view = make_view()
    alert = Alert(query="a person enters", t=12.0, wall=0.0, stream_id="cam")
    yes = FakeAnswerer()  # unscripted: the first option, "A. yes"
    assert AlertConfirmer(yes, min_interval_s=0.0).check(alert, view).fire
    assert [c.op for c in yes.calls] == ["choose"] and yes.calls[0].options == ("A. yes", "B. no")
    assert yes.calls[0].at == 12.0
    no = FakeAnswerer(choices={yes.calls[0].question: "B"})
    assert not AlertConfirmer(no, min_interval_s=0.0).check(alert, view).fire


def test_eval_protocol_asks_multiple_choice_of_answerers_that_choose(tmp_path: Path):
    write_clip(tmp_path / "cuts.mp4", scene_frames(4, cut_at=2.0, walker_from=100), fps=10)
    fakes: list[FakeAnswerer] = []

    def make(src: str, settings: Settings) -> StreamEngine:
        fakes.append(FakeAnswerer(choices={"which?": "C"}))
        return StreamEngine(src, settings=settings, perceiver=Perceiver(settings), stream_id="eval",
                            answerer=fakes[-1])

    qs = [EvalQuestion("q0", "cuts.mp4", 1.0, "which?", "realtime", options=("A. x", "B. y", "C. z"), answer="C"),
          EvalQuestion("q1", "cuts.mp4", 2.0, "what now?", "realtime", answer="anything")]
    settings = Settings(fps=5.0, detect_faces=False, detect_text=False, detect_people=False)
    responses = run_protocol(qs, tmp_path, settings=settings, engine_factory=make)
    assert responses[0].answer is not None and responses[0].answer.value == "C"
    calls = [c for f in fakes for c in f.calls]
    assert [(c.op, c.question, c.at) for c in calls] == [("choose", "which?", 1.0), ("answer", "what now?", 2.0)]
