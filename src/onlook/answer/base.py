"""The answerer seam: what every backend offers, declared in one place.

An answerer answers questions about one stream's memory (a
:class:`~onlook.query.search.MemoryView`). Every backend derives from
:class:`BaseAnswerer` and so has all three calls, with real defaults where a
backend has nothing better (as httpx's ``BaseTransport`` or vLLM's
``EngineClient`` declare their whole surface):

* :meth:`~BaseAnswerer.answer` (abstract): one question, optionally with the
  earlier turns of a conversation (``history=``);
* :meth:`~BaseAnswerer.choose`: multiple choice; by default the option that
  memory alone supports (the extractive rules), or an abstention;
* :meth:`~BaseAnswerer.stream_answer`: the answer in text pieces, as an
  :class:`AnswerStream`; by default the whole answer as one piece.

What a caller may do differently per backend is declared as class flags
(:attr:`~BaseAnswerer.takes_history`, :attr:`~BaseAnswerer.streams`,
:attr:`~BaseAnswerer.chooses`), never discovered with ``hasattr`` or
``inspect``. Answerers hold no per-question state: what one call was answered
from (its stream time, a VLM's context) comes back with that call's result
(``Answer.at``, :class:`AnswerStream`), so streams sharing one answerer never
see each other's.

Example:
    >>> from onlook.answer.fake import FakeAnswerer
    >>> a = FakeAnswerer(answers={"who is there?": "nobody"})
    >>> a.takes_history, a.streams
    (True, True)
"""

from __future__ import annotations

import abc
from collections.abc import Callable, Generator, Iterable, Iterator, Sequence
from typing import TYPE_CHECKING, Any, ClassVar

from onlook.types import Answer

if TYPE_CHECKING:  # pragma: no cover - for annotations only
    from onlook.query.search import MemoryView

__all__ = ["Answerer", "AnswerStream", "BaseAnswerer", "History"]

#: Earlier turns of a conversation, oldest first: :class:`~onlook.answer.dialogue.Turn` objects or dicts
#: with ``question``, ``answer`` and ``at`` (as the server keeps them).
History = Sequence[Any]


class AnswerStream(Iterator[str]):
    """One streamed answer: its text pieces, and what it was answered from.

    Iterating it starts the answer (nothing is done before the first piece is
    asked for); :attr:`at` and :attr:`context` are known from then on. Each
    call of :meth:`BaseAnswerer.stream_answer` returns its own, so two streams
    answered at once by one answerer never mix their question times.

    Args:
        run: Called once, with this stream, on the first ``next()``: records
            what the answer rests on (:meth:`started`) and returns the pieces.

    Attributes:
        at: Stream time the question was answered at (None until started).
        context: What the answerer was shown (a VLM's
            :class:`~onlook.answer.context.Context`), or None.
        answer: The whole :class:`~onlook.types.Answer`, where the answerer made
            one (the default :meth:`BaseAnswerer.stream_answer`), else None.

    Example:
        >>> s = AnswerStream(lambda st: (st.started(12.0), iter(["two ", "people"]))[1])
        >>> s.at is None, "".join(s), s.at
        (True, 'two people', 12.0)
    """

    def __init__(self, run: Callable[[AnswerStream], Iterable[str]]) -> None:
        self._run: Callable[[AnswerStream], Iterable[str]] | None = run
        self._pieces: Iterator[str] | None = None
        self.at: float | None = None
        self.context: Any = None
        self.answer: Answer | None = None

    def started(self, at: float, context: Any = None, answer: Answer | None = None) -> None:
        """Record what this answer rests on (called by the answerer as it starts)."""
        self.at = float(at)
        self.context = context
        self.answer = answer

    def __iter__(self) -> AnswerStream:
        return self

    def __next__(self) -> str:
        if self._pieces is None:
            if self._run is None:  # closed before it started
                raise StopIteration
            run, self._run = self._run, None
            self._pieces = iter(run(self))
        return next(self._pieces)

    def close(self) -> None:
        """Stop early: a generator behind it is closed (its ``finally`` runs now)."""
        self._run = None
        if isinstance(self._pieces, Generator):
            self._pieces.close()

    def text(self) -> str:
        """The rest of the answer, joined and stripped."""
        return "".join(self).strip()


class BaseAnswerer(abc.ABC):
    """Anything that answers questions about a stream's memory.

    Subclasses implement :meth:`answer`; :meth:`choose` and
    :meth:`stream_answer` have working defaults and are overridden where a
    backend does better (a VLM is asked with the options; a model streams its
    tokens).

    Class attributes:
        name: The backend's name (what ``--answerer`` says).
        takes_history: :meth:`answer` uses the earlier turns it is given. When
            False, a caller with a follow-up asks the answerer a question that
            stands alone instead (see :func:`~onlook.answer.dialogue.followup_query`).
        streams: :meth:`stream_answer` yields pieces as they are produced, not
            the finished answer in one piece.
        chooses: :meth:`choose` is the backend's own (it reads the options);
            False: the default, which checks options against memory alone.
    """

    name: str = "answerer"
    takes_history: ClassVar[bool] = False
    streams: ClassVar[bool] = False
    chooses: ClassVar[bool] = False

    @abc.abstractmethod
    def answer(self, question: str, view: MemoryView, at: float | None = None, *,
               history: History = ()) -> Answer:
        """Answer ``question`` from memory up to stream time ``at`` (default: now).

        Args:
            question: The user's words.
            view: The stream's memory.
            at: Stream time to answer at; nothing later may be used.
            history: Earlier turns of the conversation (ignored unless :attr:`takes_history`).

        Returns:
            The answer; ``abstained`` when it cannot be answered from what was perceived.
        """

    def choose(self, question: str, options: list[str], view: MemoryView, at: float | None = None, *,
               history: History = ()) -> Answer:
        """Pick the multiple-choice option memory supports, or abstain.

        The default checks each option against what perception recorded (see
        :func:`onlook.answer.extractive.choose_from_memory`), using this
        answerer's :meth:`answer` for the counted value.

        Returns:
            An answer whose ``value`` is the chosen option's letter (None when abstaining).
        """
        from onlook.answer.extractive import choose_from_memory  # extractive derives from this module

        return choose_from_memory(self, question, options, view, at)

    def stream_answer(self, question: str, view: MemoryView, at: float | None = None, *,
                      options: Sequence[str] | None = None, history: History = ()) -> AnswerStream:
        """The answer as text pieces; by default the finished answer (or choice) as one piece.

        Args:
            question: The user's words.
            view: The stream's memory.
            at: Stream time to answer at (default: now).
            options: Multiple-choice options, if any.
            history: Earlier turns of the conversation.

        Returns:
            An :class:`AnswerStream` (lazy: nothing runs before its first piece is asked for).
        """
        def run(stream: AnswerStream) -> Iterator[str]:
            if options:
                ans = self.choose(question, list(options), view, at, history=history)
            else:
                ans = self.answer(question, view, at, history=history)
            stream.started(ans.at, answer=ans)
            return iter([ans.text])

        return AnswerStream(run)

    def close(self) -> None:  # noqa: B027 - an optional hook, not abstract: most answerers hold nothing
        """Release what the answerer holds (a child process, a connection); nothing by default."""


#: The name callers type answerers with (the seam); the same class as :class:`BaseAnswerer`.
Answerer = BaseAnswerer
