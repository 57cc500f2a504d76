"""Webhooks: POST alerts as JSON to URLs, off the ingest path, retried with backoff.

Ingest never waits for a webhook: the stream manager hands each alert to
:meth:`WebhookSender.submit` on the event loop, which only appends to a
bounded queue (the oldest delivery is dropped, and counted, when it is full).
A few worker tasks deliver from the queue; a delivery that fails with a
connection error, a timeout, 408, 429 or a 5xx is retried after
``backoff_s``, then twice that, up to ``backoff_max_s``, ``attempts`` times in
all. Other 4xx answers are not retried (the receiver said the request itself
is wrong).

A delivery submitted with a :class:`~onlook.sources.netpolicy.NetPolicy` (a
client's per-stream webhook) is checked before each attempt: its host is
resolved, every address checked, and the POST goes to the checked address with
``Host`` and the TLS server name kept (httpx's ``sni_hostname``), so a DNS answer
that changes after the check cannot send it elsewhere. A refused target is not
retried; why is logged, never told to the client.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any
from urllib.parse import urlsplit

import httpx

from onlook.errors import ConfigError, SourceError
from onlook.server.protocol import dumps
from onlook.sources.netpolicy import NetPolicy

__all__ = ["WebhookSender", "check_webhook_url"]

log = logging.getLogger(__name__)


def check_webhook_url(url: str) -> str:
    """Return ``url`` if it is an absolute http(s) URL.

    Raises:
        ConfigError: it is not.
    """
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ConfigError(f"webhook {url!r} is not an http(s):// URL")
    return url


class WebhookSender:
    """Deliver JSON payloads to webhook URLs from background tasks.

    Args:
        max_queue: Deliveries waiting at most; the oldest is dropped beyond.
        attempts: Tries per delivery (1 = no retry).
        backoff_s: Delay before the first retry; doubles on each retry.
        backoff_max_s: Largest delay between retries.
        timeout_s: Timeout of one POST.
        workers: Deliveries in flight at once.
        transport: httpx transport (tests may pass ``httpx.MockTransport``).
    """

    def __init__(self, *, max_queue: int = 1000, attempts: int = 5, backoff_s: float = 0.5,
                 backoff_max_s: float = 30.0, timeout_s: float = 5.0, workers: int = 2,
                 transport: httpx.AsyncBaseTransport | None = None) -> None:
        if attempts < 1 or max_queue < 1 or workers < 1:
            raise ConfigError("webhook attempts, queue size and workers must be >= 1")
        self.max_queue = max_queue
        self.attempts = attempts
        self.backoff_s = backoff_s
        self.backoff_max_s = backoff_max_s
        self.timeout_s = timeout_s
        self.workers = workers
        self._transport = transport
        self._queue: asyncio.Queue[tuple[str, bytes, NetPolicy | None]] | None = None
        self._client: httpx.AsyncClient | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self.stats = {"queued": 0, "delivered": 0, "failed": 0, "retried": 0, "dropped": 0}

    async def start(self) -> None:
        """Start the worker tasks (on the running event loop)."""
        self._queue = asyncio.Queue(self.max_queue)
        self._client = httpx.AsyncClient(timeout=self.timeout_s, follow_redirects=False, transport=self._transport,
                                         headers={"User-Agent": "onlook-webhook"})
        self._tasks = [asyncio.create_task(self._worker(), name=f"onlook-webhook-{i}") for i in range(self.workers)]

    def submit(self, url: str, payload: dict[str, Any], *, policy: NetPolicy | None = None) -> None:
        """Queue one delivery; never blocks. Call on the event loop's thread.

        Args:
            url: Where to POST.
            payload: The JSON body.
            policy: Check (and pin) the target with it before each attempt; None
                posts to the URL as it is (the operator's own webhooks).
        """
        if self._queue is None:
            return
        body = dumps(payload).encode()
        if self._queue.full():
            with contextlib.suppress(asyncio.QueueEmpty):
                self._queue.get_nowait()
                self._queue.task_done()
                self.stats["dropped"] += 1
        self._queue.put_nowait((url, body, policy))
        self.stats["queued"] += 1

    async def close(self, drain_s: float = 2.0) -> None:
        """Give queued deliveries up to ``drain_s`` to finish, then stop."""
        if self._queue is not None and drain_s > 0:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._queue.join(), drain_s)
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self._tasks = []
        if self._client is not None:
            await self._client.aclose()
            self._client = None
        self._queue = None

    async def _worker(self) -> None:
        assert self._queue is not None
        queue = self._queue
        while True:
            url, body, policy = await queue.get()
            try:
                await self._deliver(url, body, policy)
            except Exception:  # a bug here must not kill the worker
                log.exception("webhook delivery to %s crashed", url)
            finally:
                queue.task_done()

    async def _deliver(self, url: str, body: bytes, policy: NetPolicy | None = None) -> None:
        assert self._client is not None
        delay = self.backoff_s
        why = ""
        for attempt in range(self.attempts):
            if attempt:
                self.stats["retried"] += 1
                await asyncio.sleep(delay)
                delay = min(delay * 2, self.backoff_max_s)
            target, headers = url, {"Content-Type": "application/json"}
            extensions: dict[str, Any] = {}
            if policy is not None:
                try:
                    target, pinned, extensions = await asyncio.to_thread(policy.webhook_target, url)
                except SourceError as e:
                    why = f"refused: {e}"
                    break
                headers.update(pinned)
            try:
                r = await self._client.post(target, content=body, headers=headers, extensions=extensions)
            except httpx.HTTPError as e:
                why = f"{type(e).__name__}: {e}"
                continue
            if r.status_code < 300:
                self.stats["delivered"] += 1
                return
            why = f"HTTP {r.status_code}"
            if 400 <= r.status_code < 500 and r.status_code not in (408, 429):
                break
        self.stats["failed"] += 1
        log.warning("webhook %s not delivered: %s", url, why)
