"""Conversations about a stream: history so follow-ups resolve, kept with the stream.

A follow-up ("and after that?", "what colour was it?") means nothing alone.
Two things make it answerable:

* the model sees the earlier turns (answerers take ``history=``), and
* retrieval uses them: :func:`followup_query` searches with the turn before
  and, for "after that" / "before that", limits the moments retrieved to
  after (or before) what the last answer was about.

Turns are stored in the stream's own database (``conversations`` and
``conversation_turns`` tables in ``onlook.db``, written through this module's
own SQLite connection in WAL mode, so the ingest writer is never blocked for
long), so a conversation survives a restart and travels with the store.

Example:
    >>> convs = Conversations(engine.store)                          # doctest: +SKIP
    >>> chat = convs.conversation()                                  # doctest: +SKIP
    >>> chat.ask(vlm, "who came in first?", engine.view).text        # doctest: +SKIP
    >>> chat.ask(vlm, "what colour was his jacket?", engine.view)    # doctest: +SKIP
"""

from __future__ import annotations

import inspect
import json
import re
import sqlite3
import threading
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from onlook.errors import StoreError
from onlook.types import Answer

__all__ = ["Turn", "Conversations", "Conversation", "followup_query", "is_followup", "takes_history"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS conversations(
  id TEXT PRIMARY KEY, created_wall REAL, updated_wall REAL, title TEXT);
CREATE TABLE IF NOT EXISTS conversation_turns(
  id INTEGER PRIMARY KEY, conversation TEXT, question TEXT, answer TEXT, at REAL, wall REAL,
  span_start REAL, span_end REAL, evidence TEXT, value TEXT);
CREATE INDEX IF NOT EXISTS conversation_turns_conv ON conversation_turns(conversation, id);
"""


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
    """All conversations about one stream, stored in its store folder.

    Args:
        store: The stream's :class:`~onlook.memory.store.Store`, or its folder.
        max_turns: Turns kept per conversation (older ones are deleted).
        max_conversations: Conversations kept (least recently used deleted).

    Raises:
        StoreError: the database cannot be opened or written.
    """

    def __init__(self, store: Any, *, max_turns: int = 50, max_conversations: int = 1000) -> None:
        folder = Path(getattr(store, "path", store))
        self.db_path = Path(getattr(store, "db_path", folder / "onlook.db"))
        self.max_turns = max_turns
        self.max_conversations = max_conversations
        self._lock = threading.Lock()
        try:
            folder.mkdir(parents=True, exist_ok=True)
            self._conn = sqlite3.connect(self.db_path, check_same_thread=False, timeout=5.0)
            self._conn.execute("PRAGMA busy_timeout=5000")
            self._conn.execute("PRAGMA journal_mode=WAL")
            self._conn.executescript(_SCHEMA)
            self._conn.commit()
        except (sqlite3.Error, OSError) as e:
            raise StoreError(f"cannot open conversations in '{folder}': {e}") from None

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    def __enter__(self) -> Conversations:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _run(self, sql: str, params: tuple = (), *, many: bool = False) -> list[tuple]:
        with self._lock:
            try:
                cur = self._conn.executemany(sql, params) if many else self._conn.execute(sql, params)
                rows = cur.fetchall()
                self._conn.commit()
                return rows
            except sqlite3.Error as e:
                raise StoreError(f"conversations in '{self.db_path.parent}': {e}") from None

    # --- conversations ----------------------------------------------------------------------------

    def conversation(self, conversation_id: str | None = None, *, title: str = "") -> Conversation:
        """Open a conversation by id (created if new; a fresh id when None)."""
        cid = conversation_id or uuid.uuid4().hex
        now = time.time()
        self._run("INSERT OR IGNORE INTO conversations(id, created_wall, updated_wall, title) VALUES(?,?,?,?)",
                  (cid, now, now, title))
        return Conversation(self, cid)

    def ids(self) -> list[str]:
        """Conversation ids, most recently used first."""
        return [r[0] for r in self._run("SELECT id FROM conversations ORDER BY updated_wall DESC, rowid DESC")]

    def history(self, conversation_id: str, limit: int | None = None) -> list[Turn]:
        """The turns of a conversation, oldest first (the last ``limit`` when given)."""
        sql = ("SELECT question, answer, at, wall, span_start, span_end, evidence, value FROM conversation_turns"
               " WHERE conversation=? ORDER BY id DESC")
        if limit:
            sql += f" LIMIT {int(limit)}"
        rows = self._run(sql, (conversation_id,))
        out = []
        for q, a, at, wall, s0, s1, ev, val in reversed(rows):
            out.append(Turn(q, a, float(at), float(wall), (s0, s1) if s0 is not None and s1 is not None else None,
                            tuple(json.loads(ev or "[]")), json.loads(val) if val else None))
        return out

    def add(self, conversation_id: str, question: str, answer: Answer | str, *, at: float | None = None) -> Turn:
        """Record one turn; returns it."""
        if isinstance(answer, Answer):
            text, at_, span = answer.text, answer.at, answer.span
            evidence = tuple(round(e.t, 3) for e in answer.evidence)
            value = answer.value
        else:
            text, at_, span, evidence, value = str(answer), float(at or 0.0), None, (), None
        try:
            value_json = json.dumps(value) if value is not None else None
        except (TypeError, ValueError):
            value_json = json.dumps(str(value))
        turn = Turn(question, text, float(at_ if at is None else at), time.time(), span, evidence, value)
        now = turn.wall
        self._run("INSERT OR IGNORE INTO conversations(id, created_wall, updated_wall, title) VALUES(?,?,?,?)",
                  (conversation_id, now, now, ""))
        self._run("INSERT INTO conversation_turns(conversation, question, answer, at, wall, span_start, span_end,"
                  " evidence, value) VALUES(?,?,?,?,?,?,?,?,?)",
                  (conversation_id, question, text, turn.at, now, span[0] if span else None,
                   span[1] if span else None, json.dumps(list(evidence)), value_json))
        self._run("UPDATE conversations SET updated_wall=? WHERE id=?", (now, conversation_id))
        self._run("DELETE FROM conversation_turns WHERE conversation=? AND id NOT IN (SELECT id FROM "
                  "conversation_turns WHERE conversation=? ORDER BY id DESC LIMIT ?)",
                  (conversation_id, conversation_id, self.max_turns))
        old = self._run("SELECT id FROM conversations ORDER BY updated_wall DESC, rowid DESC LIMIT -1 OFFSET ?",
                        (self.max_conversations,))
        for (cid,) in old:
            self.delete(cid)
        return turn

    def delete(self, conversation_id: str) -> None:
        """Forget a conversation."""
        self._run("DELETE FROM conversation_turns WHERE conversation=?", (conversation_id,))
        self._run("DELETE FROM conversations WHERE id=?", (conversation_id,))


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

    def ask(self, answerer: Any, question: str, view: Any, at: float | None = None, *,
            options: list[str] | None = None) -> Answer:
        """Answer ``question`` with ``answerer`` in the light of the earlier turns, and record the turn.

        Answerers whose ``answer``/``choose`` take ``history=`` (the VLM
        answerers) see the earlier turns; others (the extractive default) get
        the question as it is.
        """
        history = self.history()
        fn = answerer.choose if options else answerer.answer
        args = (question, options, view) if options else (question, view)
        if takes_history(fn):
            ans = fn(*args, at=at, history=history)
        else:
            ans = fn(*args, at=at)
        self.store.add(self.id, question, ans)
        return ans

    def stream(self, answerer: Any, question: str, view: Any, at: float | None = None):
        """Stream an answer (``answerer.stream_answer``) and record the turn when it is complete."""
        history = self.history()
        pieces: list[str] = []
        for piece in answerer.stream_answer(question, view, at, history=history):
            pieces.append(piece)
            yield piece
        ctx = getattr(answerer, "last_context", None)
        when = ctx.at if ctx is not None else (view.now() if at is None else float(at))
        self.store.add(self.id, question, "".join(pieces).strip(), at=when)


def takes_history(fn: Any) -> bool:
    """Whether an answerer method accepts ``history=`` (earlier turns of a conversation)."""
    if not callable(fn):
        return False
    try:
        return "history" in inspect.signature(fn).parameters
    except (TypeError, ValueError):
        return False
