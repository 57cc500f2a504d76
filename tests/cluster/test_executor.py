"""The executor seam without Ray: the message ring, and the in-process executor on a generated clip."""

from __future__ import annotations

import time

import pytest

from onlook.cluster import Executor, InProcessExecutor, MessageRing, StreamSpec
from onlook.config import Settings


@pytest.mark.parametrize(("maxlen", "puts", "epoch", "cursor", "expect_ns", "expect_cursor", "missed"), [
    (4, 0, None, 0, [], 0, 0),
    (4, 3, None, 0, [1, 2, 3], 3, 0),
    (4, 3, "same", 1, [2, 3], 3, 0),
    (4, 3, "same", 3, [], 3, 0),
    (4, 6, "same", 1, [3, 4, 5, 6], 6, 1),   # 2 fell out of the ring unread
    (4, 6, "other", 5, [3, 4, 5, 6], 6, 0),  # another incarnation's cursor: read all kept
])
def test_ring_reads_since_a_cursor(maxlen, puts, epoch, cursor, expect_ns, expect_cursor, missed):
    ring = MessageRing(maxlen)
    for n in range(1, puts + 1):
        ring.put({"type": "event", "n": n})
    b = ring.read(ring.epoch if epoch == "same" else epoch, cursor)
    assert [m["n"] for m in b.messages] == expect_ns
    assert (b.epoch, b.cursor, b.missed) == (ring.epoch, expect_cursor, missed)


def test_ring_read_limit_moves_the_cursor_to_the_last_returned():
    ring = MessageRing(10)
    for n in range(1, 6):
        ring.put({"n": n})
    b = ring.read(None, 0, limit=2)
    assert [m["n"] for m in b.messages] == [1, 2] and b.cursor == 2
    assert [m["n"] for m in ring.read(b.epoch, b.cursor).messages] == [3, 4, 5]


def test_in_process_executor_runs_a_stream(make_clip, tmp_path):
    clip = make_clip(fps=10)
    ex = InProcessExecutor()
    assert isinstance(ex, Executor)
    ex.open(StreamSpec("clip", str(clip), Settings(store=tmp_path / "s", fps=2, realtime=False),
                       alerts=("a scene change",)))
    try:
        end = time.monotonic() + 30
        while ex.status("clip")["state"] == "running" and time.monotonic() < end:
            time.sleep(0.1)
        st = ex.status("clip")
        assert st["state"] == "ended" and st["restarts"] == 0 and st["alert_queries"] == ["a scene change"]
        assert ex.ask("clip", "what happened so far?").text
        batch = ex.poll("clip")
        assert batch.messages and all(m["stream"] == "clip" for m in batch.messages)
        assert batch.messages[-1]["type"] == "status" and batch.messages[-1]["state"] == "ended"
    finally:
        ex.shutdown()
    assert ex.workers == {}
