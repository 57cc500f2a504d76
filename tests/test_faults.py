"""Faults a deployment meets: a full disk, SIGTERM, and input that must be refused (engine and CLI)."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from faults import database_fills_up, keyframes_fill_up, small_tmpfs
from media import scene_frames
from typer.testing import CliRunner

from onlook.cli import app
from onlook.config import Settings
from onlook.engine import StreamEngine
from onlook.errors import StoreError, StoreFull
from onlook.memory import Store
from onlook.perception.pipeline import Perceiver
from onlook.sources import FakeSource

pytestmark = pytest.mark.timeout(120)

FAST = ["--no-faces", "--no-ocr", "--no-people"]


def _settings(tmp_path: Path, **kw) -> Settings:
    return Settings(**{"fps": 5.0, "detect_faces": False, "detect_text": False, "detect_people": False,
                       "store": tmp_path / "store", **kw})


def _engine(frames, s: Settings, **kw) -> StreamEngine:
    return StreamEngine(FakeSource(frames, fps=10), settings=s, perceiver=Perceiver(s), **kw)


def _one_line(stderr: str) -> str:
    assert "Traceback" not in stderr, stderr
    lines = [ln for ln in stderr.splitlines() if ln.strip()]
    assert len(lines) == 1, stderr
    return lines[0]


# --- disk full: the engine ------------------------------------------------------------------------


def test_keyframe_enospc_fails_the_stream_and_keeps_the_open_event(tmp_path, monkeypatch):
    s = _settings(tmp_path)
    disk = keyframes_fill_up(monkeypatch)
    eng = _engine(scene_frames(6, cut_at=2.0), s, alerts=["a scene change"])
    msgs = []
    eng.subscribe(msgs.append)
    with pytest.raises(StoreFull, match="full"):
        eng.run()
    assert disk.refused and eng.done.is_set() and isinstance(eng.error, StoreFull)
    assert msgs[-1]["type"] == "status" and msgs[-1]["state"] == "failed"
    err = next(m for m in msgs if m["type"] == "error")
    assert err["error"] == "StoreFull" and "no room" in err["message"]
    assert any(m["type"] == "alert" for m in msgs)  # the alert was heard, without its picture
    eng.close()
    with Store(s.store, readonly=True) as st:  # what was stored stays readable
        assert [o.kind for o, kf in st.sightings(["scene_cut"])] == ["scene_cut"]
        assert [a.keyframe for a in st.alerts()] == [None]
        events = st.events()
        # The database had room: the events closed on the way and the open one are stored, without keyframes.
        assert events and all(e.keyframe is None for e in events)
        assert events[-1].end == pytest.approx(2.0)
    assert not list((s.store / "keyframes").iterdir())  # no half-written JPEG left


def test_full_database_fails_the_stream_and_flushes_the_open_event_when_there_is_room(tmp_path, monkeypatch):
    s = _settings(tmp_path)
    disk = database_fills_up(monkeypatch, after=12)
    eng = _engine(scene_frames(6), s)
    eng.start()
    assert eng.done.wait(30), "the engine never finished: a dead ingest thread"
    assert not eng.running and isinstance(eng.error, StoreFull) and disk.refused
    assert eng.memory.pending == 1  # the open event found no room: kept, not lost
    with Store(s.store, readonly=True) as st:  # readable meanwhile
        t_stored = st.last_time()
        assert t_stored is not None and st.events() == []
    disk.room()
    eng.close()  # now there is room: the event is stored before the store closes
    with Store(s.store, readonly=True) as st:
        events = st.events()
        assert len(events) == 1 and events[0].start == 0.0 and events[0].end >= t_stored
        assert events[0].keyframe is not None and (s.store / events[0].keyframe).is_file()


def test_store_write_errors_are_translated(tmp_path, monkeypatch):
    st = Store(tmp_path / "st")
    database_fills_up(monkeypatch)
    with pytest.raises(StoreFull) as info:
        st.set_meta("k", 1)
    assert isinstance(info.value, OSError) and info.value.errno == 28 and "full" in str(info.value)
    monkeypatch.undo()
    st.set_meta("k", 2)  # the failed transaction was rolled back: the connection still writes
    assert st.get_meta("k") == 2
    def denied(self: Path, data: bytes) -> int:
        raise PermissionError(13, "Permission denied", str(self))

    monkeypatch.setattr(Path, "write_bytes", denied)
    with pytest.raises(StoreError, match="cannot write keyframe") as info:
        st.save_keyframe(scene_frames(0.1)[0], 1.0)
    assert not isinstance(info.value, StoreFull)
    st.close()


# --- disk full: the CLI ---------------------------------------------------------------------------


@pytest.mark.parametrize(("fill", "after"), [(keyframes_fill_up, 0), (database_fills_up, 20)])
def test_watch_on_a_full_disk_is_one_line_and_exit_1(make_clip, tmp_path, monkeypatch, fill, after):
    clip = make_clip(seconds=6, cut_at=3.0)
    store = tmp_path / "st"
    disk = fill(monkeypatch, after=after)
    r = CliRunner().invoke(app, ["watch", str(clip), "--json", "--fps", "5", "--store", str(store), *FAST])
    assert r.exit_code == 1, (r.stdout, r.stderr)
    assert "full" in _one_line(r.stderr) and "error:" in r.stderr
    assert json.loads(r.stdout.splitlines()[-1])["state"] == "failed" and disk.refused
    monkeypatch.undo()
    r = CliRunner().invoke(app, ["ask", "--store", str(store), "what happened so far?", "--json"])
    assert r.exit_code == 0, r.stderr  # what was stored stays readable


def test_watch_into_a_real_full_tmpfs(make_clip, tmp_path):
    clip = make_clip(seconds=30, cut_at=3.0)
    with small_tmpfs(tmp_path / "mnt", "600k") as mnt:
        r = subprocess.run([sys.executable, "-m", "onlook.cli", "watch", str(clip), "--json", "--fps", "5",
                            "--store", str(mnt / "st"), *FAST], capture_output=True, text=True, timeout=120)
        assert r.returncode == 1, r.stderr
        assert "full" in _one_line(r.stderr)
        a = subprocess.run([sys.executable, "-m", "onlook.cli", "ask", "--store", str(mnt / "st"),
                            "when was the first scene change?", "--json"], capture_output=True, text=True,
                           timeout=60)
        assert a.returncode == 0, a.stderr
        assert json.loads(a.stdout)["value"] == pytest.approx(3.0)


# --- SIGTERM --------------------------------------------------------------------------------------


@pytest.mark.timeout(90)
def test_sigterm_stops_watch_like_ctrl_c(make_clip, tmp_path):
    clip = make_clip(seconds=40, w=160, h=120)
    store = tmp_path / "st"
    proc = subprocess.Popen([sys.executable, "-m", "onlook.cli", "watch", str(clip), "--realtime", "--json",
                             "--fps", "2", "--store", str(store), *FAST], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 60
        seen = 0.0
        for line in proc.stdout:  # a status line every second of a real-time stream
            m = json.loads(line)
            seen = max(seen, m["t"])
            if m["type"] == "status" and seen >= 2.0 or time.monotonic() > deadline:
                break
        assert seen >= 2.0, "the watch did not get going"
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 0, err
    assert "Traceback" not in err and "stopped" in err
    last = json.loads(out.splitlines()[-1])
    assert last["type"] == "status" and last["state"] == "ended"
    with Store(store) as st:  # the write lock was released: a writer can open it
        events = st.events()
        assert events and events[-1].end >= seen  # the open event was flushed
        assert events[-1].end < 30  # and the watch really stopped early


# --- validation -----------------------------------------------------------------------------------


def test_until_is_file_time_on_a_carried_on_store(tmp_path):
    s = _settings(tmp_path)
    eng = _engine(scene_frames(4), s)
    eng.run()
    eng.close()
    # Watching the same file again carries stream time on after 3.8 s; --until 2 means the file's 2 s.
    eng = _engine(scene_frames(4), s, until_s=2.0)
    eng.run()
    assert eng.store.last_time() == pytest.approx(3.8 + 0.2 + 2.0, abs=0.01)
    assert [g.reason for g in eng.store.gaps()] == ["restart"]
    eng.close()
    # A part of the file that ends before it starts stores nothing, not even a restart gap.
    eng = _engine(scene_frames(4), s, start_s=3.0, until_s=2.0)
    eng.run()
    assert len(eng.store.gaps()) == 1 and eng.store.last_time() == pytest.approx(6.0, abs=0.01)
    eng.close()


def test_bad_source_is_refused_before_models_load_and_leaves_no_store(tmp_path, monkeypatch, make_clip):
    import onlook.cli
    import onlook.engine

    def must_not_load(*args, **kw):
        raise AssertionError("a model loaded before the source was checked")

    monkeypatch.setattr(onlook.engine, "build_perceiver", must_not_load)
    monkeypatch.setattr(onlook.cli, "_make_answerer", must_not_load)
    store = tmp_path / "new-store"
    r = CliRunner().invoke(app, ["watch", str(tmp_path / "missing.mp4"), "--store", str(store)])
    assert r.exit_code == 2, (r.stdout, r.stderr, r.exception)
    assert "no such file" in _one_line(r.stderr)
    assert not store.exists()
    assert "memory stored" not in r.stdout
    # A refused alert leaves no folder behind either; a folder that was there before stays.
    r = CliRunner().invoke(app, ["watch", str(make_clip()), "--store", str(store),
                                 "--alert", "someone opens a car boot"])
    assert r.exit_code == 2 and not store.exists()
    store.mkdir()
    (store / "notes.txt").write_text("mine")
    r = CliRunner().invoke(app, ["watch", str(tmp_path / "missing.mp4"), "--store", str(store)])
    assert r.exit_code == 2 and sorted(p.name for p in store.iterdir()) == ["notes.txt"]


@pytest.mark.parametrize("args", [["ask", "hello?"], ["search", "person"]])
def test_missing_store_is_bad_input(tmp_path, args):
    for store in (tmp_path / "nonexistent", tmp_path):  # no folder; a folder without a store
        r = CliRunner().invoke(app, [args[0], "--store", str(store), *args[1:]])
        assert r.exit_code == 2, (r.stdout, r.stderr)
        assert "no store at" in _one_line(r.stderr)


@pytest.mark.parametrize("args", [["ask", "--at", "inf", "hi"], ["ask", "--at", "nan", "hi"],
                                  ["watch", "x.mp4", "--until", "inf"], ["watch", "x.mp4", "--start", "nan"]])
def test_non_finite_times_are_bad_input(tmp_path, args):
    r = CliRunner().invoke(app, [*args, "--store", str(tmp_path)])
    assert r.exit_code == 2, (r.stdout, r.stderr)
    assert "finite" in _one_line(r.stderr)


def test_sigterm_handler_is_restored_after_watch(make_clip, tmp_path):
    before = signal.getsignal(signal.SIGTERM)
    r = CliRunner().invoke(app, ["watch", str(make_clip(seconds=1)), "--json", *FAST])
    assert r.exit_code == 0, r.stderr
    assert signal.getsignal(signal.SIGTERM) is before



# --- the fault-injection bench's disk filling (onlook bench --only faults) ---------------------------


@pytest.mark.slow
@pytest.mark.timeout(240)
def test_disk_fill_round_reports_one_line_readable_rows_and_recovery(make_clip):
    from benchmarks.faults import disk_fill

    clip = make_clip(seconds=30, cut_at=3.0)
    try:
        rounds = disk_fill(clip, sizes=("600k",), timeout_s=120, watch_args=("--fps", "5", *FAST))
    except PermissionError as e:
        pytest.skip(str(e))
    (r,) = rounds
    assert (r.exit_full, r.stderr_lines, r.traceback) == (1, 1, False), r
    assert "full" in r.message
    assert r.events_after_full >= 1 and not r.check_problems
    assert r.exit_resumed == 0 and r.events_after_resume >= r.events_after_full
    assert r.ok
