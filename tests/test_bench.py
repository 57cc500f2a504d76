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
