"""BENCHMARKS.md writing: one command's rows are replaced, the rest of the file is kept."""

from __future__ import annotations

from pathlib import Path

from benchmarks.report import write_markdown
from benchmarks.results import BenchResult


def res(name: str, figure: str, cmd: str, ok: bool | None = True) -> BenchResult:
    return BenchResult(name, figure, "target", ok, {"cmd": cmd})


def test_new_file_has_a_table(tmp_path: Path):
    p = tmp_path / "B.md"
    write_markdown([res("a", "1 ms", "onlook bench --only a"), res("b", "2", "x", None)], p, "onlook bench")
    text = p.read_text()
    assert text.startswith("# Benchmarks")
    assert "| a | 1 ms | target | yes | `onlook bench --only a` |" in text
    assert "| b | 2 | target | - | `x` |" in text


def test_update_replaces_only_that_commands_rows(tmp_path: Path):
    p = tmp_path / "B.md"
    write_markdown([res("a", "1 ms", "onlook bench --only a"), res("b", "2 ms", "onlook bench --only b"),
                    res("b2", "3 ms", "onlook bench --only b")], p, "onlook bench")
    p.write_text(p.read_text() + "\nNotes:\n- a note that stays\n")
    write_markdown([res("b renamed", "9 ms", "onlook bench --only b", False)], p, "onlook bench --only b")
    lines = p.read_text().splitlines()
    rows = [line for line in lines if line.startswith("| ") and not line.startswith("| benchmark")]
    assert [r.split(" | ")[0] for r in rows] == ["| a", "| b renamed"]  # in place of the old b rows
    assert "| b renamed | 9 ms | target | no | `onlook bench --only b` |" in lines
    assert "- a note that stays" in lines
    # A command the table has no rows of yet: its rows go after the table's last row, before the notes.
    write_markdown([res("c", "4", "onlook bench --cluster")], p, "onlook bench --cluster")
    lines = p.read_text().splitlines()
    assert lines.index("| c | 4 | target | yes | `onlook bench --cluster` |") < lines.index("Notes:")


def test_render_is_pure_text_and_merge_needs_a_table():
    from benchmarks.report import merge_rows, render_markdown

    text = render_markdown([res("a", "1", "onlook bench --only a")], "onlook bench", note="Footage: x.mp4.")
    assert "Footage: x.mp4." in text and "| a | 1 | target | yes |" in text
    assert merge_rows("# notes, no table\n", [res("a", "2", "c")], "c") is None
    merged = merge_rows(text, [res("a", "2", "onlook bench --only a")], "onlook bench --only a")
    assert merged is not None and "| a | 2 |" in merged and "| a | 1 |" not in merged


def test_a_machine_without_footage_gets_a_synthetic_clip(tmp_path, monkeypatch):
    import av

    import benchmarks.clips as clips
    from benchmarks.clips import ClipOrigin, choose_clip

    monkeypatch.setattr(clips, "BENCH_CLIPS", ("no-such-clip-anywhere.avi",))
    choice = choose_clip(tmp_path)
    assert choice.how is ClipOrigin.SYNTHETIC and choice.path.is_file() and "synthetic" in choice.describe()
    with av.open(str(choice.path)) as c:
        assert c.streams.video[0].frames >= 290 or c.duration


def test_bench_needs_the_benchmarks_folder_and_says_so_in_one_line(tmp_path):
    import os
    import subprocess
    import sys

    r = subprocess.run([sys.executable, "-m", "onlook.cli", "bench", "--only", "ingest"], capture_output=True,
                       text=True, timeout=60, cwd=tmp_path,
                       env={**os.environ, "ONLOOK_BENCHMARKS": str(tmp_path / "nowhere")})
    assert r.returncode != 0 and "benchmarks/ folder" in r.stderr and len(r.stderr.strip().splitlines()) == 1


def test_whole_process_row_times_the_watch_command_and_its_start_up(tmp_path):
    from benchmarks.ingest import bench_process
    from tests.media import scene_frames, write_clip

    clip = write_clip(tmp_path / "walk.mp4", scene_frames(seconds=3.0))
    (row,) = bench_process(clip, rounds=1)
    d = row.details
    assert row.name == "ingest speed, whole process" and d["cmd"] == "onlook bench --only process --clip walk.mp4"
    assert abs(d["video_s"] - 3.0) < 0.2
    # The full run includes everything the start-up run does, and the process really held the models.
    assert d["full_s"][0] > 0 and d["startup_s"][0] > 0 and d["peak_rss_mb"][0] > 50
    assert f"{d['video_s'] / d['full_s'][0]:.1f}x real time" in row.figure and "start-up alone" in row.figure


def test_whole_process_row_reports_a_failing_watch_in_one_line(tmp_path):
    import pytest

    from benchmarks.ingest import _timed_watch
    from onlook.errors import OnlookError

    with pytest.raises(OnlookError, match="exited"):  # the bench command prints it as one line
        _timed_watch([__import__("sys").executable, "-m", "onlook.cli", "watch", str(tmp_path / "none.mp4")],
                     dict(__import__("os").environ))
