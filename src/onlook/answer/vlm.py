"""The flow every vision-language-model answerer shares: context, then the model's reply.

A VLM answerer builds a :class:`~onlook.answer.context.Context` for the
question (frames and an event log, retrieval steered by the conversation's
earlier turns), asks its model, and turns the reply into an
:class:`~onlook.types.Answer` (or, for multiple choice, the option letter the
reply names). Only asking the model differs between backends: a subclass
implements :meth:`VLMAnswerer.reply_pieces`.
"""

from __future__ import annotations

import abc
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, ClassVar

from onlook.answer.base import AnswerStream, BaseAnswerer, History
from onlook.answer.context import Context, ContextBudget, answer_from_context, build_context
from onlook.answer.prompts import option_block, parse_choice
from onlook.types import Answer

if TYPE_CHECKING:  # pragma: no cover - for annotations only
    from onlook.query.search import MemoryView

__all__ = ["VLMAnswerer", "choice_answer"]


def choice_answer(question: str, text: str, ctx: Context, options: Sequence[str]) -> Answer:
    """A model's reply to a multiple-choice question as an answer whose ``value`` is the option letter.

    A reply that names no option abstains (confidence 0); one that does gets 0.6.
    """
    _, letters = option_block(options)
    letter = parse_choice(text, letters, options)
    ans = answer_from_context(question, text, ctx)
    if letter is None:
        return Answer(question, text or "the model named no option", ans.at, 0.0, abstained=True,
                      evidence=ans.evidence)
    return Answer(question, text, ans.at, 0.6, value=letter, evidence=ans.evidence)


class VLMAnswerer(BaseAnswerer):
    """Base of the VLM answerers: the context, answer, choose and stream flow.

    Args:
        budget: What each question may show the model.
    """

    takes_history: ClassVar[bool] = True
    streams: ClassVar[bool] = True
    chooses: ClassVar[bool] = True

    def __init__(self, budget: ContextBudget | None = None) -> None:
        self.budget = budget or ContextBudget()

    @abc.abstractmethod
    def reply_pieces(self, question: str, ctx: Context, view: MemoryView | None, options: Sequence[str] | None,
                     history: History) -> Iterator[str]:
        """The model's reply to ``question`` shown ``ctx``, in pieces as they come.

        Args:
            question: The user's words.
            ctx: What the model is shown.
            view: The memory ``ctx`` was built from (None when it was built elsewhere).
            options: Multiple-choice options, if any.
            history: Earlier turns of the conversation.
        """

    def context(self, question: str, view: MemoryView, at: float | None = None, *, history: History = ()) -> Context:
        """The frames and log this answerer would show the model for ``question``."""
        from onlook.answer.dialogue import followup_query

        query, after = followup_query(question, history)
        return build_context(question, view, at, budget=self.budget, query=query, after=after)

    def answer(self, question: str, view: MemoryView, at: float | None = None, *,
               history: History = ()) -> Answer:
        """Answer ``question`` from memory up to ``at`` (default: now).

        Returns:
            An :class:`~onlook.types.Answer` whose ``at`` is the context's and whose
            evidence is the frames shown.

        Raises:
            ModelError: the model failed or could not be reached.
        """
        ctx = self.context(question, view, at, history=history)
        text = "".join(self.reply_pieces(question, ctx, view, None, history)).strip()
        return answer_from_context(question, text, ctx)

    def choose(self, question: str, options: list[str], view: MemoryView, at: float | None = None, *,
               history: History = ()) -> Answer:
        """Pick one of ``options``; ``value`` is its letter (None and abstained when the reply names none)."""
        ctx = self.context(question, view, at, history=history)
        text = "".join(self.reply_pieces(question, ctx, view, options, history)).strip()
        return choice_answer(question, text, ctx, options)

    def stream_answer(self, question: str, view: MemoryView, at: float | None = None, *,
                      options: Sequence[str] | None = None, history: History = ()) -> AnswerStream:
        """Stream the model's answer to ``question`` as text pieces.

        The returned stream's ``at`` and ``context`` are those of this question
        (known once its first piece is asked for).

        Raises:
            ModelError: (while iterating) the model failed or could not be reached.
        """
        def run(stream: AnswerStream) -> Iterator[str]:
            ctx = self.context(question, view, at, history=history)
            stream.started(ctx.at, ctx)
            return self.reply_pieces(question, ctx, view, options, history)

        return AnswerStream(run)

    def reply(self, question: str, ctx: Context, *, history: History = (),
              options: Sequence[str] | None = None) -> str:
        """The model's whole reply to ``question`` shown a context built elsewhere (e.g. next to
        another process's memory)."""
        return "".join(self.reply_pieces(question, ctx, None, options, history)).strip()
