"""Conversations about a stream, in its store: questions, answers and what they were about.

Two tables, ``conversations`` (id, created and last-used wall time, title)
and ``conversation_turns`` (one row per question: its answer, stream time,
wall time, the span and evidence times the answer was about, and its value as
JSON). The :class:`~onlook.memory.store.Store` creates them (a step of its
schema migrations) and reaches them through :class:`ConversationLog`;
nothing else touches them. Stores whose tables were created before the store
owned them (by ``onlook.answer.dialogue``'s own connection) have the same
layout and are read and written as they are.

What a conversation *means* (follow-ups, history passed to answerers) is
:mod:`onlook.answer.dialogue`'s; this module only keeps the rows.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

__all__ = ["SCHEMA", "ConversationLog", "TurnRow"]

SCHEMA = """
CREATE TABLE IF NOT EXISTS conversations(
  id TEXT PRIMARY KEY, created_wall REAL, updated_wall REAL, title TEXT);
CREATE TABLE IF NOT EXISTS conversation_turns(
  id INTEGER PRIMARY KEY, conversation TEXT, question TEXT, answer TEXT, at REAL, wall REAL,
  span_start REAL, span_end REAL, evidence TEXT, value TEXT);
CREATE INDEX IF NOT EXISTS conversation_turns_conv ON conversation_turns(conversation, id);
"""


@dataclass(frozen=True, slots=True)
class TurnRow:
    """One stored turn, as the table holds it (decoded).

    Attributes:
        question: The user's words.
        answer: The answer's text.
        at: Stream time the question was asked at.
        wall: Wall-clock time the turn was recorded.
        span: Time span the answer was about, if any.
        evidence: Stream times of the answer's evidence.
        value: The answer's machine-readable value, if any.
    """

    question: str
    answer: str
    at: float
    wall: float
    span: tuple[float, float] | None
    evidence: tuple[float, ...]
    value: Any


def _value_json(value: Any) -> str | None:
    if value is None:
        return None
    try:
        return json.dumps(value)
    except (TypeError, ValueError):
        return json.dumps(str(value))


class ConversationLog:
    """The store's conversation tables, through the store's own read and write paths.

    Args:
        read: ``(sql, params) -> rows`` (the store's per-thread connection).
        write: ``(sql, params) -> cursor`` (the store's, under its write lock).
        present: Whether the tables exist (a read-only store may predate them);
            reads of a store without them find nothing.
    """

    def __init__(self, read: Callable[[str, tuple], list[tuple]], write: Callable[[str, tuple], Any],
                 present: Callable[[], bool]) -> None:
        self._read = read
        self._write = write
        self._present = present

    def open(self, conversation_id: str, *, title: str = "", wall: float | None = None) -> None:
        """Create the conversation ``conversation_id`` if it is new."""
        now = time.time() if wall is None else wall
        self._write("INSERT OR IGNORE INTO conversations(id, created_wall, updated_wall, title) VALUES(?,?,?,?)",
                    (conversation_id, now, now, title))

    def ids(self) -> list[str]:
        """Conversation ids, most recently used first."""
        if not self._present():
            return []
        return [r[0] for r in self._read("SELECT id FROM conversations ORDER BY updated_wall DESC, rowid DESC", ())]

    def turns(self, conversation_id: str, limit: int | None = None) -> list[TurnRow]:
        """The turns of a conversation, oldest first (the last ``limit`` when given)."""
        if not self._present():
            return []
        sql = ("SELECT question, answer, at, wall, span_start, span_end, evidence, value FROM conversation_turns"
               " WHERE conversation=? ORDER BY id DESC")
        if limit:
            sql += f" LIMIT {int(limit)}"
        rows = self._read(sql, (conversation_id,))
        return [TurnRow(q, a, float(at), float(wall), (s0, s1) if s0 is not None and s1 is not None else None,
                        tuple(json.loads(ev or "[]")), json.loads(val) if val else None)
                for q, a, at, wall, s0, s1, ev, val in reversed(rows)]

    def add(self, conversation_id: str, turn: TurnRow, *, max_turns: int, max_conversations: int) -> None:
        """Record one turn; keep the newest ``max_turns`` of its conversation and the
        ``max_conversations`` most recently used conversations."""
        now = turn.wall
        span = turn.span
        self.open(conversation_id, wall=now)
        self._write("INSERT INTO conversation_turns(conversation, question, answer, at, wall, span_start, span_end,"
                    " evidence, value) VALUES(?,?,?,?,?,?,?,?,?)",
                    (conversation_id, turn.question, turn.answer, turn.at, now, span[0] if span else None,
                     span[1] if span else None, json.dumps(list(turn.evidence)), _value_json(turn.value)))
        self._write("UPDATE conversations SET updated_wall=? WHERE id=?", (now, conversation_id))
        self._write("DELETE FROM conversation_turns WHERE conversation=? AND id NOT IN (SELECT id FROM "
                    "conversation_turns WHERE conversation=? ORDER BY id DESC LIMIT ?)",
                    (conversation_id, conversation_id, max_turns))
        old = self._read("SELECT id FROM conversations ORDER BY updated_wall DESC, rowid DESC LIMIT -1 OFFSET ?",
                         (max_conversations,))
        for (cid,) in old:
            self.delete(cid)

    def delete(self, conversation_id: str) -> None:
        """Forget a conversation and its turns."""
        self._write("DELETE FROM conversation_turns WHERE conversation=?", (conversation_id,))
        self._write("DELETE FROM conversations WHERE id=?", (conversation_id,))
