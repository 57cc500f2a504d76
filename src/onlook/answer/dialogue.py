"""Conversations about a stream: history so follow-ups resolve, kept with the stream.

A follow-up ("and after that?", "what colour was it?") means nothing alone.
Two things make it answerable:

* the model sees the earlier turns (answerers take ``history=``), and
* retrieval uses them: :func:`followup_query` searches with the turn before
  and, for "after that" / "before that", limits the moments retrieved to
  after (or before) what the last answer was about.

Turns are kept in the stream's own store (its ``conversations`` tables,
owned by :mod:`onlook.memory.conversations` and written through the store's
connections), so a conversation survives a restart and travels with the store.

Example:
    >>> convs = Conversations(engine.store)                          # doctest: +SKIP
    >>> chat = convs.conversation()                                  # doctest: +SKIP
    >>> chat.ask(vlm, "who came in first?", engine.view).text        # doctest: +SKIP
    >>> chat.ask(vlm, "what colour was his jacket?", engine.view)    # doctest: +SKIP
"""

from __future__ import annotations

import re
import time
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from onlook.memory.conversations import TurnRow
from onlook.memory.store import Store
from onlook.types import Answer

if TYPE_CHECKING:  # pragma: no cover - for annotations only
    from onlook.answer.base import BaseAnswerer

__all__ = ["Turn", "Conversations", "Conversation", "followup_query", "is_followup"]


@dataclass(frozen=True, slots=True)
class Turn:
    """One question and its answer.

    Attributes:
        question: The user's words.
        answer: The answer's text.
        at: Stream time the question was asked at.
        wall: Wall-clock time of the answer.
        span: Time span the answer was about, if any.
        evidence: Stream times of the answer's evidence.
        value: The answer's machine-readable value (JSON-serialisable), if any.
    """

    question: str
    answer: str
    at: float
    wall: float = 0.0
    span: tuple[float, float] | None = None
    evidence: tuple[float, ...] = field(default_factory=tuple)
    value: Any = None

    @property
    def about(self) -> tuple[float, float] | None:
        """The stretch of stream time the answer was about: its span, else its evidence times."""
        if self.span is not None:
            return self.span
        if self.evidence:
            return (min(self.evidence), max(self.evidence))
        return None


_PRONOUNS = {"it", "its", "they", "them", "their", "he", "him", "his", "she", "her", "hers", "that", "this",
             "those", "these", "there", "then", "one", "ones", "else", "same"}
_AFTER = re.compile(r"\b(after (?:that|this|it|him|her|them)|afterwards?|then|next|later|what happened next)\b")
_BEFORE = re.compile(r"\b(before (?:that|this|it|him|her|them)|earlier|previously)\b")


def is_followup(question: str) -> bool:
    """Whether a question leans on the turn before it (pure).

    Example:
        >>> is_followup("and after that?"), is_followup("what colour was it?"), is_followup("how many people entered?")
        (True, True, False)
    """
    q = question.lower().strip()
    tokens = re.findall(r"[a-z']+", q)
    if not tokens:
        return False
    if tokens[0] in ("and", "also", "then", "so") or q.startswith(("what about", "how about")):
        return True
    if _AFTER.search(q) or _BEFORE.search(q):
        return True
    return bool(set(tokens) & _PRONOUNS)


def followup_query(question: str, history: Sequence[Turn] | Sequence[dict[str, Any]]) -> tuple[str, float | None]:
    """What to retrieve moments with for ``question`` given the turns before it (pure).

    Returns:
        ``(query, after)``: the text to search memory with (the question,
        prefixed by the previous question when this one is a follow-up), and
        the stream time retrieved moments must not precede (for "after that":
        the end of what the previous answer was about), or None.

    Example:
        >>> prev = Turn("when did the man in red enter?", "at 00:12", 30.0, span=(12.0, 14.0))
        >>> followup_query("and after that?", [prev])
        ('when did the man in red enter? and after that?', 14.0)
    """
    if not history or not is_followup(question):
        return question, None
    prev = history[-1]
    if isinstance(prev, dict):
        span = prev.get("span")
        ev = prev.get("evidence") or ()
        prev = Turn(str(prev.get("question", "")), str(prev.get("answer", "")), float(prev.get("at") or 0.0),
                    span=tuple(span) if span else None, evidence=tuple(float(e) for e in ev))
    query = f"{prev.question} {question}".strip()
    after = None
    about = prev.about
    if _AFTER.search(question.lower()) and about is not None:
        after = about[1]
    return query, after


class Conversations:
    """All conversations about one stream, kept in its store.

    Args:
        store: The stream's :class:`~onlook.memory.store.Store`, or its folder (a
            store is then opened for writing, and closed by :meth:`close`).
        max_turns: Turns kept per conversation (older ones are deleted).
        max_conversations: Conversations kept (least recently used deleted).

    Raises:
        StoreError: the store cannot be opened or written.
    """

    def __init__(self, store: Store | str | Path, *, max_turns: int = 50, max_conversations: int = 1000) -> None:
        self._owned = not isinstance(store, Store)
        self.store: Store = store if isinstance(store, Store) else Store(store)
        self.db_path = self.store.db_path
        self.max_turns = max_turns
        self.max_conversations = max_conversations
        self._log = self.store.conversations

    def close(self) -> None:
        """Close the store if this object opened it (a store passed in stays open)."""
        if self._owned:
            self.store.close()

    def __enter__(self) -> Conversations:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- conversations ----------------------------------------------------------------------------

    def conversation(self, conversation_id: str | None = None, *, title: str = "") -> Conversation:
        """Open a conversation by id (created if new; a fresh id when None)."""
        cid = conversation_id or uuid.uuid4().hex
        self._log.open(cid, title=title)
        return Conversation(self, cid)

    def ids(self) -> list[str]:
        """Conversation ids, most recently used first."""
        return self._log.ids()

    def history(self, conversation_id: str, limit: int | None = None) -> list[Turn]:
        """The turns of a conversation, oldest first (the last ``limit`` when given)."""
        return [Turn(r.question, r.answer, r.at, r.wall, r.span, r.evidence, r.value)
                for r in self._log.turns(conversation_id, limit)]

    def add(self, conversation_id: str, question: str, answer: Answer | str, *, at: float | None = None) -> Turn:
        """Record one turn; returns it."""
        if isinstance(answer, Answer):
            text, at_, span = answer.text, answer.at, answer.span
            evidence = tuple(round(e.t, 3) for e in answer.evidence)
            value = answer.value
        else:
            text, at_, span, evidence, value = str(answer), float(at or 0.0), None, (), None
        turn = Turn(question, text, float(at_ if at is None else at), time.time(), span, evidence, value)
        self._log.add(conversation_id, TurnRow(turn.question, turn.answer, turn.at, turn.wall, turn.span,
                                               turn.evidence, turn.value),
                      max_turns=self.max_turns, max_conversations=self.max_conversations)
        return turn

    def delete(self, conversation_id: str) -> None:
        """Forget a conversation."""
        self._log.delete(conversation_id)


class Conversation:
    """One conversation: ask questions whose follow-ups see the turns before them.

    Use :meth:`Conversations.conversation` to get one.
    """

    def __init__(self, store: Conversations, conversation_id: str, *, history_turns: int = 8) -> None:
        self.store = store
        self.id = conversation_id
        self.history_turns = history_turns

    def __repr__(self) -> str:
        return f"Conversation(id={self.id!r})"

    def history(self) -> list[Turn]:
        return self.store.history(self.id, limit=self.history_turns)

    def ask(self, answerer: BaseAnswerer, question: str, view: Any, at: float | None = None, *,
            options: list[str] | None = None) -> Answer:
        """Answer ``question`` with ``answerer`` in the light of the earlier turns, and record the turn.

        Every answerer is given the earlier turns; those that take them
        (:attr:`~onlook.answer.base.BaseAnswerer.takes_history`: the VLMs) use them.
        """
        history = self.history()
        if options:
            ans = answerer.choose(question, options, view, at=at, history=history)
        else:
            ans = answerer.answer(question, view, at=at, history=history)
        self.store.add(self.id, question, ans)
        return ans

    def stream(self, answerer: BaseAnswerer, question: str, view: Any, at: float | None = None) -> Iterator[str]:
        """Stream an answer (``answerer.stream_answer``) and record the turn when it is complete.

        The turn is recorded at the stream time this answer was given at (the
        answer stream's own, so another stream's question never stands in for it).
        """
        history = self.history()
        pieces: list[str] = []
        stream = answerer.stream_answer(question, view, at, history=history)
        for piece in stream:
            pieces.append(piece)
            yield piece
        when = stream.at if stream.at is not None else (view.now() if at is None else float(at))
        self.store.add(self.id, question, "".join(pieces).strip(), at=when)
