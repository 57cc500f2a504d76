"""The kill -9 fault injection (benchmarks.faults_kill): a watcher killed mid-stream loses no committed row."""

from __future__ import annotations

import json

import pytest

from benchmarks.faults_kill import KillRound, kill_rounds, main, summarize

FAST = ("--no-faces", "--no-ocr", "--no-people")


@pytest.mark.slow
@pytest.mark.timeout(240)
def test_kill_9_loses_no_committed_row(make_clip, tmp_path):
    clip = make_clip(seconds=30, cut_at=1.0)
    rounds = kill_rounds(clip, tmp_path / "st", rounds=2, min_s=1.0, max_s=2.5, seed=3, watch_args=FAST,
                         start_timeout_s=90)
    assert [r.error for r in rounds] == ["", ""]
    assert all(r.rows_committed > 0 for r in rounds)
    assert rounds[1].rows_committed > rounds[0].rows_committed  # the second watcher carried the store on
    assert sum(r.rows_lost for r in rounds) == 0 and sum(r.printed_lost for r in rounds) == 0
    assert all(r.problems == () for r in rounds)
    s = summarize(rounds)
    assert s["rows_lost"] == 0 and s["rounds"] == 2 and s["reopen_s_max"] is not None


def test_summary_counts_losses_and_failed_rounds():
    a = KillRound(1, 2.0, 10, 0, 0, 0.01, 1.5, 1)
    b = KillRound(2, 3.0, 25, 2, 1, 0.03, 2.5, 0, ("integrity_check: x",), "", {"frames": 2})
    s = summarize([a, b])
    assert (s["rows_committed"], s["rows_lost"], s["printed_lost"], s["rounds_failed"]) == (25, 2, 1, 0)
    assert (s["reopen_s_median"], s["reopen_s_max"], s["startup_s_median"]) == (0.02, 0.03, 2.0)
    assert s["problems"] == ["integrity_check: x"]
    json.dumps(s)


def test_a_missing_clip_is_one_line(tmp_path, capsys):
    assert main([str(tmp_path / "nope.mp4"), "--rounds", "1"]) == 2
    err = capsys.readouterr().err
    assert "no such file" in err and len(err.strip().splitlines()) == 1
