"""Confirm candidate alerts with one VLM call before they fire: cheap trigger, expensive check.

Perception proposes an alert cheaply on every frame ("a person enters the
view"); a vision-language model then looks at the moment and answers yes or
no. Only confirmed alerts fire. The check is rate-limited (at most
``max_per_minute`` calls, and per query at most one every ``min_interval_s``
of stream time), and runs in its own worker thread, so ingest never waits
for the model: a confirmed alert is emitted a model-latency later.

What happens when the model cannot be asked (rate limit, full queue, model
error) is a policy: ``when_unchecked="fire"`` (default: never lose an alert
because the checker is busy) or ``"drop"``.

Example:
    >>> confirmer = AlertConfirmer(OpenAIAnswerer("Qwen/Qwen2.5-VL-7B-Instruct"))  # doctest: +SKIP
    >>> engine = StreamEngine("rtsp://cam/1", alerts=["a person enters the view"])  # doctest: +SKIP
    >>> engine.confirmer = confirmer                                                # doctest: +SKIP
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from onlook.errors import ConfigError, OnlookError
from onlook.types import Alert, format_ts

__all__ = ["AlertConfirmer", "Verdict", "confirm_question"]

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Verdict:
    """What the checker decided about one candidate alert.

    Attributes:
        fire: Whether the alert fires.
        checked: Whether the model was actually asked.
        reason: ``"confirmed"``, ``"rejected"``, ``"rate-limited"``, ``"busy"``,
            ``"unclear"`` or ``"error: ..."``.
        text: The model's reply, when it was asked.
        latency_s: How long the check took.
    """

    fire: bool
    checked: bool
    reason: str
    text: str = ""
    latency_s: float = 0.0


def confirm_question(query: str) -> str:
    """The yes/no question asked about a candidate alert (pure).

    Example:
        >>> confirm_question("a person enters the view")
        'Look at the most recent frame. Does it show this happening: "a person enters the view"?'
    """
    return f'Look at the most recent frame. Does it show this happening: "{query}"?'


class AlertConfirmer:
    """Ask a model to confirm candidate alerts, rate-limited, off the ingest thread.

    Args:
        answerer: Anything with ``choose(question, options, view, at=)``
            (the VLM answerers; the extractive one works too, for tests).
        max_per_minute: Most model calls per wall-clock minute.
        min_interval_s: Per query, stream seconds between two checks; a
            candidate sooner than that after the last check is not checked.
        when_unchecked: ``"fire"`` or ``"drop"`` a candidate that is not checked.
        queue_size: Candidates waiting for the model; beyond it they are unchecked.
        clock: Wall clock (a fake in tests).

    Raises:
        ConfigError: a value is invalid.
    """

    def __init__(self, answerer: Any, *, max_per_minute: int = 6, min_interval_s: float = 10.0,
                 when_unchecked: str = "fire", queue_size: int = 8,
                 clock: Callable[[], float] = time.monotonic) -> None:
        if when_unchecked not in ("fire", "drop"):
            raise ConfigError(f"when_unchecked must be 'fire' or 'drop', got {when_unchecked!r}")
        if max_per_minute < 1 or min_interval_s < 0 or queue_size < 1:
            raise ConfigError("max_per_minute and queue_size must be >= 1, min_interval_s >= 0")
        self.answerer = answerer
        self.max_per_minute = max_per_minute
        self.min_interval_s = min_interval_s
        self.when_unchecked = when_unchecked
        self.clock = clock
        self._calls: deque[float] = deque()
        self._last_t: dict[str, float] = {}
        self._lock = threading.Lock()
        self._queue: queue.Queue[tuple[Alert, Any, Callable[[Alert, Verdict], None]] | None] = queue.Queue(queue_size)
        self._thread: threading.Thread | None = None
        self.verdicts: deque[tuple[Alert, Verdict]] = deque(maxlen=200)
        self.stats = {"candidates": 0, "checked": 0, "confirmed": 0, "rejected": 0, "unchecked": 0}

    # --- rate limiting (pure given the clock) ---------------------------------------------------------

    def _admit(self, alert: Alert) -> str | None:
        """Reserve a model call for ``alert``; None when admitted, else why not."""
        with self._lock:
            now = self.clock()
            while self._calls and now - self._calls[0] >= 60.0:
                self._calls.popleft()
            last = self._last_t.get(alert.query)
            if last is not None and 0 <= alert.t - last < self.min_interval_s:
                return "rate-limited"
            if len(self._calls) >= self.max_per_minute:
                return "rate-limited"
            self._calls.append(now)
            self._last_t[alert.query] = alert.t
            return None

    def _unchecked(self, reason: str) -> Verdict:
        self.stats["unchecked"] += 1
        return Verdict(self.when_unchecked == "fire", False, reason)

    # --- checking -------------------------------------------------------------------------------------

    def check(self, alert: Alert, view: Any) -> Verdict:
        """Decide about one candidate now, in the caller's thread (rate limit applies)."""
        self.stats["candidates"] += 1
        why = self._admit(alert)
        if why is not None:
            return self._record(alert, self._unchecked(why))
        return self._record(alert, self._ask(alert, view))

    def _ask(self, alert: Alert, view: Any) -> Verdict:
        from onlook.answer.openai_vlm import parse_yes_no

        t0 = time.perf_counter()
        try:
            ans = self.answerer.choose(confirm_question(alert.query), ["A. yes", "B. no"], view, at=alert.t)
        except OnlookError as e:
            log.warning("alert check for %r at %s failed: %s", alert.query, format_ts(alert.t), e)
            return self._unchecked(f"error: {e}")
        dt = time.perf_counter() - t0
        self.stats["checked"] += 1
        yes = {"A": True, "B": False}.get(str(ans.value)) if ans.value is not None else parse_yes_no(ans.text)
        if yes is None:
            self.stats["unchecked"] += 1
            return Verdict(self.when_unchecked == "fire", True, "unclear", ans.text, dt)
        self.stats["confirmed" if yes else "rejected"] += 1
        return Verdict(yes, True, "confirmed" if yes else "rejected", ans.text, dt)

    def _record(self, alert: Alert, v: Verdict) -> Verdict:
        self.verdicts.append((alert, v))
        return v

    # --- the engine's hook: asynchronous ----------------------------------------------------------------

    def submit(self, alert: Alert, view: Any, on_verdict: Callable[[Alert, Verdict], None]) -> None:
        """Queue a candidate for checking; ``on_verdict(alert, verdict)`` is called from the worker.

        Never blocks: a candidate arriving while the queue is full is decided
        at once by the ``when_unchecked`` policy (in the caller's thread).
        """
        self._ensure_worker()
        try:
            self._queue.put_nowait((alert, view, on_verdict))
        except queue.Full:
            self.stats["candidates"] += 1
            on_verdict(alert, self._record(alert, self._unchecked("busy")))

    def _ensure_worker(self) -> None:
        if self._thread is None or not self._thread.is_alive():
            self._thread = threading.Thread(target=self._work, name="onlook-confirm", daemon=True)
            self._thread.start()

    def _work(self) -> None:
        while True:
            item = self._queue.get()
            try:
                if item is None:
                    return
                alert, view, on_verdict = item
                try:
                    verdict = self.check(alert, view)
                except Exception as e:  # a bug in the checker must not kill the worker
                    log.exception("alert check failed")
                    verdict = self._unchecked(f"error: {e}")
                try:
                    on_verdict(alert, verdict)
                except Exception:
                    log.exception("alert verdict callback failed")
            finally:
                self._queue.task_done()

    def drain(self, timeout: float = 30.0) -> bool:
        """Wait (bounded) until every queued candidate is decided; True if it finished."""
        deadline = time.monotonic() + timeout
        while self._queue.unfinished_tasks:
            if time.monotonic() > deadline:
                return False
            time.sleep(0.01)
        return True

    def close(self, timeout: float = 5.0) -> None:
        """Stop the worker after the queued candidates (bounded wait)."""
        if self._thread is not None and self._thread.is_alive():
            try:
                self._queue.put(None, timeout=timeout)
            except queue.Full:
                return
            self._thread.join(timeout)
