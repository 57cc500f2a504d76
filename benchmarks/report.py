"""BENCHMARKS.md: rows rendered as a markdown table, and a file updated one command's rows at a time.

Measuring is elsewhere (every part returns :class:`~benchmarks.results.BenchResult`
rows); this module only writes text.
"""

from __future__ import annotations

import os
import platform
import time
from collections.abc import Sequence
from pathlib import Path

from benchmarks.results import BenchResult

__all__ = ["merge_rows", "render_markdown", "row", "write_markdown"]

HEADER = ("| benchmark | figure | target | met | command for this row alone |", "|---|---|---|---|---|")


def row(r: BenchResult, command: str) -> str:
    """One table row; its last column is the command that produced it (``details["cmd"]`` or ``command``)."""
    met = "yes" if r.ok else ("no" if r.ok is not None else "-")
    return f"| {r.name} | {r.figure} | {r.target} | {met} | `{r.details.get('cmd', command)}` |"


def render_markdown(results: Sequence[BenchResult], command: str, *, note: str = "") -> str:
    """A new BENCHMARKS.md: what produced it, on which machine, and the table.

    Args:
        results: The rows.
        command: The command that ran them.
        note: A sentence to add to the introduction (e.g. which footage was used).
    """
    import cv2

    intro = (f"Produced by `{command}` on {time.strftime('%Y-%m-%d')}, "
             f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}, "
             f"OpenCV {cv2.__version__}. Every ratio compares two measurements taken in the same run."
             + (f" {note}" if note else ""))
    lines = ["# Benchmarks", "", intro, "", *HEADER, *(row(r, command) for r in results)]
    return "\n".join(lines) + "\n"


def merge_rows(text: str, results: Sequence[BenchResult], command: str) -> str | None:
    """``text`` (a BENCHMARKS.md) with the rows of these results' commands replaced, everything else kept.

    A row belongs to the command in its last column, so the rows of
    ``onlook bench --only vlm`` replace the VLM rows (where they were) and the
    other rows, the introduction and the notes stay as they are. Rows of a
    command the table has none of yet go after its last row.

    Returns:
        The new text, or None when ``text`` holds no benchmark table.
    """
    old = text.splitlines()
    if not any(line.startswith("| benchmark |") for line in old):
        return None
    new = [row(r, command) for r in results]
    cmds = tuple({f"`{r.details.get('cmd', command)}`" for r in results})
    out: list[str] = []
    placed = False
    for line in old:
        if line.startswith("| ") and line.rstrip().rstrip("|").rstrip().endswith(cmds):
            if not placed:
                out += new
                placed = True
            continue
        out.append(line)
    if not placed:
        last = max(i for i, line in enumerate(out) if line.startswith("| "))
        out[last + 1:last + 1] = new
    return "\n".join(out) + "\n"


def write_markdown(results: Sequence[BenchResult], path: Path, command: str, *, note: str = "") -> None:
    """Update ``path`` with these rows (see :func:`merge_rows`), or write it new when it holds no table."""
    merged = merge_rows(path.read_text(), results, command) if path.is_file() else None
    path.write_text(merged if merged is not None else render_markdown(results, command, note=note))
