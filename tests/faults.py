"""Fault injection for tests (``faults``): a disk that fills up under a store, on cue.

Both injectors act on writes only, so what a store already holds stays
readable, as on a real full disk; ``room()`` frees the disk again.
"""

from __future__ import annotations

import errno
import sqlite3
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from onlook.memory import Store

_WRITES = ("INSERT", "UPDATE", "DELETE", "REPLACE")


class DiskFull:
    """When it is full: ``full`` once ``after`` writes went through, until :meth:`room` is called."""

    def __init__(self, after: int) -> None:
        self.after = after
        self.writes = 0
        self.refused = 0
        self._room = False

    def refuse(self) -> bool:
        if self._room:
            return False
        self.writes += 1
        if self.writes > self.after:
            self.refused += 1
            return True
        return False

    def room(self) -> None:
        """The operator freed space: writes go through again."""
        self._room = True


def keyframes_fill_up(monkeypatch: pytest.MonkeyPatch, after: int = 0) -> DiskFull:
    """Keyframe JPEG writes fail with ENOSPC after ``after`` of them (the database keeps room)."""
    state = DiskFull(after)
    write_bytes = Path.write_bytes

    def fake(self: Path, data: bytes) -> int:
        if self.parent.name == "keyframes" and state.refuse():
            raise OSError(errno.ENOSPC, "No space left on device", str(self))
        return write_bytes(self, data)

    monkeypatch.setattr(Path, "write_bytes", fake)
    return state


class _FullConnection:
    """A SQLite connection whose writes fail with SQLITE_FULL while the disk is full."""

    def __init__(self, conn: sqlite3.Connection, state: DiskFull) -> None:
        self._conn = conn
        self._state = state

    def _check(self, sql: str) -> None:
        if sql.lstrip().upper().startswith(_WRITES) and self._state.refuse():
            raise sqlite3.OperationalError("database or disk is full")

    def execute(self, sql: str, *args: Any) -> sqlite3.Cursor:
        self._check(sql)
        return self._conn.execute(sql, *args)

    def executemany(self, sql: str, *args: Any) -> sqlite3.Cursor:
        self._check(sql)
        return self._conn.executemany(sql, *args)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._conn, name)


def database_fills_up(monkeypatch: pytest.MonkeyPatch, after: int = 0) -> DiskFull:
    """Writes to every writable store fail with ``database or disk is full`` after ``after`` of them."""
    state = DiskFull(after)
    conn = Store._conn

    def fake(self: Store) -> Any:
        c = conn(self)
        return c if self.readonly else _FullConnection(c, state)

    monkeypatch.setattr(Store, "_conn", fake)
    return state


@contextmanager
def small_tmpfs(path: Path, size: str) -> Iterator[Path]:
    """A real tmpfs of ``size`` mounted at ``path`` (needs root); skips the test where it cannot mount."""
    path.mkdir(parents=True, exist_ok=True)
    try:
        r = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(path)],
                           capture_output=True, text=True, timeout=20)
    except (OSError, subprocess.TimeoutExpired) as e:
        pytest.skip(f"cannot mount a tmpfs: {e}")
    if r.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs: {r.stderr.strip() or r.returncode}")
    try:
        yield path
    finally:
        subprocess.run(["umount", "-l", str(path)], capture_output=True, timeout=20)
