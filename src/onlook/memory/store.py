"""The long-term store: SQLite (WAL) + JPEG keyframes + a vector index, on disk.

Layout of a store folder::

    DIR/
      onlook.db          SQLite in WAL mode: meta, frames (timeline), events,
                         sightings, alerts, alert_queries, gaps, speech (+ its
                         full-text index, see onlook.memory.transcripts),
                         conversations (see onlook.memory.conversations)
      keyframes/*.jpg    thumbnails of events and alerts
      .lock              held (flock) by the one process that writes

One process writes (the stream's ingest worker); any number read, each thread
through its own connection, which WAL allows without blocking the writer. The
vector index over event embeddings lives in RAM and is rebuilt from SQLite on
open, so the database is the single source of truth.

Every database carries its schema version (``PRAGMA user_version``); opening a
store for writing applies the steps of :data:`MIGRATIONS` it lacks, and a store
from a newer onlook is refused (:class:`~onlook.errors.StoreTooNew`). A damaged
database, one that is missing or empty beside keyframes, or a row that cannot
be decoded is :class:`~onlook.errors.StoreCorrupt`; :mod:`onlook.memory.check`
examines and repairs such stores.

The store keeps within a byte budget: when over it, keyframe files no row
references (orphans, left by a database that lost rows) are deleted first, then
the oldest per-frame timeline rows (events summarise them), then keyframes of
the oldest low-salience events, then adjacent low-salience events are merged,
and last the oldest events themselves are deleted. A keyframe file is deleted
only when no row references it any more, and eviction stops when the bytes
left over the budget are not the store's to free (foreign files, a WAL a reader
holds), instead of deleting memory that frees nothing. The size is a running
total: the keyframe folder is scanned once on open, not on every status.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import json
import os
import re
import shutil
import sqlite3
import tempfile
import threading
import time
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from onlook.errors import StoreCorrupt, StoreError, StoreFull, StoreLocked, StoreTooNew
from onlook.memory import conversations, transcripts
from onlook.types import Alert, Event, Gap, Observation, SpeechSegment, TimelineRow

__all__ = ["KEYFRAME_COLUMNS", "MIGRATIONS", "SCHEMA_VERSION", "Store", "VectorIndex", "schema_tables"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value TEXT);
CREATE TABLE IF NOT EXISTS frames(
  t REAL PRIMARY KEY, seq INTEGER, wall REAL, people INTEGER, motion REAL, analysed REAL, obs TEXT);
CREATE TABLE IF NOT EXISTS events(
  id INTEGER PRIMARY KEY, start REAL, end REAL, summary TEXT, people_max INTEGER, labels TEXT,
  salience REAL, keyframe TEXT, keyframe_t REAL, obs TEXT, embedding BLOB);
CREATE INDEX IF NOT EXISTS events_start ON events(start);
CREATE INDEX IF NOT EXISTS events_end ON events(end);
CREATE TABLE IF NOT EXISTS event_labels(label TEXT, event_id INTEGER, start REAL);
CREATE INDEX IF NOT EXISTS event_labels_label ON event_labels(label, start);
CREATE INDEX IF NOT EXISTS event_labels_event ON event_labels(event_id);
CREATE TABLE IF NOT EXISTS sightings(
  id INTEGER PRIMARY KEY, t REAL, kind TEXT, label TEXT, track_id INTEGER, box TEXT, attrs TEXT,
  keyframe TEXT);
CREATE INDEX IF NOT EXISTS sightings_t ON sightings(t);
CREATE INDEX IF NOT EXISTS sightings_kind_t ON sightings(kind, t);
CREATE TABLE IF NOT EXISTS alerts(
  id INTEGER PRIMARY KEY, t REAL, wall REAL, query TEXT, evidence TEXT, keyframe TEXT);
CREATE TABLE IF NOT EXISTS alert_queries(query TEXT PRIMARY KEY, created_t REAL);
CREATE TABLE IF NOT EXISTS gaps(
  id INTEGER PRIMARY KEY, start REAL, end REAL, wall_start REAL, wall_end REAL, reason TEXT);
"""


# Schema steps, oldest first: step i (1-based) brings a store to schema version i,
# which PRAGMA user_version records in the same transaction. A store written before
# versions existed (user_version 0) has step 1's layout, and step 1 is all
# "IF NOT EXISTS", so such a store is stamped without change. Adding a table (or an
# index, a column) is appending one step; a step that has shipped is never edited.
# A read-only store is not migrated: a reader of a table added by a later step asks
# Store.has_table first.
MIGRATIONS: tuple[tuple[str, str], ...] = (
    ("meta, timeline, events and their labels, sightings, alerts, alert queries, gaps", _SCHEMA),
    ("speech: transcript segments with word times", transcripts.SCHEMA),
    # Until this step onlook.answer.dialogue created these itself, in the same layout: IF NOT EXISTS keeps them.
    ("conversations and their turns", conversations.SCHEMA),
)
SCHEMA_VERSION = len(MIGRATIONS)

# Every column that names a keyframe file: a file is memory while one of them names it.
KEYFRAME_COLUMNS: tuple[tuple[str, str], ...] = (("events", "keyframe"), ("sightings", "keyframe"),
                                                 ("alerts", "keyframe"))

_KEYFRAME_NAME = re.compile(r"[0-9]{1,20}\.jpg")
# Names save_keyframe gives (a negative stream time included); anything else in the folder is not ours.
_OWN_KEYFRAME = re.compile(r"-?[0-9]{1,20}\.jpg")
_CREATES_TABLE = re.compile(r"CREATE TABLE IF NOT EXISTS\s+(\w+)", re.IGNORECASE)
# What a malformed stored value raises while it is decoded (JSON, observation dicts, vector blobs).
_DECODE_ERRORS = (ValueError, TypeError, KeyError, AttributeError)
_SQLITE_CORRUPT, _SQLITE_NOTADB = 11, 26


def schema_tables(version: int | None = None) -> set[str]:
    """The tables a store of schema ``version`` (default: the current one) has: those its steps create."""
    steps = MIGRATIONS if version is None else MIGRATIONS[:version]
    return {name for _, sql in steps for name in _CREATES_TABLE.findall(sql)}


def _is_corrupt(e: sqlite3.Error) -> bool:
    code = getattr(e, "sqlite_errorcode", None)
    if code is not None:
        return code & 0xFF in (_SQLITE_CORRUPT, _SQLITE_NOTADB)
    return "malformed" in str(e) or "not a database" in str(e)


def _advice(path: Path) -> str:
    return f"`onlook store check {path}` says what is wrong, `onlook store repair {path}` salvages what can be read"


def take_store_lock(path: Path) -> int:
    """Take the writer's lock of the store folder ``path``; returns the file descriptor holding it.

    Raises:
        StoreLocked: another writer holds it.
    """
    fd = os.open(path / ".lock", os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        raise StoreLocked(f"store '{path}' is being written by another process") from None
    return fd


def scan_keyframes(folder: Path) -> tuple[dict[str, tuple[int, float]], int]:
    """The keyframe files in ``folder`` as ``{name: (bytes, mtime)}``, and the bytes of other files there."""
    files: dict[str, tuple[int, float]] = {}
    foreign = 0
    with contextlib.suppress(FileNotFoundError, NotADirectoryError), os.scandir(folder) as it:
        for entry in it:
            try:
                if not entry.is_file(follow_symlinks=False):
                    continue
                st = entry.stat(follow_symlinks=False)
            except OSError:
                continue
            if _OWN_KEYFRAME.fullmatch(entry.name):
                files[entry.name] = (st.st_size, st.st_mtime)
            else:
                foreign += st.st_size
    return files, foreign



def _rowid(cur: sqlite3.Cursor) -> int:
    """The id of the row an INSERT just wrote (sqlite3 types ``lastrowid`` as optional)."""
    if cur.lastrowid is None:  # pragma: no cover - only after a statement that inserted nothing
        raise StoreError("insert wrote no row")
    return int(cur.lastrowid)

class VectorIndex:
    """Inner-product index over L2-normalised vectors, keyed by event id.

    Uses faiss when importable, else numpy (same results, slower at scale).
    """

    def __init__(self, dim: int) -> None:
        self.dim = dim
        try:
            import faiss  # noqa: PLC0415 - optional speed-up

            # Any: faiss's stubs name remove_ids' argument an IDSelector, but it takes an id array too.
            self._faiss: Any = faiss.IndexIDMap2(faiss.IndexFlatIP(dim))
        except ImportError:  # pragma: no cover - faiss is a core dependency
            self._faiss = None
        self._ids: list[int] = []
        self._vecs: list[np.ndarray] = []

    def __len__(self) -> int:
        return int(self._faiss.ntotal) if self._faiss is not None else len(self._ids)

    def add(self, ids: Iterable[int], vecs: np.ndarray) -> None:
        ids = np.asarray(list(ids), dtype=np.int64)
        vecs = np.ascontiguousarray(vecs, dtype=np.float32).reshape(len(ids), self.dim)
        if self._faiss is not None:
            self._faiss.add_with_ids(vecs, ids)
        else:
            self._ids.extend(int(i) for i in ids)
            self._vecs.extend(vecs)

    def remove(self, ids: Iterable[int]) -> None:
        ids = [int(i) for i in ids]
        if not ids:
            return
        if self._faiss is not None:
            self._faiss.remove_ids(np.asarray(ids, dtype=np.int64))
        else:
            drop = set(ids)
            keep = [(i, v) for i, v in zip(self._ids, self._vecs) if i not in drop]
            self._ids = [i for i, _ in keep]
            self._vecs = [v for _, v in keep]

    def search(self, q: np.ndarray, k: int) -> list[tuple[int, float]]:
        if len(self) == 0:
            return []
        q = np.ascontiguousarray(q, dtype=np.float32).reshape(1, self.dim)
        k = min(k, len(self))
        if self._faiss is not None:
            scores, ids = self._faiss.search(q, k)
            return [(int(i), float(s)) for i, s in zip(ids[0], scores[0]) if i >= 0]
        mat = np.stack(self._vecs)
        sims = mat @ q[0]
        order = np.argsort(-sims)[:k]
        return [(self._ids[i], float(sims[i])) for i in order]


def _obs_json(obs: Iterable[Observation]) -> str:
    return json.dumps([o.to_dict() for o in obs], separators=(",", ":"))


def _obs_from_json(text: str | None) -> list[Observation]:
    return [Observation.from_dict(d) for d in json.loads(text or "[]")]


def _labels_or_none(text: str | None) -> list[str]:
    """An event's labels, or none where the stored value cannot be read (eviction must not stop on it)."""
    try:
        labels = json.loads(text or "[]")
    except ValueError:
        return []
    return [str(x) for x in labels] if isinstance(labels, list) else []


class Store:
    """A stream's memory on disk.

    Args:
        path: Store folder (created if missing). ``None`` uses a temporary
            folder removed on :meth:`close` (memory that does not persist).
        budget_bytes: Size the folder must stay under.
        readonly: Open an existing store for reading only (no lock taken),
            e.g. ``onlook ask --store DIR`` while a watcher is writing.
        keep_recent_s: The newest stretch of per-frame timeline (stream
            seconds) that budget eviction leaves at full resolution.

    Raises:
        StoreLocked: another process is writing to ``path``.
        StoreCorrupt: the database is damaged, lacks tables, or is missing or
            empty beside keyframes (a new one is not started over them).
        StoreTooNew: a newer onlook wrote the store.
        StoreError: the folder or database cannot be opened.
    """

    def __init__(self, path: str | os.PathLike[str] | None, *, budget_bytes: int = 500 * 1000**2,
                 readonly: bool = False, keep_recent_s: float = 600.0) -> None:
        self._tmp = None
        if path is None:
            if readonly:
                raise StoreError("a read-only store needs a path")
            self._tmp = tempfile.mkdtemp(prefix="onlook-")
            path = self._tmp
        self.path = Path(path)
        self.readonly = readonly
        self.budget_bytes = budget_bytes
        self.keep_recent_s = keep_recent_s
        self.db_path = self.path / "onlook.db"
        self.keyframe_dir = self.path / "keyframes"
        self._lock_fd: int | None = None
        self._local = threading.local()
        self._write_lock = threading.Lock()
        self._conns: list[sqlite3.Connection] = []
        self._since_budget_check = 0
        self.evictions = 0
        self.orphans_reclaimed = 0
        # Running size of the keyframe folder (writer only): name -> (bytes, mtime), kept by
        # save_keyframe and every delete, so status never scans the folder.
        self._kf_lock = threading.Lock()
        self._keyframes: dict[str, tuple[int, float]] | None = None
        self._keyframe_bytes = 0
        self._foreign_bytes = 0
        self._unfreeable_bytes = 0
        self.schema_version = SCHEMA_VERSION
        self.tables: set[str] = set()
        self.closed = False
        if readonly:
            if not self.db_path.is_file() and not scan_keyframes(self.keyframe_dir)[0]:
                raise StoreError(f"no onlook store at '{self.path}' (expected {self.db_path.name})")
        else:
            try:
                self.keyframe_dir.mkdir(parents=True, exist_ok=True)
            except OSError as e:
                raise StoreError(f"cannot create store folder '{self.path}': {e.strerror or e}") from None
            self._take_lock()
        try:
            self.transcripts = transcripts.Transcripts(self._read, self._write)
            self.conversations = conversations.ConversationLog(self._read, self._write,
                                                               lambda: self.has_table("conversations"))
            self._open_schema()
            self.index: VectorIndex | None = None
            self._rebuild_index()
        except sqlite3.DatabaseError as e:
            self.close()
            if _is_corrupt(e):
                raise StoreCorrupt(f"cannot open store '{self.path}': its database is damaged ({e}); "
                                   f"{_advice(self.path)}") from None
            raise StoreError(f"cannot open store '{self.path}': {e}") from None
        except StoreError:
            self.close()
            raise

    def _open_schema(self) -> None:
        """Check the database's layout and version; bring a writable one up to date."""
        # A writer counts its keyframes once here (the running size); a reader only where the database
        # looks lost, so opening one to answer a question costs no folder scan.
        files, foreign = scan_keyframes(self.keyframe_dir) if not self.readonly else ({}, 0)
        if not self.db_path.is_file() or self.db_path.stat().st_size == 0:
            files = files or scan_keyframes(self.keyframe_dir)[0]
            if files:  # a lost database: starting a new one would pass the old keyframes off as orphans
                raise self._lost_database(len(files), "missing" if not self.db_path.is_file() else "empty")
        version, tables = self._inspect()
        if version > SCHEMA_VERSION:
            raise StoreTooNew(f"store '{self.path}' was written by a newer onlook (schema version {version}; this "
                              f"one knows up to {SCHEMA_VERSION}): upgrade onlook to open it")
        # Unversioned with tables: the layout of step 1. Unversioned without any of step 1's (at most
        # tables a later step owns, such as conversations written before the store owned them): a new store.
        has = version or (1 if tables & schema_tables(1) else 0)
        if has == 0:
            files = files or scan_keyframes(self.keyframe_dir)[0]
            if files:
                raise self._lost_database(len(files), "without tables")
        missing = schema_tables(has) - tables
        if missing:
            raise StoreCorrupt(f"store '{self.path}' is damaged: its database lacks the table(s) "
                               f"{', '.join(sorted(missing))}; {_advice(self.path)}")
        if self.readonly:
            if has == 0:
                raise StoreCorrupt(f"store '{self.path}' has an empty database (no tables in {self.db_path.name})")
            self.schema_version, self.tables = has, tables
            return
        conn = self._conn()
        for i in range(version, SCHEMA_VERSION):
            try:
                conn.executescript(f"BEGIN;\n{MIGRATIONS[i][1]}\nPRAGMA user_version={i + 1};\nCOMMIT;")
            except sqlite3.Error:
                with contextlib.suppress(sqlite3.Error):
                    conn.rollback()
                raise
        transcripts.create(conn)  # the full-text index over what was said (where SQLite has FTS5)
        self.schema_version = SCHEMA_VERSION
        self.tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        with self._kf_lock:
            self._keyframes, self._foreign_bytes = files, foreign
            self._keyframe_bytes = sum(size for size, _ in files.values())

    def _inspect(self) -> tuple[int, set[str]]:
        """The database's schema version and tables, read before anything (journal mode included) is changed."""
        if not self.db_path.is_file() or self.db_path.stat().st_size == 0:
            return 0, set()
        try:
            conn = sqlite3.connect(f"file:{self.db_path}?mode=ro", uri=True)
        except sqlite3.OperationalError:
            conn = None
        if conn is not None:
            try:
                conn.execute("PRAGMA busy_timeout=5000")
                return (int(conn.execute("PRAGMA user_version").fetchone()[0]),
                        {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")})
            except sqlite3.OperationalError:
                pass  # e.g. a WAL without its -shm, which a read-only connection cannot create
            finally:
                conn.close()
        conn = self._conn()
        return (int(conn.execute("PRAGMA user_version").fetchone()[0]),
                {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")})

    def _lost_database(self, keyframes: int, state: str) -> StoreCorrupt:
        return StoreCorrupt(f"store '{self.path}' holds {keyframes} keyframes but its database ({self.db_path.name}) "
                            f"is {state}, so its rows are lost: restore it from a backup, or "
                            f"`onlook store repair {self.path}` starts a new database and keeps the keyframes")

    def has_table(self, name: str) -> bool:
        """Whether the database has table ``name`` (a read-only store may predate a later step)."""
        return name in self.tables

    # --- connections -------------------------------------------------------------------------

    def _take_lock(self) -> None:
        self._lock_fd = take_store_lock(self.path)

    def _conn(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            if self.readonly:
                conn = sqlite3.connect(f"file:{self.db_path}?mode=ro", uri=True, check_same_thread=False)
            else:
                conn = sqlite3.connect(self.db_path, check_same_thread=False)
                # auto_vacuum must be set before the first table exists to take effect.
                conn.execute("PRAGMA auto_vacuum=INCREMENTAL")
                conn.execute("PRAGMA journal_mode=WAL")
                conn.execute("PRAGMA synchronous=NORMAL")
            conn.execute("PRAGMA busy_timeout=5000")
            self._local.conn = conn
            self._conns.append(conn)
        return conn

    def close(self) -> None:
        """Flush and close every connection; release the write lock. Writes are refused from now on."""
        with self._write_lock:  # a write in flight finishes first; none starts after
            self.closed = True
        for conn in self._conns:
            with contextlib.suppress(sqlite3.Error):
                if not self.readonly:
                    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
                conn.close()
        self._conns.clear()
        self._local = threading.local()
        if self._lock_fd is not None:
            os.close(self._lock_fd)
            self._lock_fd = None
        if self._tmp is not None:
            shutil.rmtree(self._tmp, ignore_errors=True)
            self._tmp = None

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _check_writable(self) -> None:
        if self.readonly:
            raise StoreError(f"store '{self.path}' is open read-only")
        if self.closed:
            # A worker outliving its stream (a deleted one) must not write into the folder.
            raise StoreError(f"store '{self.path}' is closed")

    def _write(self, sql: str, params: tuple = ()) -> sqlite3.Cursor:
        with self._write_lock:
            self._check_writable()
            conn = self._conn()
            try:
                cur = conn.execute(sql, params)
                conn.commit()
            except sqlite3.Error as e:
                raise self._write_error(conn, e) from None
            return cur

    def _write_many(self, sql: str, rows: list[tuple]) -> None:
        if not rows:
            return
        with self._write_lock:
            self._check_writable()
            conn = self._conn()
            try:
                conn.executemany(sql, rows)
                conn.commit()
            except sqlite3.Error as e:
                raise self._write_error(conn, e) from None

    def _write_error(self, conn: sqlite3.Connection, e: sqlite3.Error) -> StoreError:
        """The onlook error for a failed write; the half-done transaction is rolled back.

        SQLite asks for an explicit ROLLBACK after SQLITE_FULL or an I/O error,
        and the connection stays usable for reads and later writes.
        """
        with contextlib.suppress(sqlite3.Error):
            conn.rollback()
        if getattr(e, "sqlite_errorcode", None) == sqlite3.SQLITE_FULL or "database or disk is full" in str(e):
            return StoreFull(f"store '{self.path}' is full: no room left on its disk ({e})")
        return StoreError(f"store '{self.path}': {e}")

    def _read(self, sql: str, params: tuple = ()) -> list[tuple]:
        try:
            return self._conn().execute(sql, params).fetchall()
        except sqlite3.Error as e:
            if _is_corrupt(e):
                raise StoreCorrupt(f"store '{self.path}': its database is damaged ({e}); "
                                   f"{_advice(self.path)}") from None
            raise StoreError(f"store '{self.path}': {e}") from None

    def _decoded(self, table: str, rows: Iterable[tuple], build: Any, key: Any = lambda r: f"id {r[0]}") -> list:
        """``build(row)`` for each row; a row whose stored values cannot be decoded is one StoreCorrupt line."""
        out = []
        for r in rows:
            try:
                out.append(build(r))
            except _DECODE_ERRORS as e:
                raise StoreCorrupt(f"store '{self.path}': a row of {table} ({key(r)}) cannot be read "
                                   f"({type(e).__name__}: {e}); {_advice(self.path)}") from None
        return out

    # --- meta --------------------------------------------------------------------------------

    def get_meta(self, key: str, default: Any = None) -> Any:
        rows = self._read("SELECT value FROM meta WHERE key=?", (key,))
        return self._decoded("meta", rows, lambda r: json.loads(r[0]), lambda r: f"key {key!r}")[0] if rows else default

    def set_meta(self, key: str, value: Any) -> None:
        self._write("INSERT OR REPLACE INTO meta(key, value) VALUES(?, ?)", (key, json.dumps(value)))

    # --- keyframes ---------------------------------------------------------------------------

    def save_keyframe(self, image: np.ndarray, t: float, *, max_width: int = 320) -> str:
        """Write a JPEG thumbnail and return its store-relative path."""
        self._check_writable()
        h, w = image.shape[:2]
        if w > max_width:
            image = cv2.resize(image, (max_width, max(1, round(h * max_width / w))),
                               interpolation=cv2.INTER_AREA)
        rel = f"keyframes/{int(round(t * 1000)):010d}.jpg"
        ok, buf = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, 80])
        if ok:
            data = buf.tobytes()
            path = self.path / rel
            # Under the keyframe lock: a delete deciding on this name sees the write whole or not at all.
            with self._kf_lock:
                try:
                    path.write_bytes(data)
                except OSError as e:
                    with contextlib.suppress(OSError):  # no half-written JPEG left behind
                        path.unlink()
                    if e.errno in (errno.ENOSPC, errno.EDQUOT):
                        raise StoreFull(f"store '{self.path}' is full: no room left on its disk for a keyframe "
                                        f"({e.strerror})") from None
                    raise StoreError(f"store '{self.path}': cannot write keyframe {rel}: {e.strerror or e}") from None
                self._track(rel[len("keyframes/"):], len(data))
        return rel

    def _track(self, name: str, size: int | None) -> None:
        """Keep the running keyframe size: ``name`` now holds ``size`` bytes (None: deleted). Hold _kf_lock."""
        if self._keyframes is None:
            return
        old = self._keyframes.pop(name, None)
        if old is not None:
            self._keyframe_bytes -= old[0]
        if size is not None:
            self._keyframes[name] = (size, time.time())
            self._keyframe_bytes += size

    def keyframe_file(self, name: str) -> Path | None:
        """A stored keyframe by its file name (``0000012345.jpg``, ``keyframes/`` prefix allowed), or None.

        Only names this store gives keyframes are accepted, so a name from a
        request cannot reach outside the keyframe folder.
        """
        name = name.removeprefix("keyframes/")
        if not _KEYFRAME_NAME.fullmatch(name):
            return None
        p = self.keyframe_dir / name
        return p if p.is_file() else None

    def keyframe_path(self, rel: str | None) -> Path | None:
        """Absolute path of a stored keyframe, or None if it was evicted."""
        if not rel:
            return None
        p = self.path / rel
        return p if p.is_file() else None

    # --- writes ------------------------------------------------------------------------------

    def add_frame(self, t: float, seq: int, wall: float, people: int, motion: float, analysed: float,
                  obs: Iterable[Observation]) -> None:
        """Append one kept frame to the timeline."""
        self._write("INSERT OR REPLACE INTO frames VALUES(?,?,?,?,?,?,?)",
                    (t, seq, wall, people, motion, analysed, _obs_json(obs)))
        self._maybe_enforce_budget()

    def add_sighting(self, o: Observation, keyframe: str | None = None) -> None:
        """Record a discrete observation worth finding later (enter, exit, cut, text...)."""
        self._write("INSERT INTO sightings(t, kind, label, track_id, box, attrs, keyframe) "
                    "VALUES(?,?,?,?,?,?,?)",
                    (o.t, o.kind, o.label, o.track_id, json.dumps(o.box) if o.box else None,
                     json.dumps(o.attrs), keyframe))

    def add_event(self, e: Event) -> int:
        """Store a closed segment; returns its id (also set on ``e.id``)."""
        emb = e.embedding.astype(np.float32).tobytes() if e.embedding is not None else None
        cur = self._write(
            "INSERT INTO events(start, end, summary, people_max, labels, salience, keyframe, keyframe_t,"
            " obs, embedding) VALUES(?,?,?,?,?,?,?,?,?,?)",
            (e.start, e.end, e.summary, e.people_max, json.dumps(e.labels), e.salience, e.keyframe,
             e.keyframe_t, _obs_json(e.observations), emb))
        e.id = _rowid(cur)
        self._write_many("INSERT INTO event_labels(label, event_id, start) VALUES(?,?,?)",
                         [(lab, e.id, e.start) for lab in set(e.labels)])
        if e.embedding is not None:
            if self.index is None:
                self.index = VectorIndex(int(e.embedding.shape[0]))
            self.index.add([e.id], e.embedding[None, :])
        return e.id

    def add_alert(self, a: Alert) -> None:
        self._write("INSERT INTO alerts(t, wall, query, evidence, keyframe) VALUES(?,?,?,?,?)",
                    (a.t, a.wall, a.query, _obs_json(a.evidence), a.keyframe))

    def add_gap(self, g: Gap) -> int:
        """Store a gap (an open one has ``end=None``); returns its row id for :meth:`close_gap`."""
        cur = self._write("INSERT INTO gaps(start, end, wall_start, wall_end, reason) VALUES(?,?,?,?,?)",
                          (g.start, g.end, g.wall_start, g.wall_end, g.reason))
        return _rowid(cur)

    def close_gap(self, gap_id: int, g: Gap) -> None:
        """Replace the stored gap ``gap_id`` (open while its outage lasted) by ``g``, its closed version."""
        self._write("UPDATE gaps SET start=?, end=?, wall_start=?, wall_end=?, reason=? WHERE id=?",
                    (g.start, g.end, g.wall_start, g.wall_end, g.reason, gap_id))

    def add_speech(self, seg: SpeechSegment, embedding: np.ndarray | None = None) -> int:
        """Store a transcript segment (text, word times, optionally its text embedding); returns its row id."""
        sid = self.transcripts.add(seg, embedding)
        self._maybe_enforce_budget()
        return sid

    def speech(self, since: float | None = None, until: float | None = None, *, newest_first: bool = False,
               limit: int | None = None) -> list[SpeechSegment]:
        """Transcript segments overlapping ``[since, until]`` (oldest first by default)."""
        if not self._has_speech():
            return []
        return self.transcripts.between(since, until, newest_first=newest_first, limit=limit)

    def search_speech(self, words: list[str], *, since: float | None = None, until: float | None = None,
                      phrase: bool = False, limit: int = 50) -> list[tuple[SpeechSegment, float]]:
        """Segments where any of ``words`` (or the phrase) was said, best first (full-text index)."""
        if not self._has_speech():
            return []
        return self.transcripts.search(words, since=since, until=until, phrase=phrase, limit=limit)

    def similar_speech(self, q: np.ndarray, *, since: float | None = None, until: float | None = None,
                       k: int = 10) -> list[tuple[SpeechSegment, float]]:
        """Segments whose text embedding is nearest ``q`` (an encoder's text embedding), best first."""
        if not self._has_speech():
            return []
        return self.transcripts.similar(q, since=since, until=until, k=k)

    def _has_speech(self) -> bool:
        # A read-only store written by a version without speech has no such table.
        if not getattr(self, "_speech_table", False):
            self._speech_table = bool(self._read("SELECT 1 FROM sqlite_master WHERE name='speech'"))
        return self._speech_table


    def save_alert_query(self, query: str, created_t: float) -> None:
        self._write("INSERT OR IGNORE INTO alert_queries VALUES(?, ?)", (query, created_t))

    def delete_alert_query(self, query: str) -> None:
        self._write("DELETE FROM alert_queries WHERE query=?", (query,))

    # --- reads -------------------------------------------------------------------------------

    def alert_queries(self) -> list[str]:
        return [r[0] for r in self._read("SELECT query FROM alert_queries ORDER BY created_t")]

    def frames(self, since: float | None = None, until: float | None = None,
               limit: int | None = None, newest_first: bool = False) -> list[TimelineRow]:
        """Timeline rows (``t, seq, wall, people, motion, analysed, obs``) in a time range."""
        sql = "SELECT t, seq, wall, people, motion, analysed, obs FROM frames WHERE t>=? AND t<=?"
        sql += " ORDER BY t DESC" if newest_first else " ORDER BY t"
        if limit:
            sql += f" LIMIT {int(limit)}"
        rows = self._read(sql, (-1e18 if since is None else since, 1e18 if until is None else until))
        return self._decoded("frames", rows,
                             lambda r: TimelineRow(t=r[0], seq=r[1], wall=r[2], people=r[3], motion=r[4],
                                                   analysed=r[5], obs=_obs_from_json(r[6])),
                             lambda r: f"t={r[0]}")

    def frame_at(self, t: float) -> TimelineRow | None:
        """The last timeline row at or before ``t``."""
        rows = self.frames(until=t, limit=1, newest_first=True)
        return rows[0] if rows else None

    _ORDERS = {"start": "start", "-start": "start DESC", "-salience": "salience DESC, start DESC"}

    def events(self, since: float | None = None, until: float | None = None, *,
               labels: Iterable[str] | None = None, order: str = "start",
               limit: int | None = None) -> list[Event]:
        """Events overlapping ``[since, until]``.

        Args:
            since: Earliest stream time (None: from the start).
            until: Latest stream time (None: to the end).
            labels: Only events carrying *all* of these labels (uses the label index).
            order: ``"start"`` (oldest first), ``"-start"`` or ``"-salience"``.
            limit: Most events to return.
        """
        where = "end>=? AND start<=?"
        params: list[Any] = [-1e18 if since is None else since, 1e18 if until is None else until]
        labels = sorted(set(labels or []))
        if labels:
            where += (f" AND id IN (SELECT event_id FROM event_labels WHERE label IN ({','.join('?' * len(labels))})"
                      f" GROUP BY event_id HAVING COUNT(DISTINCT label) = {len(labels)})")
            params += labels
        sql = ("SELECT id, start, end, summary, people_max, labels, salience, keyframe, keyframe_t, obs, embedding"
               f" FROM events WHERE {where} ORDER BY {self._ORDERS[order]}")
        if limit:
            sql += f" LIMIT {int(limit)}"
        return self._decoded("events", self._read(sql, tuple(params)), self._event)

    def match_labels(self, labels: Iterable[str], since: float | None = None, until: float | None = None,
                     limit: int = 30, per_label: int = 2000) -> list[tuple[int, int]]:
        """Ids of events carrying any of ``labels``, with how many they carry, best first.

        Each label contributes at most its ``per_label`` most recent events in
        the range, so a label as common as ``person`` costs the same on a store
        of a day as on one of an hour; rare labels are always complete.
        """
        labels = sorted(set(labels))
        if not labels:
            return []
        lo, hi = -1e18 if since is None else since, 1e18 if until is None else until
        parts = []
        params: list[Any] = []
        for lab in labels:
            # start >= lo - 1 day: events are never longer than that, and it keeps the index range tight.
            parts.append("SELECT * FROM (SELECT label, event_id FROM event_labels WHERE label = ? AND start <= ?"
                         f" AND start >= ? ORDER BY start DESC LIMIT {int(per_label)})")
            params += [lab, hi, lo - 86400.0]
        rows = self._read(
            f"SELECT c.event_id, COUNT(DISTINCT c.label) AS m FROM ({' UNION ALL '.join(parts)}) c "
            f"JOIN events e ON e.id = c.event_id WHERE e.end >= ? "
            f"GROUP BY c.event_id ORDER BY m DESC, e.salience DESC, e.start DESC LIMIT {int(limit)}",
            (*params, lo))
        return [(int(r[0]), int(r[1])) for r in rows]

    def event(self, event_id: int) -> Event | None:
        rows = self._read(
            "SELECT id, start, end, summary, people_max, labels, salience, keyframe, keyframe_t, obs,"
            " embedding FROM events WHERE id=?", (event_id,))
        return self._decoded("events", rows, self._event)[0] if rows else None

    @staticmethod
    def _event(r: tuple) -> Event:
        emb = np.frombuffer(r[10], dtype=np.float32).copy() if r[10] is not None else None
        return Event(id=r[0], stream_id="", start=r[1], end=r[2], summary=r[3], people_max=r[4],
                     labels=json.loads(r[5] or "[]"), salience=r[6], keyframe=r[7], keyframe_t=r[8],
                     observations=_obs_from_json(r[9]), embedding=emb)

    def sightings(self, kinds: Iterable[str] | None = None, since: float | None = None,
                  until: float | None = None, *, newest_first: bool = False,
                  limit: int | None = None) -> list[tuple[Observation, str | None]]:
        """Discrete observations (and their keyframes) in a time range, oldest first by default."""
        sql = "SELECT t, kind, label, track_id, box, attrs, keyframe FROM sightings WHERE t>=? AND t<=?"
        params: list[Any] = [-1e18 if since is None else since, 1e18 if until is None else until]
        kinds = list(kinds) if kinds is not None else None
        if kinds:
            sql += f" AND kind IN ({','.join('?' * len(kinds))})"
            params += kinds
        sql += " ORDER BY t DESC" if newest_first else " ORDER BY t"
        if limit:
            sql += f" LIMIT {int(limit)}"
        rows = self._read(sql, tuple(params))
        return self._decoded("sightings", rows, lambda r: (Observation(
            t=r[0], kind=r[1], label=r[2], track_id=r[3], box=tuple(json.loads(r[4])) if r[4] else None,
            attrs=dict(json.loads(r[5] or "{}"))), r[6]), lambda r: f"t={r[0]}")

    def count_sightings(self, kinds: Iterable[str], since: float | None = None,
                        until: float | None = None) -> int:
        """How many sightings of these kinds lie in a time range."""
        kinds = list(kinds)
        marks = ",".join("?" * len(kinds))
        rows = self._read(f"SELECT COUNT(*) FROM sightings WHERE t>=? AND t<=? AND kind IN ({marks})",
                          (-1e18 if since is None else since, 1e18 if until is None else until, *kinds))
        return int(rows[0][0])

    def most_people(self, since: float | None = None, until: float | None = None) -> tuple[int, float | None]:
        """The most people any timeline row of a range counted, and the first time it did (``(0, None)``: none).

        Reads the count column only (no observations are decoded), so a day's range stays cheap.
        """
        rows = self._read("SELECT people, t FROM frames WHERE t>=? AND t<=? ORDER BY people DESC, t LIMIT 1",
                          (-1e18 if since is None else since, 1e18 if until is None else until))
        if not rows or not rows[0][0]:
            return 0, None
        return int(rows[0][0]), float(rows[0][1])

    def alerts(self, until: float | None = None) -> list[Alert]:
        rows = self._read("SELECT t, wall, query, evidence, keyframe FROM alerts WHERE t<=? ORDER BY t",
                          (1e18 if until is None else until,))
        return self._decoded("alerts", rows, lambda r: Alert(
            query=r[2], t=r[0], wall=r[1], stream_id="", evidence=tuple(_obs_from_json(r[3])), keyframe=r[4]),
            lambda r: f"t={r[0]}")

    def gaps(self) -> list[Gap]:
        rows = self._read("SELECT start, end, wall_start, wall_end, reason FROM gaps ORDER BY start")
        return [Gap(*r) for r in rows]

    def record(self, limit: int, sighting_kinds: Iterable[str]) -> dict[str, list[Any]]:
        """The latest ``limit`` alerts, events, sightings (with their keyframes) and gaps, each oldest first.

        What a timeline of the stream shows; plain picklable values, so a store
        on another machine can hand them over as they are.
        """
        return {"alerts": self.alerts()[-limit:],
                "events": list(reversed(self.events(order="-start", limit=limit))),
                "sightings": list(reversed(self.sightings(sighting_kinds, newest_first=True, limit=limit))),
                "gaps": self.gaps()[-limit:],
                "speech": list(reversed(self.speech(newest_first=True, limit=limit)))}

    def last_time(self) -> float | None:
        """Latest stream time stored (frames or events), None for an empty store."""
        rows = self._read("SELECT MAX(t) FROM frames")
        t = rows[0][0] if rows else None
        rows = self._read("SELECT MAX(end) FROM events")
        e = rows[0][0] if rows else None
        vals = [v for v in (t, e) if v is not None]
        return max(vals) if vals else None

    def vector_search(self, q: np.ndarray, k: int = 10, until: float | None = None) -> list[tuple[Event, float]]:
        """Events most similar to an embedding, optionally only those before ``until``."""
        if self.index is None or len(self.index) == 0:
            return []
        out = []
        for eid, score in self.index.search(q, k * 4 if until is not None else k):
            e = self.event(eid)
            if e is not None and (until is None or e.start <= until):
                out.append((e, score))
        return out[:k]

    def _embeddings(self, rows: list[tuple]) -> np.ndarray:
        """The embedding blobs of ``(id, blob)`` rows as one matrix; a malformed one is StoreCorrupt."""
        vecs = self._decoded("events", rows, lambda r: np.frombuffer(r[1], dtype=np.float32))
        dim = self.index.dim if self.index is not None else len(vecs[0])
        for r, v in zip(rows, vecs):
            if len(v) != dim or dim == 0:
                raise StoreCorrupt(f"store '{self.path}': event {r[0]} has an embedding of {len(v)} values where "
                                   f"the others have {dim} (damaged, or another encoder); {_advice(self.path)}")
        return np.stack(vecs)

    def _rebuild_index(self) -> None:
        rows = self._read("SELECT id, embedding FROM events WHERE embedding IS NOT NULL")
        self._indexed_upto = max((int(r[0]) for r in rows), default=0)
        if not rows:
            return
        vecs = self._embeddings(rows)
        self.index = VectorIndex(vecs.shape[1])
        self.index.add([r[0] for r in rows], vecs)

    def catch_up(self) -> None:
        """Read-only stores: index the embeddings the writer added since this store was opened.

        Rows the writer evicted meanwhile stay in the index but are skipped by
        :meth:`vector_search` (their events are gone).
        """
        if not self.readonly:
            return
        rows = self._read("SELECT id, embedding FROM events WHERE embedding IS NOT NULL AND id > ? ORDER BY id",
                          (self._indexed_upto,))
        if not rows:
            return
        vecs = self._embeddings(rows)
        if self.index is None:
            self.index = VectorIndex(vecs.shape[1])
        self.index.add([r[0] for r in rows], vecs)
        self._indexed_upto = int(rows[-1][0])

    # --- budget ------------------------------------------------------------------------------

    def size_bytes(self, *, rescan: bool = False) -> int:
        """Bytes the store folder uses now (database, WAL, keyframes and anything else in their folder).

        A writer keeps the keyframe folder's size as a running total (counted
        once on open, then on every write and delete), so this costs three
        ``stat`` calls however many keyframes there are; a read-only store,
        which does not see the writer's changes, scans the folder.

        Args:
            rescan: Count the keyframe folder again (and reset the running total to it).
        """
        total = 0
        for p in (self.db_path, self.path / "onlook.db-wal", self.path / "onlook.db-shm"):
            with contextlib.suppress(OSError):
                total += p.stat().st_size
        if self._keyframes is None:
            files, foreign = scan_keyframes(self.keyframe_dir)
            return total + sum(size for size, _ in files.values()) + foreign
        if rescan:
            files, foreign = scan_keyframes(self.keyframe_dir)
            with self._kf_lock:
                self._keyframes, self._foreign_bytes = files, foreign
                self._keyframe_bytes = sum(size for size, _ in files.values())
        return total + self._keyframe_bytes + self._foreign_bytes

    def referenced_keyframes(self, names: Iterable[str] | None = None) -> set[str]:
        """File names of the keyframes some row references (of ``names`` only, when given)."""
        found: set[str] = set()
        if names is None:
            for table, col in KEYFRAME_COLUMNS:
                found.update(Path(r[0]).name for r in
                             self._read(f"SELECT DISTINCT {col} FROM {table} WHERE {col} IS NOT NULL"))
            return found
        rels = [f"keyframes/{n}" for n in names]
        for i in range(0, len(rels), 500):
            chunk = tuple(rels[i:i + 500])
            marks = ",".join("?" * len(chunk))
            for table, col in KEYFRAME_COLUMNS:
                found.update(Path(r[0]).name for r in
                             self._read(f"SELECT DISTINCT {col} FROM {table} WHERE {col} IN ({marks})", chunk))
        return found

    def _unlink_keyframes(self, seen: Mapping[str, tuple[int, float] | None]) -> tuple[int, int]:
        """Delete keyframe files; returns how many and the bytes freed.

        ``seen`` maps each name to its entry in the running total when the caller
        decided it was unreferenced: a file written again since then (a row may
        be about to name it) is kept.
        """
        n = freed = 0
        with self._kf_lock:
            for name, entry in seen.items():
                if not _OWN_KEYFRAME.fullmatch(name):  # a name from a row: never a path outside the folder
                    continue
                if self._keyframes is not None and self._keyframes.get(name) != entry:
                    continue
                try:
                    (self.keyframe_dir / name).unlink()
                except FileNotFoundError:
                    pass
                except OSError:
                    continue
                n += 1
                freed += entry[0] if entry else 0
                self._track(name, None)
        return n, freed

    def _release_keyframes(self, rels: Iterable[str | None]) -> None:
        """Delete the files of these keyframes that no row references any more (after their rows changed)."""
        names = {Path(rel).name for rel in rels if rel}
        if not names:
            return
        with self._kf_lock:
            seen = {n: (self._keyframes or {}).get(n) for n in names}
        still = self.referenced_keyframes(names)
        self._unlink_keyframes({n: e for n, e in seen.items() if n not in still})

    def orphan_keyframes(self, *, min_age_s: float = 60.0) -> tuple[dict[str, tuple[int, float]], int]:
        """Keyframe files no row references: ``({name: (bytes, mtime)}, bytes of younger ones)``.

        A keyframe is written just before the row that names it, so a file younger
        than ``min_age_s`` is not counted an orphan yet, only its bytes returned.
        """
        if self._keyframes is None:
            files, _ = scan_keyframes(self.keyframe_dir)
        else:
            with self._kf_lock:
                files = dict(self._keyframes)
        referenced = self.referenced_keyframes()
        now = time.time()
        old, young = {}, 0
        for name, entry in files.items():
            if name in referenced:
                continue
            if now - entry[1] >= min_age_s:
                old[name] = entry
            else:
                young += entry[0]
        return old, young

    def reclaim_orphans(self, *, min_age_s: float = 60.0) -> tuple[int, int]:
        """Delete keyframe files no row references; returns ``(files, bytes)`` deleted.

        Orphans are what a database that lost rows (restored from a backup,
        truncated, repaired) leaves behind, or a crash between a keyframe's
        write and its row's commit. They cost budget and hold no memory, so
        budget enforcement deletes them before anything else.

        Args:
            min_age_s: Leave files younger than this (their rows may be on the way).
        """
        if self.readonly:
            raise StoreError(f"store '{self.path}' is open read-only")
        old, young = self.orphan_keyframes(min_age_s=min_age_s)
        self._unfreeable_bytes = self._foreign_bytes + young
        n, freed = self._unlink_keyframes(old)
        self.orphans_reclaimed += n
        return n, freed

    def _owned_bytes(self) -> int:
        """What eviction can bring down: the size less free pages inside the database (reused, not
        returned, where auto_vacuum is off) and the bytes found not to be the store's to free."""
        free = 0
        with contextlib.suppress(StoreError):
            free = self._read("PRAGMA freelist_count")[0][0] * self._read("PRAGMA page_size")[0][0]
        return self.size_bytes() - free - self._unfreeable_bytes

    def _maybe_enforce_budget(self) -> None:
        self._since_budget_check += 1
        if self._since_budget_check >= 50:
            self._since_budget_check = 0
            self.enforce_budget()

    def enforce_budget(self) -> int:
        """Shrink the store under its budget; returns how many eviction steps ran.

        Orphan keyframes go first and cost no memory (they do not count as steps).
        Then memory is evicted, cheapest loss first, down to 90% of the budget,
        counting only bytes eviction can free: when steps stop freeing anything
        (what is left over is a reader's WAL, foreign files), it stops there.
        """
        if self.readonly:
            return 0
        if self.size_bytes() <= self.budget_bytes:
            return 0
        self.reclaim_orphans()
        steps = stalled = 0
        target = int(self.budget_bytes * 0.9)
        size = self._owned_bytes()
        for _ in range(200):  # bounded: each step frees something or we stop
            if size <= target:
                break
            if not self._evict_step():
                break
            steps += 1
            self._compact()
            now = self._owned_bytes()
            stalled = stalled + 1 if now >= size else 0
            size = now
            if stalled >= 3:
                break
        self.evictions += steps
        return steps

    def _evict_step(self) -> bool:
        """Free some space, cheapest loss first; False when nothing is left to give."""
        last = self._read("SELECT MAX(t) FROM frames")[0][0]
        recent_from = (last - self.keep_recent_s) if last is not None else None
        # 1. Decimate the old per-frame timeline (events summarise it): drop every
        #    other row older than the recent window, keeping a coarser history.
        if recent_from is not None:
            old = self._read("SELECT COUNT(*) FROM frames WHERE t < ?", (recent_from,))[0][0]
            if old > 20:
                self._write("DELETE FROM frames WHERE t < ? AND rowid % 2 = 0", (recent_from,))
                if self._read("SELECT COUNT(*) FROM frames WHERE t < ?", (recent_from,))[0][0] < old:
                    return True
                # rowid parity can run out of rows to drop: fall back to the oldest half.
                cut = self._read("SELECT t FROM frames WHERE t < ? ORDER BY t LIMIT 1 OFFSET ?",
                                 (recent_from, old // 2))[0][0]
                self._write("DELETE FROM frames WHERE t < ?", (cut,))
                return True
        # 2. Drop keyframes of the oldest low-salience events (the events stay). The picture
        #    goes from the sightings that share it too, else dropping it would free nothing;
        #    one an alert shows as evidence is kept.
        rows = self._read("SELECT id, keyframe FROM events WHERE keyframe IS NOT NULL AND keyframe NOT IN "
                          "(SELECT keyframe FROM alerts WHERE keyframe IS NOT NULL) "
                          "ORDER BY salience + (start / (SELECT MAX(end) + 1 FROM events)) LIMIT 50")
        if len(rows) >= 10:
            rels = sorted({rel for _, rel in rows})
            self._write_many("UPDATE events SET keyframe=NULL WHERE id=?", [(eid,) for eid, _ in rows])
            self._write(f"UPDATE sightings SET keyframe=NULL WHERE keyframe IN ({','.join('?' * len(rels))})",
                        tuple(rels))
            self._release_keyframes(rels)
            return True
        # 3. Merge adjacent old low-salience events pairwise, in one transaction.
        rows = self._read("SELECT id, start, end, summary, labels, people_max, salience FROM events "
                          "ORDER BY start LIMIT 400")
        if len(rows) >= 4:
            half = rows[: len(rows) // 2]
            pairs = [(a, b) for a, b in zip(half[::2], half[1::2]) if a[6] < 0.5 and b[6] < 0.5]
            if pairs:
                updates, relabels, gone = [], [], []
                for a, b in pairs:
                    labels = sorted(set(_labels_or_none(a[4])) | set(_labels_or_none(b[4])))
                    updates.append((b[2], f"{a[3]} | {b[3]}"[:400], json.dumps(labels), max(a[5], b[5]),
                                    max(a[6], b[6]), a[0]))
                    relabels.append((a[0], b[0]))
                    gone.append(b[0])
                self._write_many("UPDATE events SET end=?, summary=?, labels=?, people_max=?, salience=?,"
                                 " obs='[]' WHERE id=?", updates)
                self._write_many("UPDATE event_labels SET event_id=? WHERE event_id=?", relabels)
                self._delete_events(gone)
                return True
        # 4. Delete the oldest events (never the newest few) and the sightings before them.
        n_events = self._read("SELECT COUNT(*) FROM events")[0][0]
        rows = self._read("SELECT id FROM events ORDER BY start LIMIT ?", (min(50, max(0, n_events - 3)),))
        if rows:
            self._delete_events([r[0] for r in rows])
            first = self._read("SELECT MIN(start) FROM events")[0][0]
            if first is not None:
                self._delete_sightings("t < ?", (first,))
                self.transcripts.delete_before(first)
            return True
        # 5. Last resort: the oldest half of the sightings, of the speech, then of the recent timeline.
        cut = self.transcripts.oldest_half_cut()
        if cut is not None:
            self.transcripts.delete_before(cut)
            return True
        n = self._read("SELECT COUNT(*) FROM sightings")[0][0]
        if n > 3:
            cut = self._read("SELECT t FROM sightings ORDER BY t LIMIT 1 OFFSET ?", (n // 2,))[0][0]
            self._delete_sightings("t < ?", (cut,))
            return True
        n = self._read("SELECT COUNT(*) FROM frames")[0][0]
        if n > 20:
            cut = self._read("SELECT t FROM frames ORDER BY t LIMIT 1 OFFSET ?", (n // 2,))[0][0]
            self._write("DELETE FROM frames WHERE t < ?", (cut,))
            return True
        return False

    def _delete_sightings(self, where: str, params: tuple) -> None:
        rels = [r[0] for r in self._read(f"SELECT DISTINCT keyframe FROM sightings WHERE {where}", params)]
        self._write(f"DELETE FROM sightings WHERE {where}", params)
        self._release_keyframes(rels)

    def _delete_events(self, ids: list[int]) -> None:
        if not ids:
            return
        marks = ",".join("?" * len(ids))
        rels = [r[0] for r in self._read(f"SELECT keyframe FROM events WHERE id IN ({marks})", tuple(ids))]
        self._write_many("DELETE FROM events WHERE id=?", [(i,) for i in ids])
        self._write_many("DELETE FROM event_labels WHERE event_id=?", [(i,) for i in ids])
        if self.index is not None:
            self.index.remove(ids)
        self._release_keyframes(rels)

    def _compact(self) -> None:
        with self._write_lock:
            conn = self._conn()
            with contextlib.suppress(sqlite3.Error):
                # incremental_vacuum frees one page per step of its statement, and execute() steps
                # a row-less statement once: executescript runs it to the end. Then checkpoint, so
                # the pages it moved leave the WAL and the file shrinks.
                conn.executescript("PRAGMA incremental_vacuum;")
                conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
