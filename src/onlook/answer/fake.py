"""An in-memory answerer for tests: scripted answers, choices and streams, and a record of every call.

As httpx ships ``MockTransport`` for its transport seam, onlook ships
:class:`FakeAnswerer` for its answerer seam: give it to an engine or a server
(``create_app(..., answerer=FakeAnswerer(...))``) and check what the layers
above did with it, without a model.

Example:
    >>> fake = FakeAnswerer(answers={"who is there?": "nobody"}, pieces=["no", "body"])
    >>> class View:  # the fake reads only the stream time from its view
    ...     def now(self): return 12.0
    >>> fake.answer("who is there?", View()).text
    'nobody'
    >>> "".join(fake.stream_answer("who is there?", View()))
    'nobody'
    >>> [c.op for c in fake.calls]
    ['answer', 'stream']
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from onlook.answer.base import AnswerStream, BaseAnswerer, History
from onlook.answer.prompts import split_option
from onlook.errors import ModelError
from onlook.types import Answer

__all__ = ["FakeAnswerer", "FakeCall"]


@dataclass(frozen=True, slots=True)
class FakeCall:
    """One call a :class:`FakeAnswerer` received.

    Attributes:
        op: ``"answer"``, ``"choose"`` or ``"stream"``.
        question: The question asked.
        at: The stream time it was answered at (``at`` given, else the view's now).
        history: The earlier turns it was given (as given: objects or dicts).
        options: Multiple-choice options, if any.
    """

    op: str
    question: str
    at: float
    history: tuple[Any, ...] = ()
    options: tuple[str, ...] | None = None


@dataclass
class FakeAnswerer(BaseAnswerer):
    """A scripted answerer that declares every capability (history, streaming, its own choose).

    Args:
        answers: Text per question; other questions get ``default``.
        default: Text for an unscripted question. ``{question}`` and ``{turns}``
            (how many earlier turns it was given) are filled in.
        choices: Letter per question for :meth:`choose`; other questions pick the
            first option, or abstain when ``abstain_unscripted`` is set.
        pieces: What :meth:`stream_answer` yields (formatted like ``default``);
            None splits the answer's text into words.
        fail: Raise :class:`~onlook.errors.ModelError` ``"start"`` (before the first
            piece, and from :meth:`answer`/:meth:`choose`) or ``"middle"`` (after it).
        confidence: Confidence of every answer.
        abstain_unscripted: Unscripted choices abstain instead of picking the first option.
        on_call: Called with each :class:`FakeCall` as it is recorded (to block, to count...).

    Attributes:
        calls: Every call received, oldest first.
    """

    answers: Mapping[str, str] = field(default_factory=dict)
    default: str = "fake answer to {question!r} after {turns} earlier turn(s)"
    choices: Mapping[str, str] = field(default_factory=dict)
    pieces: Sequence[str] | None = None
    fail: str | None = None
    confidence: float = 0.5
    abstain_unscripted: bool = False
    on_call: Callable[[FakeCall], None] | None = None
    calls: list[FakeCall] = field(default_factory=list)

    name = "fake"
    takes_history = True
    streams = True
    chooses = True

    def __post_init__(self) -> None:
        self._lock = threading.Lock()

    # --- scripting helpers ---------------------------------------------------------------------

    def _record(self, op: str, question: str, view: Any, at: float | None, history: History,
                options: Sequence[str] | None = None) -> FakeCall:
        call = FakeCall(op, question, float(view.now()) if at is None else float(at), tuple(history),
                        tuple(options) if options is not None else None)
        with self._lock:
            self.calls.append(call)
        if self.on_call is not None:
            self.on_call(call)
        return call

    def _text(self, question: str, history: History) -> str:
        template = self.answers.get(question, self.default)
        return template.format(question=question, turns=len(history))

    def calls_of(self, op: str) -> list[FakeCall]:
        """The calls of one kind (``"answer"``, ``"choose"``, ``"stream"``), oldest first."""
        with self._lock:
            return [c for c in self.calls if c.op == op]

    # --- the seam ------------------------------------------------------------------------------

    def answer(self, question: str, view: Any, at: float | None = None, *, history: History = ()) -> Answer:
        """The scripted text for ``question`` (recorded as an ``"answer"`` call)."""
        call = self._record("answer", question, view, at, history)
        if self.fail == "start":
            raise ModelError("the fake model failed")
        return Answer(question, self._text(question, history), call.at, self.confidence)

    def choose(self, question: str, options: list[str], view: Any, at: float | None = None, *,
               history: History = ()) -> Answer:
        """The scripted letter for ``question`` (else the first option's, or an abstention)."""
        call = self._record("choose", question, view, at, history, options)
        if self.fail == "start":
            raise ModelError("the fake model failed")
        letters = [split_option(o)[0] or chr(ord("A") + i) for i, o in enumerate(options)]
        letter = self.choices.get(question)
        if letter is None and (self.abstain_unscripted or not letters):
            return Answer(question, "the fake named no option", call.at, 0.0, abstained=True)
        letter = (letter or letters[0]).upper()
        text = next((o for o, ltr in zip(options, letters, strict=True) if ltr == letter), letter)
        return Answer(question, text, call.at, self.confidence, value=letter)

    def stream_answer(self, question: str, view: Any, at: float | None = None, *,
                      options: Sequence[str] | None = None, history: History = ()) -> AnswerStream:
        """The scripted pieces (or the answer's words), recorded as a ``"stream"`` call when started."""
        def run(stream: AnswerStream) -> Iterator[str]:
            call = self._record("stream", question, view, at, history, options)
            stream.started(call.at)
            if self.fail == "start":
                raise ModelError("the fake model is down")
            if self.pieces is not None:
                pieces = [p.format(question=question, turns=len(history)) for p in self.pieces]
            else:
                words = self._text(question, history).split(" ")
                pieces = [w + " " for w in words[:-1]] + words[-1:]
            return self._pieces(pieces)

        return AnswerStream(run)

    def _pieces(self, pieces: list[str]) -> Iterator[str]:
        for i, piece in enumerate(pieces):
            yield piece
            if self.fail == "middle" and i == 0:
                raise ModelError("the fake model went away")
