"""RemoteStream: the engine interface the server uses, over an executor it can only call."""

from __future__ import annotations

import threading
import time
from typing import Any

import numpy as np

from onlook.cluster.executor import Batch
from onlook.cluster.remote import RemoteStream
from onlook.types import Frame


class ScriptedExecutor:
    """Answers ``poll`` from a script of batches; ``latest`` can be made slow; counts calls."""

    def __init__(self, batches: list[Any]) -> None:
        self.batches = batches
        self.polls: list[tuple[str | None, int]] = []
        self.latest_delay = 0.0
        self.latest_calls = 0
        self.closed = False

    def poll(self, stream_id: str, epoch: str | None = None, cursor: int = 0, limit: int = 1000) -> Batch:
        self.polls.append((epoch, cursor))
        if not self.batches:
            return Batch(epoch or "e", cursor)
        b = self.batches.pop(0)
        if isinstance(b, BaseException):
            raise b
        return b

    def latest(self, stream_id: str, after_seq: int = -1) -> Any:
        self.latest_calls += 1
        time.sleep(self.latest_delay)
        frame = Frame(stream_id, after_seq + 1, float(after_seq + 1), time.time(), np.zeros((4, 4, 3), np.uint8))
        return frame, []

    def stop(self, stream_id: str) -> None:
        pass

    def close(self, stream_id: str) -> None:
        self.closed = True


def wait(pred, timeout: float = 5.0) -> None:
    end = time.monotonic() + timeout
    while not pred():
        assert time.monotonic() < end, "timed out"
        time.sleep(0.01)


def test_messages_flow_to_subscribers_and_a_worker_restart_is_followed():
    ex = ScriptedExecutor([
        Batch("e1", 2, [{"type": "status", "state": "started"}, {"type": "alert", "query": "q", "t": 1.0}]),
        ConnectionError("actor restarting"),  # a failed poll is retried, not fatal
        Batch("e2", 1, [{"type": "status", "state": "started"}], missed=0),
        Batch("e2", 2, [{"type": "status", "state": "ended"}]),
    ])
    rs = RemoteStream(ex, "cam", poll_s=0.01)
    got: list[dict] = []
    rs.subscribe(got.append)
    rs.start()
    wait(lambda: rs.done.is_set())
    rs.close()
    assert [m.get("state") or m.get("query") for m in got] == ["started", "q", "started", "ended"]
    assert rs.worker_restarts == 1 and rs.epoch == "e2" and rs.cursor == 2
    # After the restart the cursor of the new epoch is used.
    assert ("e1", 2) in ex.polls and ("e2", 1) in ex.polls
    assert ex.closed and not rs.running


def test_latest_frame_never_blocks_on_a_slow_worker():
    ex = ScriptedExecutor([])
    ex.latest_delay = 0.5
    rs = RemoteStream(ex, "cam")
    t0 = time.monotonic()
    assert rs.latest_frame() is None  # nothing fetched yet; the fetch runs in the background
    for _ in range(20):
        rs.latest_frame()
    assert time.monotonic() - t0 < 0.3  # none of the 21 calls waited for the worker
    assert ex.latest_calls == 1  # one fetch in flight at a time
    wait(lambda: rs.latest_frame() is not None)
    assert rs.latest_frame()[0].seq == 0


def test_a_failing_subscriber_does_not_stop_the_feed():
    ex = ScriptedExecutor([Batch("e", 2, [{"type": "event", "t": 1.0}, {"type": "status", "state": "ended"}])])
    rs = RemoteStream(ex, "cam", poll_s=0.01)
    seen = threading.Event()

    def bad(msg: dict) -> None:
        raise RuntimeError("boom")

    rs.subscribe(bad)
    rs.subscribe(lambda m: seen.set() if m.get("state") == "ended" else None)
    rs.start()
    assert seen.wait(5)
    rs.close()
