"""The command line as users run it: one JSON object per line, one-line errors, exit codes."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

pytestmark = pytest.mark.timeout(180)

FAST = ["--no-faces", "--no-ocr", "--no-people"]


def onlook(*args: str, timeout: float = 120, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "onlook.cli", *args], capture_output=True, text=True,
                          timeout=timeout, env={**os.environ, **(env or {})})


def lines(out: str) -> list[dict]:
    return [json.loads(ln) for ln in out.splitlines() if ln.strip()]


def test_watch_json_emits_typed_objects_and_answers(make_clip, tmp_path):
    clip = make_clip(seconds=5, cut_at=3.0)
    r = onlook("watch", str(clip), "--json", "--fps", "2", "--store", str(tmp_path / "st"), *FAST,
               "--alert", "a scene change", "--ask", "how many scene changes so far?")
    assert r.returncode == 0, r.stderr
    objs = lines(r.stdout)
    assert objs and all(isinstance(o["type"], str) and isinstance(o["t"], (int, float)) for o in objs)
    assert {o["type"] for o in objs} >= {"status", "event", "alert", "answer"}
    alert = next(o for o in objs if o["type"] == "alert")
    assert alert["query"] == "a scene change" and alert["t"] == 3.0
    answer = next(o for o in objs if o["type"] == "answer")
    assert answer["question"] == "how many scene changes so far?" and answer["value"] == 1 and answer["text"]

    r = onlook("ask", "--store", str(tmp_path / "st"), "when was the first scene change?", "--json")
    assert r.returncode == 0, r.stderr
    a = lines(r.stdout)[0]
    assert a["type"] == "answer" and a["value"] == 3.0 and "00:03" in a["text"]
    assert a["evidence"][0]["keyframe"].endswith(".jpg")
    assert (tmp_path / "st" / a["evidence"][0]["keyframe"]).is_file()

    r = onlook("search", "--store", str(tmp_path / "st"), "scene change", "--json")
    assert r.returncode == 0, r.stderr
    hits = lines(r.stdout)[0]["hits"]
    assert hits and hits[0]["start"] <= 3.0 <= hits[0]["end"]


def test_ask_at_is_causal(make_clip, tmp_path):
    clip = make_clip(seconds=5, cut_at=3.0)
    assert onlook("watch", str(clip), "--json", "--store", str(tmp_path / "st"), *FAST).returncode == 0
    r = onlook("ask", "--store", str(tmp_path / "st"), "how many scene changes so far?", "--at", "2.0", "--json")
    assert lines(r.stdout)[0]["value"] == 0


@pytest.mark.parametrize(("make", "message", "code"), [
    (lambda p: str(p / "missing.mp4"), "no such file", 2),
    (lambda p: (p / "notes.mp4").write_text("not a video") and str(p / "notes.mp4"), "not a video", 2),
    (lambda p: "foo://camera/1", "unsupported URL scheme", 2),
    (lambda p: str(p), "images in the folder", 2),  # an empty folder
])
def test_bad_sources_give_one_line_and_exit_code(tmp_path, make, message, code):
    src = make(tmp_path)
    r = onlook("watch", src, *FAST)
    assert r.returncode == code, (r.stdout, r.stderr)
    assert message.lower() in r.stderr.lower()
    assert "Traceback" not in r.stderr and len(r.stderr.strip().splitlines()) == 1


def test_truncated_stream_keeps_what_was_decoded(make_clip, tmp_path):
    if not _has_ffmpeg():
        pytest.skip("ffmpeg not installed")
    clip = make_clip(seconds=6)
    full = tmp_path / "full.ts"
    subprocess.run(["ffmpeg", "-loglevel", "error", "-i", str(clip), "-c:v", "libx264", "-preset", "ultrafast",
                    "-g", "10", "-f", "mpegts", str(full)], check=True, timeout=60)
    raw = full.read_bytes()
    cut = tmp_path / "cut.ts"
    cut.write_bytes(raw[: len(raw) // 2])  # a recording cut off mid-way
    r = onlook("watch", str(cut), "--json", "--store", str(tmp_path / "st"), *FAST)
    assert "Traceback" not in r.stderr
    assert r.returncode in (0, 1) and len(r.stderr.strip().splitlines()) <= 1
    r2 = onlook("ask", "--store", str(tmp_path / "st"), "what happened so far?", "--json")
    a = lines(r2.stdout)[0]
    assert r2.returncode == 0 and not a["abstained"], a
    assert 1.0 <= a["t"] < 6.0  # the first part was stored, the missing part was not invented


def _has_ffmpeg() -> bool:
    from shutil import which

    return which("ffmpeg") is not None


def test_unsupported_alert_and_bad_options(make_clip, tmp_path):
    clip = make_clip(seconds=1)
    r = onlook("watch", str(clip), "--alert", "a dog barks", *FAST)
    assert r.returncode == 2 and "cannot see" in r.stderr and "Traceback" not in r.stderr
    r = onlook("watch", str(clip), "--budget", "lots", *FAST)
    assert r.returncode == 2 and "size" in r.stderr
    r = onlook("watch", str(clip), "--fps", "0", *FAST)
    assert r.returncode == 2 and "fps" in r.stderr and "Traceback" not in r.stderr
    r = onlook("ask", "--store", str(tmp_path / "none"), "hello?")
    assert r.returncode == 2 and "no store" in r.stderr and "Traceback" not in r.stderr  # bad input


def test_abstains_on_what_perception_cannot_see(make_clip, tmp_path):
    clip = make_clip(seconds=2)
    assert onlook("watch", str(clip), "--store", str(tmp_path / "st"), "--json", *FAST).returncode == 0
    r = onlook("ask", "--store", str(tmp_path / "st"), "what is the man carrying?", "--json")
    a = lines(r.stdout)[0]
    # people in view but no hand ever seen: no claim either way
    assert a["abstained"] is True and ("can't tell" in a["text"] or "cannot tell" in a["text"])


def test_store_check_finds_damage_and_repair_salvages(make_clip, tmp_path):
    import sqlite3
    from contextlib import closing

    st = tmp_path / "st"
    assert onlook("watch", str(make_clip(seconds=4, cut_at=2.0)), "--json", "--store", str(st), *FAST).returncode == 0
    r = onlook("store", "check", str(st))
    assert r.returncode == 0 and "ok" in r.stdout, (r.stdout, r.stderr)
    with closing(sqlite3.connect(st / "onlook.db")) as conn, conn:
        conn.execute("UPDATE events SET obs='{' WHERE id=1")
    r = onlook("ask", "--store", str(st), "what happened so far?")
    assert r.returncode == 1 and "cannot be read" in r.stderr and "onlook store repair" in r.stderr
    assert "Traceback" not in r.stderr and len(r.stderr.strip().splitlines()) == 1
    r = onlook("store", "check", str(st), "--json")
    report = lines(r.stdout)[0]
    assert r.returncode == 1 and report["ok"] is False
    assert [f["kind"] for f in report["findings"]] == ["unreadable_rows"]
    r = onlook("store", "repair", str(st))
    assert r.returncode == 0 and "repaired" in r.stdout and "1 unreadable value(s) cleared" in r.stdout, r.stdout
    assert len([p for p in st.glob("onlook.db.bak-*") if not p.name.endswith("-wal")]) == 1
    assert onlook("store", "check", str(st)).returncode == 0
    r = onlook("store", "repair", str(st))
    assert r.returncode == 0 and "nothing to repair" in r.stdout
    r = onlook("ask", "--store", str(st), "what happened so far?", "--json")
    assert r.returncode == 0 and not lines(r.stdout)[0]["abstained"]


def test_a_store_whose_database_is_lost_is_refused_not_restarted(make_clip, tmp_path):
    st = tmp_path / "st"
    assert onlook("watch", str(make_clip(seconds=3, cut_at=1.5)), "--json", "--store", str(st), *FAST).returncode == 0
    (st / "onlook.db").unlink()
    kept = sorted(p.name for p in (st / "keyframes").iterdir())
    assert kept
    r = onlook("watch", str(make_clip(name="again.mp4", seconds=2)), "--json", "--store", str(st), *FAST)
    assert r.returncode == 1 and "database (onlook.db) is missing" in r.stderr and "onlook store repair" in r.stderr
    assert "Traceback" not in r.stderr and len(r.stderr.strip().splitlines()) == 1
    assert not (st / "onlook.db").exists() and sorted(p.name for p in (st / "keyframes").iterdir()) == kept
    r = onlook("store", "check", str(st))
    assert r.returncode == 1 and "missing" in r.stdout
    r = onlook("store", "check", str(tmp_path / "elsewhere"))
    assert r.returncode == 2 and "no onlook store" in r.stderr and len(r.stderr.strip().splitlines()) == 1
    r = onlook("store", "repair", str(st), "--reclaim-orphans", "--json")
    out = lines(r.stdout)[0]
    assert r.returncode == 0 and out["repaired"] and out["orphans"] == len(kept) and out["orphans_reclaimed"]
    assert onlook("watch", str(make_clip(name="again.mp4", seconds=2)), "--json", "--store", str(st),
                  *FAST).returncode == 0


@pytest.mark.footage
def test_demo_runs_offline(tmp_path):
    r = onlook("demo", "--seconds", "6", "--no-realtime", "--json", timeout=170)
    assert r.returncode == 0, r.stderr
    objs = lines(r.stdout)
    assert any(o["type"] == "answer" for o in objs)
    assert any(o["type"] == "status" and o.get("state") == "ended" for o in objs)


@pytest.mark.timeout(60)
def test_stalling_stream_gives_one_line_and_settings_come_from_env(tmp_path):
    import socket
    import threading

    from media import free_port

    port = free_port()
    srv = socket.socket()
    srv.bind(("127.0.0.1", port))
    srv.listen(4)
    conns = []
    stop = threading.Event()

    def accept() -> None:  # accept and never send a byte
        srv.settimeout(0.2)
        while not stop.is_set():
            try:
                conns.append(srv.accept()[0])
            except OSError:
                pass

    th = threading.Thread(target=accept, daemon=True)
    th.start()
    try:
        r = onlook("watch", f"tcp://127.0.0.1:{port}", *FAST, timeout=50,
                   env={"ONLOOK_OPEN_TIMEOUT_S": "1", "ONLOOK_READ_TIMEOUT_S": "1", "ONLOOK_RECONNECT_ATTEMPTS": "1",
                        "ONLOOK_RECONNECT_BACKOFF_S": "0.1"})
    finally:
        stop.set()
        th.join(5)
        for c in conns:
            c.close()
        srv.close()
    assert r.returncode == 1, r.stderr
    assert "timed out" in r.stderr or "stalled" in r.stderr or "timeout" in r.stderr.lower()
    assert "Traceback" not in r.stderr and len(r.stderr.strip().splitlines()) == 1


def test_bench_finds_a_bare_clip_name_in_the_footage_folders(tmp_path):
    """BENCHMARKS.md's commands name clips bare (--clip vtest.avi): found as the demo finds footage."""
    out = tmp_path / "B.md"
    # An unknown benchmark name fails after the clip is resolved: the clip was found, nothing ran.
    r = onlook("bench", "--clip", "tiny.avi", "--only", "nope", "--out", str(out),
               env={"ONLOOK_FOOTAGE": str(tmp_path)})
    assert r.returncode != 0 and "no such file" in r.stderr and "\n" not in r.stderr.strip()
    (tmp_path / "tiny.avi").write_bytes(b"x")
    r = onlook("bench", "--clip", "tiny.avi", "--only", "nope", "--out", str(out),
               env={"ONLOOK_FOOTAGE": str(tmp_path)})
    assert r.returncode != 0 and "unknown benchmark nope" in r.stderr and not out.exists()


def test_bench_does_not_write_benchmarks_md_unless_asked(make_clip, tmp_path):
    """Without --out the report is printed; a BENCHMARKS.md in the current folder is left alone."""
    clip = make_clip(seconds=2)
    (tmp_path / "BENCHMARKS.md").write_text("mine\n")
    r = subprocess.run([sys.executable, "-m", "onlook.cli", "bench", "--clip", str(clip), "--only", "delay",
                        "--delay-s", "1"], capture_output=True, text=True, timeout=150, cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert (tmp_path / "BENCHMARKS.md").read_text() == "mine\n"
    assert "| live event-to-alert delay |" in r.stdout and f"using {clip}" in r.stderr


def test_demo_header_states_the_clips_real_length(make_clip):
    from onlook.cli import demo_header

    clip = make_clip(seconds=10)
    head = demo_header(clip, 40.0, realtime=False, alerts=["a scene change"])
    assert "10 s" in head and "40 s" not in head
    assert "6 s of 10 s" in demo_header(clip, 6.0, realtime=True, alerts=[])


def test_progress_bar_does_not_overprint_the_events_panel():
    from rich.console import Console

    from onlook.cli import _Display

    console = Console(width=100, record=True, force_terminal=False)
    d = _Display(console, "clip.mp4")
    d.status = {"duration": 10.0, "t": 4.0}
    console.print(d.render())
    lines = console.export_text().splitlines()
    bar = next(i for i, ln in enumerate(lines) if "━" in ln)
    assert "events" not in lines[bar] and "events" in lines[bar + 1]


def test_run_watch_has_one_message_handler():
    import inspect

    from onlook import cli

    assert inspect.getsource(cli._watch_engine).count("def on_msg(") == 1
