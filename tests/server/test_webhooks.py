"""Webhooks: alerts POSTed as JSON to a local HTTP server, retried with backoff after a 500."""

from __future__ import annotations

import asyncio
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest
from media import free_port

from onlook.server.webhooks import WebhookSender

from .helpers import start_server, wait_for, wait_state

pytestmark = [pytest.mark.timeout(60)]


class Receiver:
    """A loopback HTTP server that answers 500 to the first ``fail_first`` POSTs of each path, then 200."""

    def __init__(self, fail_first: int = 1) -> None:
        self.posts: list[tuple[str, float, dict[str, Any]]] = []
        self.fail_first = fail_first
        seen: dict[str, int] = {}
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's naming
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                outer.posts.append((self.path, time.monotonic(), body))
                seen[self.path] = seen.get(self.path, 0) + 1
                status = 500 if seen[self.path] <= outer.fail_first else 200
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", free_port()), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_port}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def receiver():
    r = Receiver(fail_first=1)
    yield r
    r.close()


def test_alerts_reach_webhooks_after_a_retry(tmp_path, media_dir, receiver):
    sender = WebhookSender(backoff_s=0.2, attempts=4, timeout_s=5)
    srv = start_server(tmp_path / "root", allow_files=[media_dir], webhooks=[f"{receiver.url}/all"],
                       webhook_sender=sender)
    try:
        with srv.client() as c:
            r = c.post("/streams", json={"source": str(media_dir / "cut.mp4"), "id": "cam", "detect_people": False,
                                         "alerts": ["a scene change"], "webhooks": [f"{receiver.url}/cam"]})
            assert r.status_code == 201, r.text
            wait_state(c, "cam", {"ended"}, 30)
            wait_for(lambda: {p for p, _, _ in receiver.posts if p == "/cam"} and
                     sum(p == "/all" for p, _, _ in receiver.posts) >= 2 and
                     sum(p == "/cam" for p, _, _ in receiver.posts) >= 2, 15, "webhook retries")
    finally:
        srv.stop()
    for path in ("/all", "/cam"):
        posts = [(t, body) for p, t, body in receiver.posts if p == path]
        (t0, first), (t1, second) = posts[:2]
        assert first == second  # the same alert, delivered again after the 500
        assert t1 - t0 >= 0.15  # after the backoff
        assert second["type"] == "alert" and second["query"] == "a scene change" and second["stream"] == "cam"
        assert second["t"] == pytest.approx(3.0, abs=0.6)
        assert second["keyframe_url"].startswith("/streams/cam/keyframes/")
    assert sender.stats["delivered"] == 2 and sender.stats["retried"] == 2 and sender.stats["failed"] == 0


def test_sender_gives_up_on_4xx_drops_oldest_and_never_blocks():
    calls: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(request.url.path)
        return httpx.Response(404 if request.url.path == "/gone" else 503)

    async def run() -> dict[str, int]:
        sender = WebhookSender(max_queue=2, attempts=3, backoff_s=0.01, workers=1,
                               transport=httpx.MockTransport(handler))
        await sender.start()
        sender.submit("http://hook.test/gone", {"n": 0})
        await asyncio.sleep(0.05)
        t = time.monotonic()
        for i in range(10):  # queue of 2: the oldest are dropped, submit returns at once
            sender.submit("http://hook.test/busy", {"n": i})
        assert time.monotonic() - t < 0.05
        await sender.close(drain_s=2.0)
        return sender.stats

    stats = asyncio.run(run())
    assert calls.count("/gone") == 1  # 404: not retried
    assert stats["dropped"] >= 7 and stats["failed"] >= 2
    assert calls.count("/busy") % 3 == 0  # each kept delivery tried 3 times (503 is retried)


def test_webhook_urls_must_be_http():
    from onlook.errors import ConfigError
    from onlook.server.webhooks import check_webhook_url

    assert check_webhook_url("https://example.test/hook") == "https://example.test/hook"
    for bad in ("ftp://x/y", "http://", "/relative", "javascript:alert(1)"):
        with pytest.raises(ConfigError):
            check_webhook_url(bad)
