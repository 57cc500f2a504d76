"""Tests for onlook.memory.store: the SQLite/WAL store, its lock, index and budget."""

from __future__ import annotations

import json
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

from onlook.errors import OnlookError, StoreCorrupt, StoreError, StoreLocked
from onlook.memory.store import Store, VectorIndex
from onlook.types import Alert, Event, Gap, Observation, ObservationKind, TimelineRow


@pytest.fixture
def store(tmp_path: Path):
    s = Store(tmp_path / "store")
    yield s
    s.close()


@pytest.fixture
def keyframe_image() -> np.ndarray:
    """A 160x120 noise picture: JPEG cannot shrink it, so keyframes weigh something."""
    return np.random.default_rng(0).integers(0, 255, (120, 160, 3), np.uint8)


def unit(v: list[float] | np.ndarray) -> np.ndarray:
    v = np.asarray(v, np.float32)
    return v / np.linalg.norm(v)


def make_event(start: float, end: float, summary: str = "", *, embedding: np.ndarray | None = None,
               salience: float = 0.3, keyframe: str | None = None, obs: list[Observation] | None = None) -> Event:
    return Event(stream_id="cam", start=start, end=end, summary=summary or f"event {start}", people_max=1,
                 labels=["person", "person:red"], salience=salience, keyframe=keyframe, keyframe_t=start,
                 observations=obs or [], embedding=embedding)


def run_child(code: str, path: Path) -> str:
    """Run ``code`` in a fresh Python process (with ``PATH`` bound) and return its stdout."""
    prog = f"from pathlib import Path\nPATH = Path({str(path)!r})\n" + textwrap.dedent(code)
    res = subprocess.run([sys.executable, "-c", prog], capture_output=True, text=True, timeout=60)
    assert res.returncode == 0, res.stderr
    return res.stdout.strip()


# --- opening ---------------------------------------------------------------------------------


def test_wal_mode_is_on(store: Store) -> None:
    store.set_meta("k", 1)
    with sqlite3.connect(store.db_path) as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert store.keyframe_dir.is_dir() and (store.path / ".lock").exists()


def test_none_path_uses_temp_folder_removed_on_close() -> None:
    s = Store(None)
    path = s.path
    s.add_frame(0.0, 0, 0.0, 0, 0.0, 1.0, [])
    assert (path / "onlook.db").is_file()
    s.close()
    assert not path.exists()


def test_context_manager_closes_and_releases_lock(tmp_path: Path) -> None:
    with Store(tmp_path / "s") as s:
        s.set_meta("a", [1, 2])
    with Store(tmp_path / "s") as s:  # the lock was released: a new writer may open
        assert s.get_meta("a") == [1, 2]
        assert s.get_meta("missing", "dflt") == "dflt"


@pytest.mark.parametrize(
    ("setup", "readonly", "message"),
    [
        ("missing", True, "no onlook store at"),
        ("garbage", True, "file is not a database"),
        ("garbage", False, "cannot open store"),
        ("none", True, "a read-only store needs a path"),
    ],
)
def test_store_errors_are_one_liners(tmp_path: Path, setup: str, readonly: bool, message: str) -> None:
    path: Path | None = tmp_path / "s"
    if setup == "garbage":
        path.mkdir()
        (path / "onlook.db").write_bytes(b"this is not an SQLite database\n" * 64)
    elif setup == "none":
        path = None
    with pytest.raises(StoreError) as info:
        Store(path, readonly=readonly)
    msg = str(info.value)
    assert message in msg and "\n" not in msg
    assert isinstance(info.value, OnlookError) and isinstance(info.value, OSError)


def test_readonly_store_refuses_writes(tmp_path: Path) -> None:
    Store(tmp_path / "s").close()
    with Store(tmp_path / "s", readonly=True) as ro:
        with pytest.raises(StoreError, match="read-only"):
            ro.set_meta("a", 1)
        assert ro.enforce_budget() == 0


def test_closed_store_refuses_writes_and_touches_nothing(tmp_path: Path, keyframe_image: np.ndarray) -> None:
    # A worker that outlives its stream (deleted while connecting) must not write into its folder.
    st = Store(tmp_path / "s")
    st.set_meta("a", 1)
    st.close()
    before = sorted((p.name, p.stat().st_size, p.stat().st_mtime_ns) for p in (tmp_path / "s").rglob("*"))
    for write in (lambda: st.set_meta("last_t", 9.0), lambda: st.add_gap(Gap(1.0, None, 1.0, None, "x")),
                  lambda: st.save_keyframe(keyframe_image, 1.0)):
        with pytest.raises(StoreError, match="is closed"):
            write()
    assert sorted((p.name, p.stat().st_size, p.stat().st_mtime_ns) for p in (tmp_path / "s").rglob("*")) == before


# --- round trips -----------------------------------------------------------------------------


def test_frames_round_trip(store: Store) -> None:
    obs = [Observation(1.0, "person", "person", 0.9, (0.1, 0.2, 0.3, 0.9), 4, {"colors": ["red"]}),
           Observation(1.0, "motion", "lower left", 0.25, None, None, {"regions": ["lower left"]})]
    for i in range(5):
        store.add_frame(i * 0.5, i, 1000.0 + i, i % 3, 0.1 * i, 0.5, obs if i == 2 else [])
    rows = store.frames()
    assert [r["t"] for r in rows] == [0.0, 0.5, 1.0, 1.5, 2.0]
    assert rows[2]["obs"] == obs and rows[2]["obs"][0].attrs == {"colors": ["red"]}
    assert rows[2]["people"] == 2 and rows[2]["wall"] == 1002.0 and rows[2]["seq"] == 2
    assert [r["t"] for r in store.frames(since=0.5, until=1.5)] == [0.5, 1.0, 1.5]
    assert [r["t"] for r in store.frames(limit=2, newest_first=True)] == [2.0, 1.5]
    assert store.frame_at(1.2)["t"] == 1.0
    assert store.frame_at(-1.0) is None
    assert store.last_time() == 2.0


def test_a_stored_timeline_row_reads_back_with_the_timeline_row_keys(store: Store) -> None:
    obs = [Observation(1.0, ObservationKind.PERSON, "person", 0.9, (0.1, 0.2, 0.3, 0.9), 4, {"colors": ["red"]}),
           Observation(1.0, "face", "face", 0.8, (0.1, 0.2, 0.15, 0.3))]
    store.add_frame(1.0, 3, 1001.0, 1, 0.25, 0.5, obs)
    row = store.frame_at(1.0)
    assert row is not None and set(row) == TimelineRow.__required_keys__
    assert row == TimelineRow(t=1.0, seq=3, wall=1001.0, people=1, motion=0.25, analysed=0.5, obs=obs)
    assert [type(row[k]) for k in ("t", "seq", "wall", "people", "motion", "analysed")] == [
        float, int, float, int, float, float]
    assert [o.kind for o in row["obs"]] == [ObservationKind.PERSON, ObservationKind.FACE]
    assert all(type(o.kind) is ObservationKind for o in row["obs"])
    assert [set(r) for r in store.frames()] == [TimelineRow.__required_keys__]


def test_observation_kinds_are_stored_as_plain_text(store: Store) -> None:
    """Members go into SQLite as their values; known ones come back as members, unknown ones as str."""
    store.add_sighting(Observation(1.0, ObservationKind.ENTER, "person", track_id=1, attrs={"edge": "left"}))
    store.add_sighting(Observation(2.0, "smoke", "grey smoke"))  # a kind a newer version might write
    store.add_frame(1.0, 1, 1001.0, 1, 0.0, 1.0, [Observation(1.0, ObservationKind.PERSON, "person")])
    with closing(sqlite3.connect(store.path / "onlook.db")) as conn:
        assert conn.execute("SELECT kind, typeof(kind) FROM sightings ORDER BY t").fetchall() == [
            ("enter", "text"), ("smoke", "text")]
        [(obs_json,)] = conn.execute("SELECT obs FROM frames").fetchall()
    assert json.loads(obs_json)[0]["kind"] == "person" and '"kind":"person"' in obs_json
    [(enter, _)] = store.sightings([ObservationKind.ENTER])
    assert enter.kind is ObservationKind.ENTER and store.sightings(["enter"])[0][0] == enter
    [(smoke, _)] = store.sightings(["smoke"])
    assert smoke.kind == "smoke" and type(smoke.kind) is str
    assert store.count_sightings([ObservationKind.ENTER, "smoke"]) == 2


def test_events_round_trip(store: Store) -> None:
    obs = [Observation(3.0, "enter", "person", 0.8, (0.7, 0.2, 0.9, 0.9), 2, {"edge": "right", "colors": ["red"]})]
    emb = unit([1, 0, 0, 0])
    e = make_event(2.0, 9.5, "00:02-00:09; 1 entered", embedding=emb, salience=0.8, obs=obs)
    eid = store.add_event(e)
    assert e.id == eid
    got = store.event(eid)
    assert got is not None
    assert (got.start, got.end, got.summary, got.people_max, got.labels, got.salience, got.keyframe_t) == (
        2.0, 9.5, "00:02-00:09; 1 entered", 1, ["person", "person:red"], 0.8, 2.0)
    assert got.observations == obs and got.observations[0].attrs["colors"] == ["red"]
    np.testing.assert_array_equal(got.embedding, emb)
    store.add_event(make_event(10.0, 20.0))
    assert [x.start for x in store.events()] == [2.0, 10.0]
    assert [x.start for x in store.events(since=9.0, until=9.9)] == [2.0]  # overlap, not containment
    assert [x.start for x in store.events(since=9.6)] == [10.0]
    assert store.event(12345) is None
    assert store.last_time() == 20.0


def test_sightings_round_trip(store: Store) -> None:
    a = Observation(1.0, "enter", "person", 1.0, (0.1, 0.2, 0.3, 0.4), 3, {"colors": ["red"], "edge": "left"})
    b = Observation(2.0, "text", "TAXI", 1.0, None, None, {"words": ["taxi"]})
    c = Observation(3.0, "scene_cut", "scene change")
    store.add_sighting(a, "keyframes/a.jpg")
    store.add_sighting(b)
    store.add_sighting(c)
    assert store.sightings() == [(a, "keyframes/a.jpg"), (b, None), (c, None)]
    got = store.sightings(["enter"])[0][0]
    assert got.box == (0.1, 0.2, 0.3, 0.4) and got.attrs == a.attrs and got.track_id == 3
    assert [o.kind for o, _ in store.sightings(["text", "scene_cut"], since=1.5)] == ["text", "scene_cut"]
    assert [o.t for o, _ in store.sightings(until=2.0)] == [1.0, 2.0]


def test_alerts_and_queries_round_trip(store: Store) -> None:
    ev = (Observation(4.0, "motion", "lower left", 0.3, None, None, {"regions": ["lower left"]}),)
    store.add_alert(Alert("motion in the lower left", 4.0, 1004.0, "cam", ev, "keyframes/x.jpg"))
    store.add_alert(Alert("a scene change", 9.0, 1009.0, "cam"))
    got = store.alerts()
    assert [(a.query, a.t, a.wall, a.keyframe) for a in got] == [
        ("motion in the lower left", 4.0, 1004.0, "keyframes/x.jpg"), ("a scene change", 9.0, 1009.0, None)]
    assert got[0].evidence == ev
    assert [a.t for a in store.alerts(until=5.0)] == [4.0]
    store.save_alert_query("a scene change", 1.0)
    store.save_alert_query("a person enters", 2.0)
    store.save_alert_query("a scene change", 3.0)  # ignored: already there
    assert store.alert_queries() == ["a scene change", "a person enters"]
    store.delete_alert_query("a scene change")
    assert store.alert_queries() == ["a person enters"]


def test_gaps_round_trip(store: Store) -> None:
    gaps = [Gap(10.0, 12.5, 1010.0, 1013.0, "read timeout"), Gap(30.0, None, 1031.0, None, "connection refused")]
    for g in reversed(gaps):
        store.add_gap(g)
    assert store.gaps() == gaps


def test_an_open_gap_is_closed_in_place(store: Store) -> None:
    before = store.add_gap(Gap(1.0, 2.0, 1001.0, 1002.0, "stream ended"))
    open_id = store.add_gap(Gap(5.0, None, 1005.0, None, "connection refused"))
    assert open_id != before and store.gaps()[-1].end is None
    store.close_gap(open_id, Gap(5.0, 65.0, 1005.0, 1065.0, "connection refused"))
    assert store.gaps() == [Gap(1.0, 2.0, 1001.0, 1002.0, "stream ended"),
                            Gap(5.0, 65.0, 1005.0, 1065.0, "connection refused")]


def test_keyframes(store: Store, keyframe_image: np.ndarray) -> None:
    big = np.zeros((480, 640, 3), np.uint8)
    rel = store.save_keyframe(big, 12.3456)
    assert rel == "keyframes/0000012346.jpg"
    path = store.keyframe_path(rel)
    assert path is not None and path.is_file()
    import cv2

    assert cv2.imread(str(path)).shape == (240, 320, 3)  # thumbnailed to max_width
    assert store.keyframe_path(None) is None
    assert store.keyframe_path("keyframes/nope.jpg") is None
    small = store.save_keyframe(keyframe_image, 1.0, max_width=400)
    assert cv2.imread(str(store.keyframe_path(small))).shape == (120, 160, 3)


def test_rows_survive_reopen(tmp_path: Path) -> None:
    with Store(tmp_path / "s") as s:
        s.add_frame(1.0, 1, 1001.0, 2, 0.0, 1.0, [])
        s.add_event(make_event(0.0, 1.0))
        s.add_gap(Gap(1.0, 2.0, 0.0, 1.0, "x"))
    with Store(tmp_path / "s") as s:
        assert len(s.frames()) == 1 and len(s.events()) == 1 and len(s.gaps()) == 1


# --- vector index ----------------------------------------------------------------------------


def test_vector_search(store: Store) -> None:
    vecs = {0.0: unit([1, 0, 0]), 10.0: unit([0, 1, 0]), 20.0: unit([1, 1, 0]), 30.0: unit([0.9, 0.1, 0])}
    for start, v in vecs.items():
        store.add_event(make_event(start, start + 5, embedding=v))
    store.add_event(make_event(40.0, 45.0))  # no embedding: not indexed
    assert len(store.index) == 4
    hits = store.vector_search(unit([1, 0, 0]), k=2)
    assert [e.start for e, _ in hits] == [0.0, 30.0]
    assert hits[0][1] == pytest.approx(1.0)
    # `until`: only events that started by then, still best first.
    assert [e.start for e, _ in store.vector_search(unit([1, 0, 0]), k=3, until=25.0)] == [0.0, 20.0, 10.0]
    assert [e.start for e, _ in store.vector_search(unit([1, 0, 0]), k=3, until=5.0)] == [0.0]


def test_readonly_store_catches_up_with_the_writer(store: Store) -> None:
    store.add_event(make_event(0.0, 5.0, embedding=unit([1, 0, 0])))
    reader = Store(store.path, readonly=True)
    try:
        assert len(reader.index) == 1
        store.add_event(make_event(10.0, 15.0, embedding=unit([0, 1, 0])))
        store.add_event(make_event(20.0, 25.0))  # no embedding
        assert [e.start for e, _ in reader.vector_search(unit([0, 1, 0]), k=1)] == [0.0]  # not seen yet
        reader.catch_up()
        assert len(reader.index) == 2
        assert [e.start for e, _ in reader.vector_search(unit([0, 1, 0]), k=1)] == [10.0]
        reader.catch_up()  # nothing new: nothing added twice
        assert len(reader.index) == 2
        store.catch_up()  # the writer's own index is always current: a no-op
        assert len(store.index) == 2
    finally:
        reader.close()


def test_vector_search_empty(store: Store) -> None:
    assert store.index is None
    assert store.vector_search(unit([1, 0]), k=3) == []


def test_index_rebuilt_on_reopen(tmp_path: Path) -> None:
    rng = np.random.default_rng(3)
    vecs = [unit(rng.normal(size=8)) for _ in range(6)]
    with Store(tmp_path / "s") as s:
        for i, v in enumerate(vecs):
            s.add_event(make_event(i * 10.0, i * 10.0 + 5, embedding=v))
        before = [(e.id, round(score, 5)) for e, score in s.vector_search(vecs[4], k=6)]
    with Store(tmp_path / "s") as s:
        assert s.index is not None and len(s.index) == 6
        after = [(e.id, round(score, 5)) for e, score in s.vector_search(vecs[4], k=6)]
    assert after == before and before[0][1] == pytest.approx(1.0)
    with Store(tmp_path / "s", readonly=True) as ro:
        assert len(ro.index) == 6


@pytest.mark.parametrize("use_faiss", [True, False])
def test_vector_index_add_remove(use_faiss: bool) -> None:
    idx = VectorIndex(3)
    if not use_faiss:
        idx._faiss = None  # the numpy fallback must give the same answers
    idx.add([5, 6, 7], np.stack([unit([1, 0, 0]), unit([0, 1, 0]), unit([1, 1, 0])]))
    assert len(idx) == 3
    assert [i for i, _ in idx.search(unit([1, 0.2, 0]), 2)] == [5, 7]
    idx.remove([5])
    idx.remove([])
    assert len(idx) == 2
    assert [i for i, _ in idx.search(unit([1, 0, 0]), 5)] == [7, 6]


# --- one writer, many readers ----------------------------------------------------------------


def test_second_process_cannot_write(store: Store) -> None:
    out = run_child("""
        from onlook.errors import StoreLocked
        from onlook.memory.store import Store
        try:
            Store(PATH)
        except StoreLocked as e:
            print("locked:", e)
        else:
            print("opened")
    """, store.path)
    assert out.startswith("locked:") and "another process" in out


def test_same_process_second_writer_is_locked_too(store: Store) -> None:
    with pytest.raises(StoreLocked):
        Store(store.path)


def test_lock_released_for_other_process_after_close(tmp_path: Path) -> None:
    Store(tmp_path / "s").close()
    assert run_child("""
        from onlook.memory.store import Store
        with Store(PATH) as s:
            s.set_meta("writer", "child")
        print("ok")
    """, tmp_path / "s") == "ok"
    with Store(tmp_path / "s", readonly=True) as ro:
        assert ro.get_meta("writer") == "child"


def test_readonly_process_reads_while_writer_is_open(store: Store) -> None:
    store.add_event(make_event(0.0, 5.0, "first", embedding=unit([1, 0])))
    store.add_frame(5.0, 10, 1005.0, 2, 0.0, 1.0, [])
    # The writer keeps its connection open (WAL not checkpointed); the reader must still see the rows.
    out = run_child("""
        import json
        from onlook.memory.store import Store
        with Store(PATH, readonly=True) as ro:
            print(json.dumps([[e.summary for e in ro.events()], len(ro.frames()), len(ro.index)]))
    """, store.path)
    assert json.loads(out) == [["first"], 1, 1]
    # Later commits are visible to a new reader too, and the writer is unaffected.
    store.add_event(make_event(5.0, 9.0, "second"))
    with Store(store.path, readonly=True) as ro:
        assert [e.summary for e in ro.events()] == ["first", "second"]
    store.add_event(make_event(9.0, 12.0, "third"))
    assert len(store.events()) == 3


# --- budget ----------------------------------------------------------------------------------


def fill(store: Store, image: np.ndarray, n_frames: int = 1000) -> list[float]:
    """Write a timeline, an event + keyframe + sighting every 5 frames; return event starts."""
    rng = np.random.default_rng(0)
    starts = []
    for i in range(n_frames):
        t = i * 0.5
        obs = [Observation(t, "person", "person", 0.9, (0.1, 0.1, 0.3, 0.9), i % 5, {"colors": ["red"]})]
        store.add_frame(t, i, 1000 + t, i % 3, 0.1, 0.5, obs)
        if i % 5 == 0:
            kf = store.save_keyframe(image, t)
            enter = Observation(t, "enter", "person", track_id=i, attrs={"colors": ["red"]})
            store.add_event(make_event(t, t + 2.4, f"event {i} " + "x" * 200, keyframe=kf,
                                       salience=0.8 if i % 20 == 0 else 0.3, obs=[enter] * 5,
                                       embedding=unit(rng.normal(size=16))))
            store.add_sighting(enter, kf)
            starts.append(t)
    return starts


def test_enforce_budget_keeps_size_and_newest_events(tmp_path: Path, keyframe_image: np.ndarray) -> None:
    budget = 250_000
    s = Store(tmp_path / "s", budget_bytes=budget, keep_recent_s=60.0)
    try:
        starts = fill(s, keyframe_image)
        s.enforce_budget()
        assert s.size_bytes() <= budget
        assert s.evictions > 0
        events = s.events()
        assert 0 < len(events) < len(starts)
        assert events[-1].start == starts[-1]  # the newest event is kept
        kept = [e.start for e in events]
        assert kept == sorted(kept) and kept[-5:] == starts[-5:]
        assert len(s.frames()) < 1000  # the old timeline was thinned first
        assert len(s.index) == len(events)  # evicted events left the index
        # Sightings older than the oldest kept event are gone with it.
        assert all(o.t >= events[0].start for o, _ in s.sightings())
        for e in events:  # no event points at a deleted keyframe
            assert e.keyframe is None or s.keyframe_path(e.keyframe) is not None
    finally:
        s.close()
    total = sum(p.stat().st_size for p in (tmp_path / "s").rglob("*") if p.is_file())
    assert total <= budget


def test_enforce_budget_is_noop_under_budget(store: Store) -> None:
    store.add_frame(0.0, 0, 0.0, 0, 0.0, 1.0, [])
    assert store.enforce_budget() == 0 and store.evictions == 0


def test_enforce_budget_below_floor_keeps_newest_event(tmp_path: Path, keyframe_image: np.ndarray) -> None:
    s = Store(tmp_path / "s", budget_bytes=150_000)
    try:
        starts = fill(s, keyframe_image, n_frames=500)
        s.enforce_budget()
        events = s.events()
        assert events and events[-1].start == starts[-1]
    finally:
        s.close()


def test_budget_keeps_the_recent_timeline_at_full_resolution(tmp_path: Path, keyframe_image: np.ndarray) -> None:
    s = Store(tmp_path / "s", budget_bytes=400_000, keep_recent_s=60.0)
    try:
        fill(s, keyframe_image)
        s.enforce_budget()
        recent = s.frames(since=499.5 - 60.0)
        assert len(recent) == 121  # every 0.5 s row of the last minute survives
        assert len(s.frames(until=400.0)) < 800  # older rows were decimated
    finally:
        s.close()


def test_keyframe_file_takes_only_keyframe_names(store: Store) -> None:
    rel = store.save_keyframe(np.zeros((8, 8, 3), np.uint8), 1.5)
    name = Path(rel).name
    assert store.keyframe_file(name) == store.path / rel
    assert store.keyframe_file(rel) == store.path / rel  # the stored relative path works too
    for bad in ("../onlook.db", "keyframes/../onlook.db", "onlook.db", "/etc/passwd", "12.png", ""):
        assert store.keyframe_file(bad) is None
    assert store.keyframe_file("0000000000999.jpg") is None  # a keyframe name, but not stored


# --- budget and keyframes the database does not name -----------------------------------------


def folder_bytes(path: Path) -> int:
    """What the store folder's database and keyframes weigh on disk, counted afresh."""
    total = sum(p.stat().st_size for p in (path / "keyframes").iterdir() if p.is_file())
    return total + sum(p.stat().st_size for p in path.glob("onlook.db*") if ".bak" not in p.name)


def age(files: list[Path], seconds: float = 3600.0) -> None:
    old = time.time() - seconds
    for f in files:
        os.utime(f, (old, old))


def lose_rows(path: Path, before: float) -> None:
    """What a truncated (or restored) database does to a store: rows gone, their keyframe files left behind."""
    with closing(sqlite3.connect(path / "onlook.db")) as conn, conn:
        for table, col in (("events", "start"), ("sightings", "t"), ("frames", "t")):
            conn.execute(f"DELETE FROM {table} WHERE {col} < ?", (before,))
        conn.execute("DELETE FROM event_labels WHERE start < ?", (before,))


def test_budget_reclaims_orphans_before_any_memory(tmp_path: Path, keyframe_image: np.ndarray) -> None:
    path = tmp_path / "s"
    with Store(path, budget_bytes=10**9) as s:
        fill(s, keyframe_image, n_frames=600)
    lose_rows(path, before=200.0)  # 80 of 120 events' rows lost; all 120 keyframes still on disk
    age(list((path / "keyframes").iterdir()))
    with Store(path, budget_bytes=10**9) as s:
        kept = [e.id for e in s.events()]
        orphans, _ = s.orphan_keyframes()
        assert len(orphans) == 80 and len(kept) == 40
        orphan_bytes = sum(size for size, _ in orphans.values())
    memory_bytes = folder_bytes(path) - orphan_bytes
    # The budget has room for the memory, not for the orphans too.
    budget = int(memory_bytes * 1.2)
    assert memory_bytes + orphan_bytes > budget
    with Store(path, budget_bytes=budget) as s:
        assert s.enforce_budget() == 0  # no eviction step: the orphans paid
        assert [e.id for e in s.events()] == kept
        assert s.orphans_reclaimed == 80 and not s.orphan_keyframes()[0]
        assert s.size_bytes() <= budget
        for e in s.events():
            assert s.keyframe_path(e.keyframe) is not None
    assert folder_bytes(path) <= budget


def test_eviction_does_not_pay_for_bytes_it_cannot_free(tmp_path: Path, keyframe_image: np.ndarray) -> None:
    path = tmp_path / "s"
    with Store(path, budget_bytes=10**9) as s:
        fill(s, keyframe_image, n_frames=200)
    memory_bytes = folder_bytes(path)
    # Not the store's to free: a file someone put in its folder, and a keyframe written a moment
    # ago whose row is not committed yet (too young to call an orphan).
    (path / "keyframes" / "notes.bin").write_bytes(os.urandom(400_000))
    with Store(path, budget_bytes=memory_bytes + 200_000) as s:
        s.save_keyframe(keyframe_image, 9999.0)
        before = s.events()
        assert s.size_bytes() > s.budget_bytes
        assert s.enforce_budget() == 0
        after = s.events()
        assert [(e.id, e.keyframe) for e in after] == [(e.id, e.keyframe) for e in before]
        assert all(s.keyframe_path(e.keyframe) is not None for e in after) and s.orphans_reclaimed == 0
        assert s.keyframe_file("0009999000.jpg") is not None
    assert (path / "keyframes" / "notes.bin").is_file()


def test_eviction_never_leaves_a_row_naming_a_deleted_keyframe(tmp_path: Path, keyframe_image: np.ndarray) -> None:
    s = Store(tmp_path / "s", budget_bytes=10**9, keep_recent_s=60.0)
    try:
        fill(s, keyframe_image, n_frames=600)  # each event's keyframe is its entering sighting's too
        shown = [e for e in s.events() if e.keyframe][::12]  # alerts show some of those pictures
        for e in shown:
            s.add_alert(Alert("a person enters the view", e.start, 1000.0 + e.start, "cam", (), e.keyframe))
        s.budget_bytes = 600_000
        s.enforce_budget()
        assert s.evictions > 0 and s.size_bytes() <= 600_000
        named = [(table, rel) for table in ("events", "sightings", "alerts")
                 for (rel,) in s._read(f"SELECT keyframe FROM {table} WHERE keyframe IS NOT NULL")]
        assert {t for t, _ in named} == {"events", "sightings", "alerts"}
        assert [(t, rel) for t, rel in named if s.keyframe_path(rel) is None] == []
        assert [a.keyframe for a in s.alerts()] == [e.keyframe for e in shown]
    finally:
        s.close()


# --- the running size ------------------------------------------------------------------------


def test_status_does_not_scan_the_keyframe_folder(tmp_path: Path, keyframe_image: np.ndarray,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    from onlook.engine import StreamEngine

    s = Store(tmp_path / "s")
    try:
        fill(s, keyframe_image, n_frames=100)
        engine = StreamEngine(str(tmp_path / "unopened.mp4"), store=s)
        touched: list[str] = []
        kf = str(s.keyframe_dir)
        real_scandir, real_stat = os.scandir, os.stat

        def scandir(p=".", *a, **kw):
            touched.append(f"scandir {p}")
            return real_scandir(p, *a, **kw)

        def stat(p, *a, **kw):
            if str(p).startswith(kf):
                touched.append(f"stat {p}")
            return real_stat(p, *a, **kw)

        monkeypatch.setattr(os, "scandir", scandir)
        monkeypatch.setattr(os, "stat", stat)
        for _ in range(20):
            status = engine.status()
            s.size_bytes()
        monkeypatch.undo()
        assert touched == []
        assert status["store_bytes"] == folder_bytes(s.path)
    finally:
        s.close()


def test_running_size_matches_a_scan_after_writes_and_evictions(tmp_path: Path, keyframe_image: np.ndarray) -> None:
    s = Store(tmp_path / "s", budget_bytes=200_000, keep_recent_s=30.0)
    try:
        fill(s, keyframe_image, n_frames=300)  # the budget evicts as it fills
        assert s.evictions > 0
        assert s.size_bytes() == folder_bytes(s.path)
        s.save_keyframe(keyframe_image[:60], 149.5)  # the same name again, smaller
        s.save_keyframe(np.zeros((40, 40, 3), np.uint8), 5000.0)
        assert s.size_bytes() == folder_bytes(s.path)
        age([s.keyframe_dir / "0005000000.jpg"])
        s._keyframes["0005000000.jpg"] = (s._keyframes["0005000000.jpg"][0], time.time() - 3600)
        assert s.reclaim_orphans()[0] == 1
        s.enforce_budget()
        assert s.size_bytes() == folder_bytes(s.path)
        (s.keyframe_dir / "stray.txt").write_text("x" * 1000)  # written behind the store's back
        assert s.size_bytes(rescan=True) == folder_bytes(s.path)
    finally:
        s.close()
    with Store(tmp_path / "s") as s:  # counted afresh on open
        assert s.size_bytes() == folder_bytes(s.path)


# --- damaged stores and schema versions ------------------------------------------------------


def written_store(path: Path, image: np.ndarray, n_frames: int = 100) -> Path:
    with Store(path) as s:
        fill(s, image, n_frames=n_frames)
    return path


def _empty(db: Path) -> None:
    db.write_bytes(b"")


def _missing(db: Path) -> None:
    db.unlink()


def _truncated(db: Path) -> None:
    data = db.read_bytes()
    db.write_bytes(data[: len(data) // 2])


def _no_onlook_tables(db: Path) -> None:
    db.unlink()
    with closing(sqlite3.connect(db)) as conn, conn:
        conn.execute("CREATE TABLE conversations(id TEXT)")


def _lacks_events(db: Path) -> None:
    with closing(sqlite3.connect(db)) as conn, conn:
        conn.execute("DROP TABLE events")


@pytest.mark.parametrize(("damage", "message"), [
    (_empty, "holds 20 keyframes but its database (onlook.db) is empty"),
    (_missing, "holds 20 keyframes but its database (onlook.db) is missing"),
    (_no_onlook_tables, "holds 20 keyframes but its database (onlook.db) is without tables"),
    (_truncated, "its database is damaged (database disk image is malformed)"),
    (_lacks_events, "its database lacks the table(s) events"),
])
@pytest.mark.parametrize("readonly", [False, True])
def test_a_damaged_store_is_one_line_and_left_as_it_is(tmp_path: Path, keyframe_image: np.ndarray, damage, message: str,
                                                       readonly: bool) -> None:
    path = written_store(tmp_path / "s", keyframe_image)
    damage(path / "onlook.db")
    def files() -> dict[str, bytes]:  # the WAL index (-shm) is scratch space every reader writes
        return {p.name: p.read_bytes() for p in path.rglob("*")
                if p.is_file() and p.name not in (".lock", "onlook.db-shm")}

    before = files()
    with pytest.raises(StoreCorrupt) as info:
        Store(path, readonly=readonly)
    msg = str(info.value)
    assert message in msg and "\n" not in msg and f"onlook store repair {path}" in msg
    assert isinstance(info.value, StoreError)
    # Nothing was started over the old keyframes, nothing deleted (reading may add a WAL index, no more).
    after = files()
    assert {k: after.get(k) for k in before} == before
    new = set(after) - set(before)
    assert new <= {"onlook.db-wal"} and not any(after[k] for k in new)
    if not readonly:
        Store(tmp_path / "fresh").close()  # the lock of the refused store was let go: another opens fine
        with pytest.raises(StoreCorrupt):
            Store(path)


@pytest.mark.parametrize(("table", "column", "value", "read"), [
    ("events", "obs", "{bad", lambda s: s.events()),
    ("events", "labels", "[1, 2", lambda s: s.event(3)),
    ("frames", "obs", '[{"t": 1}]', lambda s: s.frames()),
    ("sightings", "attrs", "nope", lambda s: s.sightings()),
    ("meta", "value", "{", lambda s: s.get_meta("k")),
    ("events", "embedding", b"\x00\x01\x02", lambda s: s),
])
def test_a_row_that_cannot_be_read_is_one_line(tmp_path: Path, keyframe_image: np.ndarray, table: str, column: str,
                                               value: object, read) -> None:
    path = tmp_path / "s"
    with Store(path) as s:
        fill(s, keyframe_image, n_frames=20)
        for key in ("a", "b", "k"):  # "k" is the third row
            s.set_meta(key, 1)
    with closing(sqlite3.connect(path / "onlook.db")) as conn, conn:
        conn.execute(f"UPDATE {table} SET {column}=? WHERE rowid=3", (value,))
    for readonly in (True, False):
        with pytest.raises(StoreCorrupt) as info:
            with Store(path, readonly=readonly) as s:
                read(s)
        msg = str(info.value)
        assert f"a row of {table}" in msg or "event 3 has an embedding" in msg
        assert "\n" not in msg and "onlook store check" in msg


def test_every_store_carries_its_schema_version(tmp_path: Path) -> None:
    from onlook.memory.store import SCHEMA_VERSION

    with Store(tmp_path / "s") as s:
        s.add_event(make_event(0.0, 1.0))
        assert s.schema_version == SCHEMA_VERSION >= 1
    with closing(sqlite3.connect(tmp_path / "s" / "onlook.db")) as conn, conn:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
        conn.execute("PRAGMA user_version=0")  # as written before versions existed
    with Store(tmp_path / "s", readonly=True) as ro:  # read as the first layout, not stamped
        assert len(ro.events()) == 1 and ro.schema_version == 1
    with closing(sqlite3.connect(tmp_path / "s" / "onlook.db")) as conn, conn:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == 0
    with Store(tmp_path / "s") as s:  # a writer stamps it, rows untouched
        assert len(s.events()) == 1
    with closing(sqlite3.connect(tmp_path / "s" / "onlook.db")) as conn, conn:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION


def test_a_store_from_a_newer_onlook_is_refused(tmp_path: Path) -> None:
    from onlook.errors import StoreTooNew
    from onlook.memory.store import SCHEMA_VERSION

    Store(tmp_path / "s").close()
    with closing(sqlite3.connect(tmp_path / "s" / "onlook.db")) as conn, conn:
        conn.execute(f"PRAGMA user_version={SCHEMA_VERSION + 1}")
    for readonly in (False, True):
        with pytest.raises(StoreTooNew) as info:
            Store(tmp_path / "s", readonly=readonly)
        assert "written by a newer onlook" in str(info.value) and "\n" not in str(info.value)
    with closing(sqlite3.connect(tmp_path / "s" / "onlook.db")) as conn, conn:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION + 1


def test_a_migration_step_is_one_entry(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import onlook.memory.store as store_mod

    with Store(tmp_path / "s") as s:
        s.add_event(make_event(0.0, 1.0))
    step = ("speech transcripts", "CREATE TABLE IF NOT EXISTS transcripts(t REAL, text TEXT);")
    monkeypatch.setattr(store_mod, "MIGRATIONS", (*store_mod.MIGRATIONS, step))
    monkeypatch.setattr(store_mod, "SCHEMA_VERSION", len(store_mod.MIGRATIONS))
    new = store_mod.SCHEMA_VERSION
    with Store(tmp_path / "s", readonly=True) as ro:  # a reader does not migrate: it can tell the table is not there
        assert ro.schema_version == new - 1 and not ro.has_table("transcripts") and len(ro.events()) == 1
    with Store(tmp_path / "s") as s:
        assert s.has_table("transcripts") and s.schema_version == new and len(s.events()) == 1
    with Store(tmp_path / "s", readonly=True) as ro:
        assert ro.has_table("transcripts") and ro.schema_version == new
    with closing(sqlite3.connect(tmp_path / "s" / "onlook.db")) as conn, conn:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == new
        conn.execute("DROP TABLE transcripts")  # a table its version promises is missing: damaged
    with pytest.raises(StoreCorrupt, match="lacks the table"):
        Store(tmp_path / "s")


def test_memory_latest_is_the_same_timeline_row_as_the_stored_one(store: Store) -> None:
    from onlook.memory import Memory
    from onlook.types import Analysis, Frame

    mem = Memory(store, "cam")
    obs = [Observation(2.0, "person", "person", 0.9, (0.1, 0.2, 0.3, 0.9), 1),
           Observation(2.0, ObservationKind.MOTION, "lower left", 0.3, attrs={"regions": ["lower left"]})]
    mem.add(Analysis(Frame("cam", 4, 2.0, 1002.0, np.zeros((8, 8, 3), np.uint8)), obs, analysed_fraction=0.5,
                     people=1))
    latest = mem.latest()
    assert latest is not None and set(latest) == TimelineRow.__required_keys__
    assert latest == store.frame_at(2.0)
    assert latest["motion"] == 0.3 and [o.kind for o in latest["obs"]] == [ObservationKind.PERSON,
                                                                          ObservationKind.MOTION]
