"""The web page in a real browser: Playwright driving Debian's Chromium against a real uvicorn.

One test walks what a user does on real footage (``vtest.avi`` played in real
time): add the stream through the page's form, watch the live image change,
see alerts arrive on the timeline and in the alerts panel, ask a question and
read the answer as it streams in, open the keyframe behind a time in the
answer, and reload the page (the timeline comes back from the stream's
history). A second test checks the API-key prompt of a server that needs one.
Screenshots go to ``test-artifacts/`` (git-ignored) and to the test's tmp_path.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest

from .helpers import LiveServer, start_server, wait_for

pytestmark = [pytest.mark.browser, pytest.mark.timeout(120)]

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
ALERT = "a person enters the view"
WAIT_MS = 30_000  # the longest any single page wait may take


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    if not CHROMIUM.is_file():
        pytest.skip("Debian's chromium is not installed (/usr/bin/chromium): apt-get install chromium")
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed: pip install playwright")
    with sync_api.sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, timeout=WAIT_MS)
        try:
            yield b
        finally:
            b.close()


@pytest.fixture
def page_errors() -> list[str]:
    return []


@pytest.fixture
def open_page(browser: Any, page_errors: list[str]) -> Iterator[Callable[[str], Any]]:
    """Factory: a fresh 1280x800 page at ``url``; uncaught page errors are collected in ``page_errors``."""
    contexts: list[Any] = []

    def open_(url: str) -> Any:
        ctx = browser.new_context(viewport={"width": 1280, "height": 800})
        contexts.append(ctx)
        page = ctx.new_page()
        page.set_default_timeout(WAIT_MS)
        page.on("pageerror", lambda e: page_errors.append(str(e)))
        page.goto(url, wait_until="domcontentloaded")
        return page

    yield open_
    for ctx in contexts:
        ctx.close()  # closes the MJPEG and SSE connections before the server stops


def save_screenshot(page: Any, name: str, tmp_path: Path) -> Path:
    out = tmp_path / name
    page.screenshot(path=str(out))
    ARTIFACTS.mkdir(exist_ok=True)
    shutil.copyfile(out, ARTIFACTS / name)
    return out


def gray(png: bytes) -> np.ndarray:
    return cv2.imdecode(np.frombuffer(png, np.uint8), cv2.IMREAD_GRAYSCALE)


def changed_share(a: np.ndarray, b: np.ndarray) -> float:
    """Share of pixels whose grey level differs by more than 20 (1.0 when the sizes differ)."""
    if a.shape != b.shape:
        return 1.0
    return float((np.abs(a.astype(np.int16) - b.astype(np.int16)) > 20).mean())


@pytest.fixture
def vtest_server(tmp_path: Path, footage: Callable[[str], Path]) -> Iterator[tuple[LiveServer, Path]]:
    clip = footage("vtest.avi")
    srv = start_server(tmp_path / "root", allow_files=[clip.parent])
    yield srv, clip
    srv.stop()


@pytest.mark.footage
def test_page_adds_a_stream_shows_it_live_answers_and_alerts(vtest_server, open_page, page_errors, tmp_path):
    srv, clip = vtest_server
    cap = cv2.VideoCapture(str(clip))
    clip_aspect = cap.get(cv2.CAP_PROP_FRAME_WIDTH) / cap.get(cv2.CAP_PROP_FRAME_HEIGHT)
    cap.release()

    page = open_page(srv.url + "/")
    assert page.title() == "onlook"
    page.wait_for_selector("#conn[data-state=live]")  # the SSE feed of /events is open
    assert page.is_visible("#no-streams")

    # --- add the stream through the form -------------------------------------------------------
    page.fill("#add-source", str(clip))
    page.fill("#add-id", "vtest")
    page.fill("#add-fps", "2")
    page.fill("#add-alerts", ALERT)
    page.check("#add-realtime")
    page.click("#add-submit")
    page.wait_for_selector(".stream[data-id=vtest][aria-current=true]")
    assert page.inner_text("#add-error") == ""
    with srv.client() as c:
        st = c.get("/streams/vtest").json()
    assert st["alerts"] == [ALERT] and st["options"]["realtime"] is True and st["options"]["fps"] == 2

    # --- the live image shows real frames, and they change -------------------------------------
    live = page.locator("#live")
    assert "/streams/vtest/live.mjpg?boxes=true" in live.get_attribute("src")

    def frame_shown() -> bool:  # a frame of the clip (4:3), not the 16:9 "waiting" placeholder
        w, h = page.evaluate("() => { const i = document.getElementById('live');"
                             " return [i.naturalWidth, i.naturalHeight]; }")
        return bool(w and h and abs(w / h - clip_aspect) < 0.02)

    wait_for(frame_shown, 20, "a frame of the clip in the live view", interval=0.2)
    first = gray(live.screenshot())
    # A later frame: people have moved (a re-sent or re-encoded picture would change almost no pixels).
    wait_for(lambda: changed_share(first, gray(live.screenshot())) > 0.005, 15, "the live image to change",
             interval=0.5)

    # --- an alert appears on the timeline and in the alerts panel -----------------------------
    page.wait_for_selector("#timeline .alert-mark")
    page.wait_for_selector("#alert-list li")
    first_alert = page.inner_text("#alert-list li")
    assert ALERT in first_alert
    label = page.get_attribute("#timeline .alert-mark", "aria-label")
    assert label.startswith("Alert at ") and ALERT in label
    assert int(page.inner_text("#alert-count")) >= 1
    page.wait_for_selector("#timeline .segment-mark")  # events (segments) are drawn too

    # --- ask: the answer streams into the chat box ---------------------------------------------
    question = "when did a person appear?"
    page.fill("#chat-input", question)
    with page.expect_response(lambda r: r.url.endswith("/streams/vtest/ask")) as resp_info:
        page.press("#chat-input", "Enter")
    resp = resp_info.value
    assert resp.status == 200 and resp.headers["content-type"].startswith("text/event-stream")
    answer = page.locator(".chat-log:not([hidden]) .msg.a").last
    page.wait_for_selector(".chat-log:not([hidden]) .msg.a[aria-busy=false]")
    text = answer.locator(".text").inner_text()
    assert "person" in text.lower() or "someone" in text.lower(), text
    assert int(answer.get_attribute("data-chunks")) >= 2, "the answer did not arrive in chunks"
    assert "confidence" in answer.locator(".meta").inner_text()
    assert page.inner_text(".chat-log:not([hidden]) .msg.q") == question

    # The page shows exactly the answer the server sent.
    final = [json.loads(line[5:]) for line in resp.text().splitlines() if line.startswith("data:")][-1]
    assert final["type"] == "answer" and final["text"] == text

    # --- a time in the answer opens its keyframe -----------------------------------------------
    stamp = answer.locator("button.ts").first
    stamp.wait_for()
    stamp.click()
    page.wait_for_selector("#evidence[open] #evidence-img:not([hidden])")
    wait_for(lambda: page.evaluate("() => document.getElementById('evidence-img').naturalWidth") > 0,
             10, "the evidence keyframe to load", interval=0.2)
    assert "/keyframes/" in page.get_attribute("#evidence-img", "src")
    save_screenshot(page, "page-evidence.png", tmp_path)
    page.keyboard.press("Escape")
    page.wait_for_selector("#evidence", state="hidden")

    # Let a few more alerts and events arrive, then keep the picture of the whole page.
    wait_for(lambda: page.locator("#timeline .alert-mark").count() >= 3, 20, "three alerts on the timeline",
             interval=0.2)
    shot = save_screenshot(page, "page.png", tmp_path)
    assert shot.stat().st_size > 20_000

    # --- after a reload the timeline and alerts come back from the stream's history -----------
    n_before = page.locator("#timeline .alert-mark").count()
    page.reload(wait_until="domcontentloaded")
    page.wait_for_selector(".stream[data-id=vtest][aria-current=true]")
    wait_for(lambda: page.locator("#timeline .alert-mark").count() >= n_before, 10,
             "the timeline's alerts to come back after a reload", interval=0.2)
    assert page.locator("#alert-list li").count() >= n_before

    assert not page_errors, page_errors


@pytest.fixture
def keyed_server(tmp_path: Path) -> Iterator[LiveServer]:
    srv = start_server(tmp_path / "root", api_key="s3cret")
    yield srv
    srv.stop()


def test_page_asks_for_the_api_key(keyed_server, open_page, page_errors):
    page = open_page(keyed_server.url + "/")
    page.wait_for_selector("#key-form:not([hidden])")  # GET /streams answered 401
    assert "needs an API key" in page.inner_text("#key-note")
    assert page.evaluate("() => document.activeElement.id") == "api-key"
    page.fill("#api-key", "wrong")
    page.press("#api-key", "Enter")
    page.wait_for_selector("#key-form:not([hidden])")
    wait_for(lambda: "refused" in page.inner_text("#key-note"), 10, "the wrong key to be refused", interval=0.2)
    page.fill("#api-key", "s3cret")
    page.press("#api-key", "Enter")
    page.wait_for_selector("#conn[data-state=live]")
    assert page.is_hidden("#key-form") and page.is_visible("#no-streams")
    assert page.evaluate("() => localStorage.getItem('onlook.apiKey')") == "s3cret"
    # Kept across a reload.
    page.reload(wait_until="domcontentloaded")
    page.wait_for_selector("#conn[data-state=live]")
    assert page.is_hidden("#key-form")
    assert not page_errors, page_errors
