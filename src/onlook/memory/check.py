"""Examining and repairing a damaged store (``onlook store check`` / ``onlook store repair``).

:func:`check_store` reads a store without changing it and lists what is wrong:
SQLite's ``integrity_check``, the schema version, missing tables, rows whose
stored values cannot be decoded, keyframe files no row references (orphans)
and rows naming keyframes that are gone.

:func:`repair_store` salvages what SQLite can still read into a fresh
database, row by row around damaged pages, with values that cannot be decoded
cleared; it keeps the old file as ``onlook.db.bak-<time>`` (with its WAL, as
found) and deletes orphan keyframes only when asked. It needs the store's write
lock, so it refuses a store that a watcher is writing.

Example:
    >>> report = check_store("cam1")                       # doctest: +SKIP
    >>> if not report.ok:                                  # doctest: +SKIP
    ...     print(repair_store("cam1").to_dict())
"""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path
from typing import Any

import numpy as np

from onlook.errors import StoreError, StoreTooNew
from onlook.memory import store as _store
from onlook.memory.store import KEYFRAME_COLUMNS, scan_keyframes, schema_tables, take_store_lock
from onlook.types import Observation

__all__ = ["Finding", "FindingKind", "RepairReport", "StoreReport", "TableSalvage", "check_store", "is_store_folder",
           "repair_store"]

_DB = "onlook.db"
_DROP = object()  # a row whose value cannot be read is left out, not cleared


class FindingKind(Enum):
    """What :func:`check_store` can find."""

    NO_DATABASE = "no_database"
    EMPTY_DATABASE = "empty_database"
    UNREADABLE_DATABASE = "unreadable_database"
    INTEGRITY = "integrity"
    SCHEMA_NEWER = "schema_newer"
    SCHEMA_OLDER = "schema_older"
    UNVERSIONED = "unversioned"
    MISSING_TABLES = "missing_tables"
    UNREADABLE_ROWS = "unreadable_rows"
    ORPHAN_KEYFRAMES = "orphan_keyframes"
    MISSING_KEYFRAMES = "missing_keyframes"


@dataclass(frozen=True)
class Finding:
    """One thing a check found: a problem (the store needs repair) or a note."""

    kind: FindingKind
    problem: bool
    message: str
    count: int = 0

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind.value, "problem": self.problem, "message": self.message, "count": self.count}


@dataclass(frozen=True)
class StoreReport:
    """What :func:`check_store` found in a store folder."""

    path: Path
    schema_version: int | None
    rows: dict[str, int] = field(default_factory=dict)
    keyframes: int = 0
    keyframe_bytes: int = 0
    findings: tuple[Finding, ...] = ()

    @property
    def problems(self) -> tuple[Finding, ...]:
        return tuple(f for f in self.findings if f.problem)

    @property
    def ok(self) -> bool:
        """No problems (notes, such as an older schema migrated on the next open, do not count)."""
        return not self.problems

    def to_dict(self) -> dict[str, Any]:
        return {"type": "store_check", "path": str(self.path), "ok": self.ok, "schema_version": self.schema_version,
                "current_schema_version": _store.SCHEMA_VERSION, "rows": dict(self.rows), "keyframes": self.keyframes,
                "keyframe_bytes": self.keyframe_bytes, "findings": [f.to_dict() for f in self.findings]}


@dataclass(frozen=True)
class TableSalvage:
    """What a repair kept of one table.

    ``lost`` counts row ids SQLite could not read (an upper bound: an id in a
    damaged page may never have held a row); ``cleared`` counts values that
    could not be decoded and were reset to empty (or rows left out, for meta).
    """

    table: str
    kept: int
    lost: int = 0
    cleared: int = 0
    note: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {"table": self.table, "kept": self.kept, "lost": self.lost, "cleared": self.cleared, "note": self.note}


@dataclass(frozen=True)
class RepairReport:
    """What :func:`repair_store` did."""

    path: Path
    backup: Path | None
    tables: tuple[TableSalvage, ...]
    dangling_cleared: int
    orphans: int
    orphan_bytes: int
    orphans_reclaimed: bool
    schema_version: int
    note: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {"type": "store_repair", "path": str(self.path), "backup": str(self.backup) if self.backup else None,
                "tables": [t.to_dict() for t in self.tables], "dangling_keyframes_cleared": self.dangling_cleared,
                "orphans": self.orphans, "orphan_bytes": self.orphan_bytes,
                "orphans_reclaimed": self.orphans_reclaimed, "schema_version": self.schema_version,
                "note": self.note}


# --- decoding stored values (the same shapes Store reads) ------------------------------------


def _check_obs(text: Any) -> None:
    items = json.loads(text or "[]")
    if not isinstance(items, list):
        raise ValueError("not a list of observations")
    for d in items:
        Observation.from_dict(d)


def _check_labels(text: Any) -> None:
    labels = json.loads(text or "[]")
    if not isinstance(labels, list) or not all(isinstance(x, str) for x in labels):
        raise ValueError("not a list of labels")


def _check_box(text: Any) -> None:
    if text:
        box = json.loads(text)
        if not isinstance(box, list) or len(box) != 4:
            raise ValueError("not a box of 4 numbers")
        [float(x) for x in box]


def _check_attrs(text: Any) -> None:
    if not isinstance(json.loads(text or "{}"), dict):
        raise ValueError("not an object")


def _check_embedding(blob: Any) -> None:
    if blob is not None and (not isinstance(blob, bytes) or not np.frombuffer(blob, dtype=np.float32).size):
        raise ValueError("not a float32 vector")


# table -> column -> (what replaces an unreadable value, check that raises on one)
_FIELDS: dict[str, dict[str, tuple[Any, Callable[[Any], None]]]] = {
    "meta": {"value": (_DROP, json.loads)},
    "frames": {"obs": ("[]", _check_obs)},
    "events": {"labels": ("[]", _check_labels), "obs": ("[]", _check_obs), "embedding": (None, _check_embedding)},
    "sightings": {"box": (None, _check_box), "attrs": ("{}", _check_attrs)},
    "alerts": {"evidence": ("[]", _check_obs)},
}
# Derived from events: rebuilt by repair rather than copied.
_DERIVED = {"event_labels"}
# The full-text index over what was said and FTS5's own tables behind it: rebuilt from `speech` on open.
_DERIVED_PREFIX = "speech_fts"


def _bad_fields(table: str, row: dict[str, Any]) -> list[str]:
    bad = []
    for col, (_, check) in _FIELDS.get(table, {}).items():
        if col in row:
            try:
                check(row[col])
            except (ValueError, TypeError, KeyError, AttributeError):
                bad.append(col)
    return bad


def _q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def is_store_folder(path: str | os.PathLike[str]) -> bool:
    """Whether ``path`` looks like a store folder (a database or a keyframe folder in it)."""
    path = Path(path)
    return path.is_dir() and ((path / _DB).exists() or (path / "keyframes").is_dir())


def _truncation(db: Path) -> tuple[int, int] | None:
    """``(pages the header says, whole pages in the file)`` where the file is shorter than its header says."""
    try:
        with db.open("rb") as f:
            head = f.read(100)
        size = db.stat().st_size
    except OSError:
        return None
    if len(head) < 100 or not head.startswith(b"SQLite format 3\x00"):
        return None
    page = int.from_bytes(head[16:18], "big")
    page = 65536 if page == 1 else page
    pages = int.from_bytes(head[28:32], "big")
    # The header's page count holds only while its change counter matches "version-valid-for".
    if head[24:28] != head[92:96] or not page or pages * page <= size:
        return None
    return pages, size // page


def _fit_header(db: Path, pages: int) -> None:
    """Make a truncated database's header say how many pages are left, so SQLite reads what remains."""
    with db.open("r+b") as f:
        f.seek(28)
        f.write(pages.to_bytes(4, "big"))


def _ro_connect(db: Path) -> sqlite3.Connection:
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    conn.execute("PRAGMA busy_timeout=5000")
    return conn


# --- check -----------------------------------------------------------------------------------


def check_store(path: str | os.PathLike[str], *, orphan_min_age_s: float = 60.0) -> StoreReport:
    """Examine a store folder without changing it.

    Args:
        path: The store folder.
        orphan_min_age_s: Keyframe files younger than this are not called
            orphans (a running writer names them in a row just after writing).

    Returns:
        The report; ``report.ok`` is False when the store needs a repair.

    Raises:
        StoreError: ``path`` is not a store folder.
    """
    path = Path(path)
    if not is_store_folder(path):
        raise StoreError(f"no onlook store at '{path}' (expected {_DB} or keyframes/ in it)")
    files, _ = scan_keyframes(path / "keyframes")
    kf_bytes = sum(size for size, _ in files.values())
    db = path / _DB
    findings: list[Finding] = []

    def report(version: int | None = None, rows: dict[str, int] | None = None) -> StoreReport:
        return StoreReport(path, version, rows or {}, len(files), kf_bytes, tuple(findings))

    def lost(what: str, kind: FindingKind) -> StoreReport:
        findings.append(Finding(kind, True, f"{what}; {len(files)} keyframes have no rows"
                                            " (`onlook store repair` starts a new database beside them)", len(files)))
        return report()

    if not db.is_file():
        return lost(f"no database ({_DB} is missing)", FindingKind.NO_DATABASE)
    if db.stat().st_size == 0:
        return lost(f"the database ({_DB}) is empty", FindingKind.EMPTY_DATABASE)
    try:
        conn = _ro_connect(db)
        version = int(conn.execute("PRAGMA user_version").fetchone()[0])
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    except sqlite3.Error as e:
        cut = _truncation(db)
        why = f" (truncated: {cut[1]} of its {cut[0]} pages are left)" if cut else ""
        findings.append(Finding(FindingKind.UNREADABLE_DATABASE, True, f"the database cannot be read: {e}{why}"))
        return report()
    try:
        return _check_db(conn, version, tables, files, findings, report, orphan_min_age_s)
    finally:
        conn.close()


def _check_db(conn: sqlite3.Connection, version: int, tables: set[str], files: dict[str, tuple[int, float]],
              findings: list[Finding], report: Callable[..., StoreReport], orphan_min_age_s: float) -> StoreReport:
    try:
        bad = [r[0] for r in conn.execute("PRAGMA integrity_check(20)")]
    except sqlite3.Error as e:
        bad = [str(e)]
    if bad != ["ok"]:
        findings.append(Finding(FindingKind.INTEGRITY, True, f"integrity_check: {'; '.join(bad[:3])}"
                                + (f" (and {len(bad) - 3} more)" if len(bad) > 3 else ""), len(bad)))
    known = schema_tables()
    has = version or (1 if tables & schema_tables(1) else 0)  # unversioned: step 1's layout, if any of it
    if version > _store.SCHEMA_VERSION:
        findings.append(Finding(FindingKind.SCHEMA_NEWER, True, f"schema version {version} is newer than this "
                                f"onlook's {_store.SCHEMA_VERSION}: upgrade onlook"))
        return report(version)
    if has == 0:
        if files:
            findings.append(Finding(FindingKind.EMPTY_DATABASE, True, f"the database has no tables; {len(files)} "
                                    "keyframes have no rows (`onlook store repair` starts a new database beside them)",
                                    len(files)))
        return report(version)
    if version == 0:
        findings.append(Finding(FindingKind.UNVERSIONED, False, f"no schema version (written before versions): "
                                f"stamped {_store.SCHEMA_VERSION} when next opened for writing"))
    elif version < _store.SCHEMA_VERSION:
        findings.append(Finding(FindingKind.SCHEMA_OLDER, False, f"schema version {version}: migrated to "
                                f"{_store.SCHEMA_VERSION} when next opened for writing"))
    missing = schema_tables(has) - tables
    if missing:
        findings.append(Finding(FindingKind.MISSING_TABLES, True, f"missing table(s): {', '.join(sorted(missing))}",
                                len(missing)))
    rows: dict[str, int] = {}
    unreadable: list[str] = []
    n_bad = 0
    for table in sorted(known & tables):
        n, bad_keys, error = _scan_table(conn, table)
        rows[table] = n
        if bad_keys:
            n_bad += len(bad_keys)
            unreadable.append(f"{table}: {len(bad_keys)} (row {', '.join(map(str, bad_keys[:3]))}"
                              + (", ..." if len(bad_keys) > 3 else "") + ")")
        if error:
            n_bad += 1
            unreadable.append(f"{table}: reading stopped after {n} rows ({error})")
    if unreadable:
        findings.append(Finding(FindingKind.UNREADABLE_ROWS, True, "unreadable rows: " + "; ".join(unreadable), n_bad))
    referenced: set[str] = set()
    dangling_rows = 0
    try:
        for table, col in KEYFRAME_COLUMNS:
            if table not in tables:
                continue
            for rel, n in conn.execute(f"SELECT {col}, COUNT(*) FROM {table} WHERE {col} IS NOT NULL GROUP BY {col}"):
                name = Path(rel).name
                referenced.add(name)
                if name not in files:
                    dangling_rows += n
    except sqlite3.Error as e:
        findings.append(Finding(FindingKind.UNREADABLE_ROWS, True, f"keyframe references cannot be read: {e}"))
        return report(version, rows)
    if dangling_rows:
        gone = len({n for n in referenced if n not in files})
        findings.append(Finding(FindingKind.MISSING_KEYFRAMES, True, f"{dangling_rows} rows name {gone} keyframe "
                                "file(s) that are gone (repair clears those references)", dangling_rows))
    now = time.time()
    orphans = {n: e for n, e in files.items() if n not in referenced and now - e[1] >= orphan_min_age_s}
    if orphans:
        mb = sum(size for size, _ in orphans.values()) / 1e6
        findings.append(Finding(FindingKind.ORPHAN_KEYFRAMES, True, f"{len(orphans)} keyframe files ({mb:.1f} MB) "
                                "that no row names (the budget deletes them first; `onlook store repair "
                                "--reclaim-orphans` now)", len(orphans)))
    return report(version, rows)


def _scan_table(conn: sqlite3.Connection, table: str) -> tuple[int, list[Any], str | None]:
    """Read every row of a known table: (rows read, keys of rows with undecodable values, read error)."""
    cols = list(_FIELDS.get(table, {}))
    sel = ", ".join(["rowid", *cols])
    n, bad = 0, []
    dims: Counter[int] = Counter()
    dim_of: list[tuple[Any, int]] = []
    try:
        for r in conn.execute(f"SELECT {sel} FROM {table}"):
            n += 1
            row = dict(zip(cols, r[1:]))
            if _bad_fields(table, row):
                bad.append(r[0])
            elif table == "events" and row.get("embedding") is not None:
                d = len(row["embedding"])
                dims[d] += 1
                dim_of.append((r[0], d))
    except sqlite3.Error as e:
        return n, bad, str(e)
    if len(dims) > 1:  # vectors of another length than most cannot share the index
        common = dims.most_common(1)[0][0]
        bad += [k for k, d in dim_of if d != common]
    return n, bad, None


# --- repair ----------------------------------------------------------------------------------


def _unique(path: Path) -> Path:
    if not path.exists():
        return path
    for i in range(1, 1000):
        p = path.with_name(f"{path.name}-{i}")
        if not p.exists():
            return p
    raise StoreError(f"too many backups named '{path}'")


def _rows_by_rowid(conn: sqlite3.Connection, table: str, cols: list[str], lost: list[int],
                   chunk: int = 2000, max_probes: int = 20000) -> Iterator[tuple]:
    """``(rowid, *cols)`` of every row SQLite can read, stepping around damaged pages.

    Reads rowid ranges; a range that fails is split in two until single rowids,
    and each rowid that still fails is counted in ``lost[0]``.
    """
    sel = ", ".join(_q(c) for c in cols)
    query = f"SELECT rowid{', ' + sel if sel else ''} FROM {_q(table)} WHERE rowid BETWEEN ? AND ? ORDER BY rowid"
    try:
        lo, hi = conn.execute(f"SELECT MIN(rowid), MAX(rowid) FROM {_q(table)}").fetchone()
    except sqlite3.DatabaseError:
        lo = hi = None
        try:  # the ends are unreadable: take rows in order until the damage
            yield from conn.execute(f"SELECT rowid{', ' + sel if sel else ''} FROM {_q(table)} ORDER BY rowid")
        except sqlite3.DatabaseError:
            lost[0] += 1
        return
    if lo is None:
        return
    probes = 0
    stack = [(a, min(a + chunk - 1, hi)) for a in range(hi - (hi - lo) % chunk, lo - 1, -chunk)]
    # Chunks in ascending order off the stack's top.
    stack.sort(reverse=True)
    while stack:
        a, b = stack.pop()
        try:
            rows = conn.execute(query, (a, b)).fetchall()
        except sqlite3.DatabaseError:
            probes += 1
            if a == b or probes > max_probes:
                lost[0] += b - a + 1
                continue
            mid = (a + b) // 2
            stack += [(mid + 1, b), (a, mid)]
            continue
        yield from rows


def _salvage_table(src: sqlite3.Connection, dst: sqlite3.Connection, table: str, known: bool) -> TableSalvage:
    try:
        src_cols = [r[1] for r in src.execute(f"PRAGMA table_info({_q(table)})")]
    except sqlite3.DatabaseError as e:
        return TableSalvage(table, 0, note=f"its layout cannot be read: {e}")
    dst_cols = {r[1] for r in dst.execute(f"PRAGMA table_info({_q(table)})")}
    cols = [c for c in src_cols if c in dst_cols]
    fields = _FIELDS.get(table, {}) if known else {}
    insert = (f"INSERT OR IGNORE INTO {_q(table)}(rowid{''.join(', ' + _q(c) for c in cols)}) "
              f"VALUES({','.join('?' * (len(cols) + 1))})")
    lost = [0]
    kept = cleared = 0
    try:
        src.execute(f"SELECT rowid FROM {_q(table)} LIMIT 0")
    except sqlite3.OperationalError:  # a WITHOUT ROWID table (not one of onlook's): copied in one go
        try:
            rows = src.execute(f"SELECT {', '.join(_q(c) for c in cols)} FROM {_q(table)}").fetchall()
        except sqlite3.DatabaseError as e:
            return TableSalvage(table, 0, note=f"cannot be read: {e}")
        dst.executemany(f"INSERT OR IGNORE INTO {_q(table)}({', '.join(_q(c) for c in cols)}) "
                        f"VALUES({','.join('?' * len(cols))})", rows)
        return TableSalvage(table, len(rows))
    batch: list[tuple] = []
    for r in _rows_by_rowid(src, table, cols, lost):
        row = dict(zip(cols, r[1:]))
        bad = _bad_fields(table, row) if fields else []
        if bad:
            if any(fields[c][0] is _DROP for c in bad):
                cleared += 1
                continue
            for c in bad:
                row[c] = fields[c][0]
            cleared += 1
        batch.append((r[0], *(row[c] for c in cols)))
        if len(batch) >= 1000:
            dst.executemany(insert, batch)
            kept += len(batch)
            batch.clear()
    dst.executemany(insert, batch)
    kept += len(batch)
    return TableSalvage(table, kept, lost[0], cleared)


def _rebuild_labels(dst: sqlite3.Connection) -> TableSalvage:
    dst.execute("DELETE FROM event_labels")
    rows = [(lab, eid, start) for eid, start, labels in dst.execute("SELECT id, start, labels FROM events")
            for lab in set(json.loads(labels or "[]"))]
    dst.executemany("INSERT INTO event_labels(label, event_id, start) VALUES(?,?,?)", rows)
    return TableSalvage("event_labels", len(rows), note="rebuilt from events")


def _clear_odd_embeddings(dst: sqlite3.Connection) -> int:
    dims = Counter(dict(dst.execute("SELECT length(embedding), COUNT(*) FROM events WHERE embedding IS NOT NULL "
                                    "GROUP BY length(embedding)").fetchall()))
    if len(dims) <= 1:
        return 0
    common = dims.most_common(1)[0][0]
    return dst.execute("UPDATE events SET embedding=NULL WHERE embedding IS NOT NULL AND length(embedding) != ?",
                       (common,)).rowcount


def repair_store(path: str | os.PathLike[str], *, reclaim_orphans: bool = False) -> RepairReport:
    """Salvage a damaged store into a fresh database, keeping the old file as a backup.

    Every table of the old database is copied row by row around damaged
    pages (tables onlook does not know, such as conversations, as they are);
    undecodable values in onlook's tables are cleared, event labels are rebuilt
    from the events, references to keyframe files that are gone are cleared,
    and the new database is stamped with the current schema version.

    Args:
        path: The store folder.
        reclaim_orphans: Also delete keyframe files that no salvaged row names.

    Returns:
        What was kept, lost and cleared, and where the backup is.

    Raises:
        StoreLocked: a watcher is writing the store (stop it first).
        StoreTooNew: a newer onlook wrote it.
        StoreError: ``path`` is not a store folder, or the new database cannot be written.
    """
    path = Path(path)
    if not is_store_folder(path):
        raise StoreError(f"no onlook store at '{path}' (expected {_DB} or keyframes/ in it)")
    (path / "keyframes").mkdir(exist_ok=True)
    fd = take_store_lock(path)
    try:
        with tempfile.TemporaryDirectory(prefix=".repair-", dir=path) as scratch:
            return _repair(path, Path(scratch), reclaim_orphans)
    except OSError as e:
        if isinstance(e, StoreError):
            raise
        raise StoreError(f"cannot repair store '{path}': {e.strerror or e}") from None
    except sqlite3.Error as e:
        raise StoreError(f"cannot repair store '{path}': {e}") from None
    finally:
        os.close(fd)


def _repair(path: Path, scratch: Path, reclaim_orphans: bool) -> RepairReport:
    db, wal = path / _DB, path / f"{_DB}-wal"
    src: sqlite3.Connection | None = None
    note = ""
    if db.is_file() and db.stat().st_size > 0:
        # Read a copy: opening it replays its WAL, which must not change the backup.
        shutil.copyfile(db, scratch / "old.db")
        if wal.is_file():
            shutil.copyfile(wal, scratch / "old.db-wal")
        cut = _truncation(scratch / "old.db")
        if cut:
            _fit_header(scratch / "old.db", cut[1])
            note = f"the old database was truncated ({cut[1]} of its {cut[0]} pages left): rows in the rest are lost"
        try:
            src = sqlite3.connect(scratch / "old.db")
            version = int(src.execute("PRAGMA user_version").fetchone()[0])
            src_tables = [(r[0], r[1]) for r in src.execute(
                "SELECT name, sql FROM sqlite_master WHERE type='table' AND name NOT LIKE 'sqlite_%'")]
        except sqlite3.DatabaseError as e:
            src, version, src_tables = None, 0, []
            note = f"the old database could not be read at all ({e}): nothing was salvaged from it"
        if version > _store.SCHEMA_VERSION:
            raise StoreTooNew(f"store '{path}' was written by a newer onlook (schema version {version}; this one "
                              f"knows up to {_store.SCHEMA_VERSION}): repair it with that onlook")
    else:
        version, src_tables = 0, []
        note = f"there was no database ({_DB} {'empty' if db.is_file() else 'missing'}): a new one was started"
    dst = sqlite3.connect(scratch / "new.db", isolation_level=None)
    dst.execute("PRAGMA auto_vacuum=INCREMENTAL")  # as Store makes them: before the first table
    for i, (_, sql) in enumerate(_store.MIGRATIONS):
        dst.executescript(f"BEGIN;\n{sql}\nPRAGMA user_version={i + 1};\nCOMMIT;")
    known = schema_tables()
    salvaged: list[TableSalvage] = []
    dst.execute("BEGIN")
    if src is not None:
        present = {name for name, _ in src_tables}
        salvaged += [TableSalvage(t, 0, note="missing in the old database") for t in sorted(known - present)]
        for name, sql in src_tables:
            if name in _DERIVED or name.startswith(_DERIVED_PREFIX):
                continue
            if name not in known:
                try:
                    dst.execute(sql)
                except sqlite3.Error as e:
                    salvaged.append(TableSalvage(name, 0, note=f"not recreated: {e}"))
                    continue
            salvaged.append(_salvage_table(src, dst, name, name in known))
        for (sql,) in src.execute("SELECT sql FROM sqlite_master WHERE type IN ('index', 'trigger', 'view') AND "
                                  "sql IS NOT NULL AND tbl_name NOT IN ({})".format(",".join("?" * len(known))),
                                  tuple(known)).fetchall():
            try:
                dst.execute(sql)
            except sqlite3.Error:
                pass  # an index of a table not recreated
        odd = _clear_odd_embeddings(dst)
        if odd:
            salvaged = [TableSalvage(t.table, t.kept, t.lost, t.cleared + odd, t.note) if t.table == "events" else t
                        for t in salvaged]
        src.close()
    salvaged.append(_rebuild_labels(dst))
    files, _ = scan_keyframes(path / "keyframes")
    dangling = 0
    referenced: set[str] = set()
    for table, col in KEYFRAME_COLUMNS:
        for (rel,) in dst.execute(f"SELECT DISTINCT {col} FROM {table} WHERE {col} IS NOT NULL").fetchall():
            name = Path(rel).name
            if name in files:
                referenced.add(name)
            else:
                dangling += dst.execute(f"UPDATE {table} SET {col}=NULL WHERE {col}=?", (rel,)).rowcount
    dst.execute("COMMIT")
    dst.execute("PRAGMA journal_mode=WAL")  # built as one file; a Store opens it in WAL mode like any other
    dst.close()
    backup = None
    if db.is_file():
        # The old file stays as it was, under the backup's name, its WAL beside it. The WAL moves
        # first: left next to the new database, SQLite would replay the old pages onto it.
        backup = _unique(path / f"{_DB}.bak-{time.strftime('%Y%m%d-%H%M%S')}")
        try:
            os.link(db, backup)
        except OSError:
            shutil.copyfile(db, backup)
        if wal.is_file():
            os.replace(wal, Path(f"{backup}-wal"))
    (path / f"{_DB}-shm").unlink(missing_ok=True)
    os.replace(scratch / "new.db", db)
    orphans = {n: e for n, e in files.items() if n not in referenced}
    orphan_bytes = sum(size for size, _ in orphans.values())
    if reclaim_orphans:
        for name in orphans:
            (path / "keyframes" / name).unlink(missing_ok=True)
    return RepairReport(path, backup, tuple(salvaged), dangling, len(orphans), orphan_bytes, reclaim_orphans,
                        _store.SCHEMA_VERSION, note)
