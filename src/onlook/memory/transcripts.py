"""What was said, in the store: transcript segments with word times, and a full-text index.

One table, ``speech`` (start, end, text, words as JSON, language,
confidence, wall, and the text's embedding where an encoder is configured),
and an SQLite FTS5 index over its text kept in step by triggers, so
``onlook search "delivery"`` is one indexed query however long the store. Rows are a few hundred
bytes: speech costs the budget little,
and it is evicted with the oldest events when the store must shrink.

The :class:`~onlook.memory.store.Store` creates the tables and calls this
module; nothing else touches them.
"""

from __future__ import annotations

import json
import re
import sqlite3
from collections.abc import Callable
from typing import Any

import numpy as np

from onlook.types import SpeechSegment, Word

__all__ = ["SCHEMA", "Transcripts", "create", "fts_query"]

SCHEMA = """
CREATE TABLE IF NOT EXISTS speech(
  id INTEGER PRIMARY KEY, start REAL, end REAL, text TEXT, words TEXT, language TEXT, confidence REAL,
  wall REAL, embedding BLOB);
CREATE INDEX IF NOT EXISTS speech_start ON speech(start);
CREATE INDEX IF NOT EXISTS speech_end ON speech(end);
"""

_FTS = """
CREATE VIRTUAL TABLE IF NOT EXISTS speech_fts USING fts5(
  text, content='speech', content_rowid='id', tokenize='unicode61 remove_diacritics 2');
CREATE TRIGGER IF NOT EXISTS speech_ai AFTER INSERT ON speech BEGIN
  INSERT INTO speech_fts(rowid, text) VALUES (new.id, new.text);
END;
CREATE TRIGGER IF NOT EXISTS speech_ad AFTER DELETE ON speech BEGIN
  INSERT INTO speech_fts(speech_fts, rowid, text) VALUES ('delete', old.id, old.text);
END;
"""


def create(conn: sqlite3.Connection) -> None:
    """Create the speech table and, where SQLite has FTS5, its full-text index (idempotent)."""
    conn.executescript(SCHEMA)
    had = conn.execute("SELECT 1 FROM sqlite_master WHERE name='speech_fts'").fetchone() is not None
    try:
        conn.executescript(_FTS)
    except sqlite3.OperationalError:  # an SQLite built without FTS5: search scans instead
        return
    if not had and conn.execute("SELECT 1 FROM speech LIMIT 1").fetchone() is not None:
        # Rows came without the index (a repaired store): index them now.
        conn.execute("INSERT INTO speech_fts(speech_fts) VALUES('rebuild')")
        conn.commit()


_COLS = "id, start, end, text, words, language, confidence, wall"


def fts_query(words: list[str], *, phrase: bool = False, prefix: bool = True) -> str:
    """An FTS5 MATCH expression for some words: any of them (or the exact phrase).

    Words of four letters or more also match longer forms (``deliver`` finds
    ``delivery``, ``delivered``).

    Example:
        >>> fts_query(["delivery", "van"])
        '"delivery"* OR "van"'
        >>> fts_query(["the", "cover"], phrase=True)
        '"the cover"'
    """
    clean = [w for w in (re.sub(r"[^\w']", "", w.lower()) for w in words) if w]
    if not clean:
        return ""
    if phrase and len(clean) > 1:
        return '"' + " ".join(clean).replace('"', "") + '"'
    return " OR ".join(f'"{w}"' + ("*" if prefix and len(w) >= 4 else "") for w in clean)


def _row(r: tuple) -> SpeechSegment:
    words = tuple(Word.from_dict(d) for d in json.loads(r[4] or "[]"))
    return SpeechSegment(stream_id="", start=r[1], end=r[2], text=r[3], words=words, language=r[5],
                         confidence=r[6] if r[6] is not None else 1.0, wall=r[7] or 0.0, id=r[0])


class Transcripts:
    """The store's speech table, through the store's own read and write paths.

    Args:
        read: ``(sql, params) -> rows`` (the store's, per-thread connection).
        write: ``(sql, params) -> cursor`` (the store's, under its write lock).
    """

    def __init__(self, read: Callable[[str, tuple], list[tuple]], write: Callable[[str, tuple], Any]) -> None:
        self._read = read
        self._write = write
        self._fts: bool | None = None

    def add(self, seg: SpeechSegment, embedding: np.ndarray | None = None) -> int:
        """Store one segment (and its text's L2-normalised embedding, if any); returns its row id."""
        emb = None if embedding is None else np.asarray(embedding, np.float32).tobytes()
        cur = self._write(f"INSERT INTO speech({_COLS[4:]}, embedding) VALUES(?,?,?,?,?,?,?,?)",
                          (seg.start, seg.end, seg.text, json.dumps([w.to_dict() for w in seg.words],
                                                                    separators=(",", ":")),
                           seg.language, seg.confidence, seg.wall, emb))
        return int(cur.lastrowid)

    def similar(self, q: np.ndarray, *, since: float | None = None, until: float | None = None,
                k: int = 10, scan: int = 5000) -> list[tuple[SpeechSegment, float]]:
        """Segments whose text embedding is nearest ``q`` (cosine), best first, among the newest ``scan``."""
        lo, hi = -1e18 if since is None else since, 1e18 if until is None else until
        rows = self._read(f"SELECT {_COLS}, embedding FROM speech WHERE embedding IS NOT NULL AND start<=? "
                          f"AND end>=? ORDER BY start DESC LIMIT {int(scan)}", (hi, lo))
        q = np.asarray(q, np.float32).reshape(-1)
        rows = [r for r in rows if len(r[8]) == 4 * len(q)]
        if not rows:
            return []
        sims = np.stack([np.frombuffer(r[8], np.float32) for r in rows]) @ q
        order = np.argsort(-sims)[:k]
        return [(_row(rows[i][:8]), float(sims[i])) for i in order]

    def between(self, since: float | None = None, until: float | None = None, *, newest_first: bool = False,
                limit: int | None = None) -> list[SpeechSegment]:
        """Segments overlapping ``[since, until]``, oldest first by default."""
        sql = f"SELECT {_COLS} FROM speech WHERE end>=? AND start<=? ORDER BY start"
        sql += " DESC" if newest_first else ""
        if limit:
            sql += f" LIMIT {int(limit)}"
        rows = self._read(sql, (-1e18 if since is None else since, 1e18 if until is None else until))
        return [_row(r) for r in rows]

    def search(self, words: list[str], *, since: float | None = None, until: float | None = None,
               phrase: bool = False, limit: int = 50) -> list[tuple[SpeechSegment, float]]:
        """Segments whose text matches ``words`` (any; or the phrase), best first, with a score in ``0..1``.

        Falls back to a substring scan where SQLite has no FTS5.
        """
        q = fts_query(words, phrase=phrase)
        if not q:
            return []
        lo, hi = -1e18 if since is None else since, 1e18 if until is None else until
        if self._has_fts():
            rows = self._read(
                f"SELECT {', '.join('s.' + c.strip() for c in _COLS.split(','))}, bm25(speech_fts) AS rank "
                "FROM speech_fts JOIN speech s ON s.id = speech_fts.rowid "
                "WHERE speech_fts MATCH ? AND s.start <= ? AND s.end >= ? ORDER BY rank, s.start LIMIT ?",
                (q, hi, lo, int(limit)))
        else:
            pats = [re.sub(r"[^\w']", "", w.lower()) for w in words]
            target = " ".join(pats) if phrase else None
            rows = [(*r, -1.0) for r in self._read(
                f"SELECT {_COLS} FROM speech WHERE start<=? AND end>=? ORDER BY start", (hi, lo))
                if (target in r[3].lower() if target else any(p and p in r[3].lower() for p in pats))][:limit]
        # bm25 is negative, more negative is better: map onto 0..1 for ranking beside other hits.
        return [(_row(r[:8]), float(-r[8] / (1.0 - r[8]))) for r in rows]

    def _has_fts(self) -> bool:
        if self._fts is None:
            self._fts = bool(self._read("SELECT 1 FROM sqlite_master WHERE name='speech_fts'", ()))
        return self._fts

    def count(self) -> int:
        return int(self._read("SELECT COUNT(*) FROM speech", ())[0][0])

    def delete_before(self, t: float) -> None:
        """Forget speech that ended before stream time ``t`` (budget eviction)."""
        self._write("DELETE FROM speech WHERE end < ?", (t,))

    def oldest_half_cut(self) -> float | None:
        """Start time of the middle segment (to drop the older half), or None when few are left."""
        n = self.count()
        if n <= 3:
            return None
        return float(self._read("SELECT start FROM speech ORDER BY start LIMIT 1 OFFSET ?", (n // 2,))[0][0])

    def last_end(self) -> float | None:
        rows = self._read("SELECT MAX(end) FROM speech", ())
        return rows[0][0] if rows and rows[0][0] is not None else None
