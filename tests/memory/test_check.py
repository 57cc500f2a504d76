"""Tests for onlook.memory.check: what `onlook store check` finds and what `onlook store repair` salvages."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import textwrap
import time
from contextlib import closing
from pathlib import Path

import numpy as np
import pytest

from onlook.errors import StoreError, StoreLocked, StoreTooNew
from onlook.memory.check import FindingKind, check_store, is_store_folder, repair_store
from onlook.memory.store import SCHEMA_VERSION, Store
from onlook.types import Alert, Event, Observation


@pytest.fixture
def image() -> np.ndarray:
    return np.random.default_rng(0).integers(0, 255, (120, 160, 3), np.uint8)


def write(path: Path, image: np.ndarray, n: int = 30) -> Path:
    """A store of ``n`` events, each with a keyframe, an entering sighting sharing it, and a timeline row."""
    rng = np.random.default_rng(1)
    with Store(path) as s:
        for i in range(n):
            t = float(i)
            kf = s.save_keyframe(image, t)
            enter = Observation(t, "enter", "person", track_id=i, attrs={"colors": ["red"]})
            s.add_frame(t, i, 1000 + t, 1, 0.1, 1.0, [enter])
            s.add_sighting(enter, kf)
            emb = rng.normal(size=8).astype(np.float32)
            s.add_event(Event(stream_id="cam", start=t, end=t + 0.9, summary=f"event {i}", people_max=1,
                              labels=["person", "enter"], salience=0.5, keyframe=kf, keyframe_t=t,
                              observations=[enter], embedding=emb / np.linalg.norm(emb)))
        s.add_alert(Alert("a person enters the view", 3.0, 1003.0, "cam", (), "keyframes/0000003000.jpg"))
        s.set_meta("source", "cam.mp4")
    return path


def kinds(report) -> set[FindingKind]:
    return {f.kind for f in report.findings}


def make_old(files: list[Path]) -> None:
    old = time.time() - 3600
    for f in files:
        os.utime(f, (old, old))


def sql(path: Path, *statements: str) -> None:
    with closing(sqlite3.connect(path / "onlook.db")) as conn, conn:
        for st in statements:
            conn.execute(st)


# --- check -----------------------------------------------------------------------------------


def test_a_sound_store_checks_ok(tmp_path: Path, image: np.ndarray) -> None:
    r = check_store(write(tmp_path / "s", image))
    assert r.ok and r.findings == () and r.schema_version == SCHEMA_VERSION
    assert r.rows["events"] == 30 and r.rows["frames"] == 30 and r.rows["alerts"] == 1 and r.keyframes == 30
    assert r.to_dict()["ok"] is True


def test_check_finds_each_kind_of_damage(tmp_path: Path, image: np.ndarray) -> None:
    path = write(tmp_path / "s", image)
    sql(path, "UPDATE events SET obs='{no' WHERE id=4", "UPDATE sightings SET attrs='[' WHERE rowid=2",
        "UPDATE events SET embedding=x'0000803f' WHERE id=6")  # a 1-value vector among 8-value ones
    (path / "keyframes" / "0000010000.jpg").unlink()  # named by an event and a sighting
    orphan = path / "keyframes" / "0000099000.jpg"
    orphan.write_bytes(b"x" * 5000)
    young = path / "keyframes" / "0000098000.jpg"
    young.write_bytes(b"y" * 10)  # just written: a running watcher's row may be on the way
    make_old([orphan])
    r = check_store(path)
    assert not r.ok
    by = {f.kind: f for f in r.findings}
    assert set(by) == {FindingKind.UNREADABLE_ROWS, FindingKind.MISSING_KEYFRAMES, FindingKind.ORPHAN_KEYFRAMES}
    assert by[FindingKind.UNREADABLE_ROWS].count == 3
    assert "events: 2 (row 4, 6)" in by[FindingKind.UNREADABLE_ROWS].message
    assert "sightings: 1" in by[FindingKind.UNREADABLE_ROWS].message
    assert by[FindingKind.MISSING_KEYFRAMES].count == 2
    assert by[FindingKind.ORPHAN_KEYFRAMES].count == 1
    assert all("\n" not in f.message for f in r.findings)


@pytest.mark.parametrize(("damage", "kind"), [
    ("empty", FindingKind.EMPTY_DATABASE),
    ("missing", FindingKind.NO_DATABASE),
    ("truncated", FindingKind.UNREADABLE_DATABASE),
    ("newer", FindingKind.SCHEMA_NEWER),
    ("no events table", FindingKind.MISSING_TABLES),
])
def test_check_finds_a_lost_or_damaged_database(tmp_path: Path, image: np.ndarray, damage: str,
                                                kind: FindingKind) -> None:
    path = write(tmp_path / "s", image, n=60)
    db = path / "onlook.db"
    if damage == "empty":
        db.write_bytes(b"")
    elif damage == "missing":
        db.unlink()
    elif damage == "truncated":
        db.write_bytes(db.read_bytes()[: db.stat().st_size // 2])
    elif damage == "newer":
        sql(path, f"PRAGMA user_version={SCHEMA_VERSION + 1}")
    else:
        sql(path, "DROP TABLE events")
    before = db.read_bytes() if db.exists() else None
    r = check_store(path)
    assert kind in kinds(r) and not r.ok
    if damage == "truncated":
        assert "truncated" in r.findings[0].message
    assert (db.read_bytes() if db.exists() else None) == before  # a check changes nothing


def test_an_unversioned_store_is_a_note_not_a_problem(tmp_path: Path, image: np.ndarray) -> None:
    path = write(tmp_path / "s", image)
    sql(path, "PRAGMA user_version=0")
    r = check_store(path)
    assert r.ok and kinds(r) == {FindingKind.UNVERSIONED} and r.schema_version == 0


def test_not_a_store(tmp_path: Path) -> None:
    assert not is_store_folder(tmp_path) and not is_store_folder(tmp_path / "nope")
    with pytest.raises(StoreError, match="no onlook store"):
        check_store(tmp_path)
    with pytest.raises(StoreError, match="no onlook store"):
        repair_store(tmp_path / "nope")


# --- repair ----------------------------------------------------------------------------------


def test_repair_clears_what_cannot_be_read_and_keeps_the_rest(tmp_path: Path, image: np.ndarray) -> None:
    path = write(tmp_path / "s", image)
    sql(path, "UPDATE events SET obs='{no', labels='[' WHERE id=4", "UPDATE events SET embedding=x'00' WHERE id=5",
        "UPDATE frames SET obs='7' WHERE rowid=9", "INSERT INTO meta VALUES('broken', '{')",
        "CREATE TABLE notes(id TEXT PRIMARY KEY, title TEXT)",  # a table onlook's store does not own
        "INSERT INTO notes VALUES('desk', 'front desk')",
        "INSERT INTO conversations(id, created_wall, updated_wall, title) VALUES('c1', 1.0, 2.0, 'lobby')")
    (path / "keyframes" / "0000010000.jpg").unlink()
    old_db = (path / "onlook.db").read_bytes()
    rep = repair_store(path)
    # The old file is kept as it was.
    assert rep.backup is not None and rep.backup.read_bytes() == old_db
    tables = {t.table: t for t in rep.tables}
    assert (tables["events"].kept, tables["events"].cleared, tables["events"].lost) == (30, 2, 0)
    assert (tables["frames"].kept, tables["frames"].cleared) == (30, 1)
    assert (tables["meta"].kept, tables["meta"].cleared) == (1, 1)  # the unreadable row is left out
    assert tables["notes"].kept == 1 and tables["event_labels"].kept == 29 * 2
    assert tables["conversations"].kept == 1  # a table the store owns: salvaged like events
    assert rep.dangling_cleared == 2 and rep.orphans == 0 and rep.schema_version == SCHEMA_VERSION
    assert check_store(path).ok
    with Store(path) as s:
        events = s.events()
        assert len(events) == 30 and len(s.frames()) == 30 and len(s.index) == 29
        e4 = s.event(4)
        assert e4.observations == [] and e4.labels == [] and s.event(5).embedding is None
        assert s.event(11).keyframe is None and s.event(12).keyframe == "keyframes/0000011000.jpg"
        assert s.get_meta("source") == "cam.mp4" and s.get_meta("broken") is None
        assert [e.id for e in s.events(labels=["enter"])] == [e.id for e in events if e.id != 4]
        assert len(s.alerts()) == 1
    with closing(sqlite3.connect(path / "onlook.db")) as conn, conn:
        assert conn.execute("SELECT * FROM notes").fetchall() == [("desk", "front desk")]
        assert conn.execute("SELECT id, title FROM conversations").fetchall() == [("c1", "lobby")]


def test_repair_reads_committed_rows_still_in_the_wal(tmp_path: Path, image: np.ndarray) -> None:
    path = write(tmp_path / "s", image, n=5)
    # A writer that dies (kill -9) leaves its last commits in the WAL, not yet in onlook.db.
    code = textwrap.dedent(f"""
        import os
        from onlook.memory.store import Store
        from onlook.types import Event
        s = Store({str(path)!r})
        for i in range(5, 25):
            s.add_event(Event(stream_id="cam", start=float(i), end=i + 0.5, summary="late", people_max=0,
                              labels=["x"], salience=0.1, observations=[]))
        s._write("UPDATE events SET obs='{{' WHERE id=2")
        os._exit(0)
    """)
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2] / "src")}
    subprocess.run([sys.executable, "-c", code], check=True, env=env, timeout=60)
    assert (path / "onlook.db-wal").stat().st_size > 0
    rep = repair_store(path)
    assert {t.table: t.kept for t in rep.tables}["events"] == 25
    assert Path(f"{rep.backup}-wal").stat().st_size > 0  # the backup keeps its WAL beside it
    with Store(path) as s:
        assert len(s.events()) == 25
    # The backup and its WAL, put back side by side, are the old database as it was.
    restored = tmp_path / "restored"
    restored.mkdir()
    (restored / "onlook.db").write_bytes(rep.backup.read_bytes())
    (restored / "onlook.db-wal").write_bytes(Path(f"{rep.backup}-wal").read_bytes())
    with closing(sqlite3.connect(restored / "onlook.db")) as conn, conn:
        assert conn.execute("SELECT COUNT(*), MAX(obs) FROM events WHERE id=2").fetchone() == (1, "{")
        assert conn.execute("SELECT COUNT(*) FROM events").fetchone()[0] == 25


def test_repair_salvages_a_truncated_database(tmp_path: Path, image: np.ndarray) -> None:
    path = write(tmp_path / "s", image, n=200)
    db = path / "onlook.db"
    db.write_bytes(db.read_bytes()[: int(db.stat().st_size * 0.7)])
    rep = repair_store(path)
    assert "truncated" in rep.note
    kept = {t.table: t.kept for t in rep.tables}
    assert kept["events"] > 0 and rep.orphans > 0 and not rep.orphans_reclaimed
    # The keyframes of the rows lost with the cut are kept, as orphans.
    assert {f.kind for f in check_store(path, orphan_min_age_s=0).problems} == {FindingKind.ORPHAN_KEYFRAMES}
    with Store(path) as s:
        assert len(s.events()) == kept["events"]
        assert all(s.keyframe_path(e.keyframe) is not None for e in s.events() if e.keyframe)


def test_repair_of_a_lost_database_keeps_the_keyframes_unless_asked(tmp_path: Path, image: np.ndarray) -> None:
    path = write(tmp_path / "s", image)
    (path / "onlook.db").write_bytes(b"")
    rep = repair_store(path)
    assert rep.orphans == 30 and not rep.orphans_reclaimed and "new one was started" in rep.note
    assert len(list((path / "keyframes").iterdir())) == 30
    with Store(path) as s:  # it opens now; the budget will take the orphans first
        assert s.events() == []
    rep = repair_store(path, reclaim_orphans=True)
    assert rep.orphans == 30 and rep.orphans_reclaimed
    assert list((path / "keyframes").iterdir()) == []
    assert check_store(path).ok


def test_repair_refuses_a_store_being_written_or_from_a_newer_onlook(tmp_path: Path, image: np.ndarray) -> None:
    path = write(tmp_path / "s", image, n=3)
    with Store(path):
        with pytest.raises(StoreLocked):
            repair_store(path)
    sql(path, f"PRAGMA user_version={SCHEMA_VERSION + 1}")
    before = (path / "onlook.db").read_bytes()
    with pytest.raises(StoreTooNew):
        repair_store(path)
    assert (path / "onlook.db").read_bytes() == before
    assert not list(path.glob("onlook.db.bak-*")) and not list(path.glob(".repair-*"))
