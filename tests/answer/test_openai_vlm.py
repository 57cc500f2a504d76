"""OpenAI-compatible backend: request format (pure), then real HTTP servers on loopback.

Two servers are used:

* a scriptable OpenAI-compatible server written here (FastAPI + uvicorn, in a thread): it streams
  ``chat.completion.chunk`` SSE and can be told to reject image parts, to be slow, or to fail with
  503 a few times; it records every request so the tests can check what was sent;
* llama.cpp's server (``python -m llama_cpp.server`` from ``llama-cpp-python[server]``) running a
  tiny random-weight GGUF llama written by the fixture with the ``gguf`` package, in text-only mode.
  Skipped when ``llama_cpp`` is not installed.
"""

from __future__ import annotations

import asyncio
import base64
import json
import threading
import time
from typing import Any

import cv2
import numpy as np
import pytest
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, StreamingResponse
from media import free_port
from tiny_llama import running_llama_server

from onlook.answer.context import Context, ContextBudget, ContextFrame
from onlook.answer.dialogue import Turn
from onlook.answer.openai_vlm import (
    OpenAIAnswerer,
    build_messages,
    data_url,
    looks_like_no_vision,
    option_block,
    parse_choice,
    parse_yes_no,
)
from onlook.errors import ConfigError, ModelError

pytestmark = pytest.mark.timeout(60)


def _ctx(n: int = 3) -> Context:
    frames = tuple(ContextFrame(10.0 + 2 * i, np.full((48, 64, 3), 40 * i, np.uint8), "recent" if i else "retrieved",
                                "00:10-00:12; 1 entered (right red)" if i == 0 else "", None) for i in range(n))
    return Context("what is he carrying?", 20.0, frames, log="00:10-00:12 1 entered (right red)",
                   now="State at 00:20 per the detectors: 1 person visible.")


# --- request format (pure) -------------------------------------------------------------------------


def test_messages_carry_images_with_their_times_beside_them():
    msgs = build_messages("what is he carrying?", _ctx(3))
    assert msgs[0]["role"] == "system"
    parts = msgs[-1]["content"]
    images = [i for i, p in enumerate(parts) if p["type"] == "image_url"]
    assert len(images) == 3
    for i, idx in enumerate(images):
        label = parts[idx - 1]
        assert label["type"] == "text" and label["text"].startswith(f"Frame at 00:{10 + 2 * i:02d}")
        url = parts[idx]["image_url"]["url"]
        assert url.startswith("data:image/jpeg;base64,")
        img = cv2.imdecode(np.frombuffer(base64.b64decode(url.split(",", 1)[1]), np.uint8), cv2.IMREAD_COLOR)
        assert img.shape == (48, 64, 3)
    assert "(1 entered (right red))" in parts[images[0] - 1]["text"]  # what memory says, beside the frame
    assert "Event log" in parts[0]["text"] and "1 person visible" in parts[0]["text"]
    assert parts[-1]["text"].startswith("Question (asked at stream time 00:20): what is he carrying?")


def test_messages_options_history_text_only_and_video():
    hist = [Turn("who came in?", "a person in red at 00:10", 15.0)]
    msgs = build_messages("what colour was it?", _ctx(2), history=hist, options=["a cup", "B. a bag"])
    assert [m["role"] for m in msgs] == ["system", "user", "assistant", "user"]
    assert "who came in?" in msgs[1]["content"] and msgs[2]["content"] == "a person in red at 00:10"
    ask = msgs[-1]["content"][-1]["text"]
    assert "A. a cup\nB. a bag" in ask and "letter" in ask
    text_only = build_messages("q", _ctx(2), vision=False)
    assert isinstance(text_only[-1]["content"], str) and "base64" not in text_only[-1]["content"]
    assert "00:10 1 entered (right red)" in text_only[-1]["content"]  # frame notes survive as text
    video = build_messages("q", _ctx(3), video=True)[-1]["content"]
    vids = [p for p in video if p["type"] == "video_url"]
    assert len(vids) == 1 and not any(p["type"] == "image_url" for p in video)
    assert vids[0]["video_url"]["url"].startswith("data:video/jpeg;base64,")
    assert len(vids[0]["video_url"]["url"].split(",")) == 1 + 3  # header + one base64 JPEG per frame
    assert "00:10, 00:12, 00:14" in video[-3]["text"] and "0.5 frames per second" in video[-3]["text"]


@pytest.mark.parametrize("text,letters,options,expected", [
    ("B", ["A", "B"], None, "B"),
    ("(C) a red umbrella", ["A", "B", "C"], None, "C"),
    ("The answer is B.", ["A", "B"], None, "B"),
    ("Answer: d", ["A", "B", "C", "D"], None, "D"),
    ("a person", ["A", "B"], None, None),               # 'a' is an article, not option A
    ("He carries a bag.", ["A", "B"], ["a cup", "a bag"], "B"),
    ("Z.", ["A", "B"], None, None),
    ("", ["A"], None, None),
])
def test_parse_choice(text, letters, options, expected):
    assert parse_choice(text, letters, options) == expected


@pytest.mark.parametrize("text,expected", [("Yes, at 00:12", True), ("no.", False), ("A. yes", True),
                                           ("B", False), ("I think so", None)])
def test_parse_yes_no(text, expected):
    assert parse_yes_no(text) is expected


@pytest.mark.parametrize("status,msg,expected", [
    (400, "image input is not supported - hint: you may need to provide the mmproj", True),
    (400, "Qwen/Qwen2-7B is not a multimodal model", True),
    (500, "Invalid content type. image_url is only supported by certain models.", True),
    (400, "max_tokens must be at least 1", False),
])
def test_looks_like_no_vision(status, msg, expected):
    assert looks_like_no_vision(status, msg) is expected


def test_option_block_and_data_url():
    assert option_block(["x", "y"])[1] == ["A", "B"]
    assert data_url(np.zeros((8, 8, 3), np.uint8)).startswith("data:image/jpeg;base64,")


def test_frames_are_encoded_once_each_unless_their_owner_can_still_change_them(monkeypatch):
    import onlook.answer.openai_vlm as mod

    encoded: list[tuple[int, ...]] = []
    real = mod.data_url

    def counting(image: np.ndarray, quality: int = 80) -> str:
        encoded.append(image.shape)
        return real(image, quality)

    monkeypatch.setattr(mod, "data_url", counting)
    ctx = _ctx(3)
    for f in ctx.frames:
        f.image.setflags(write=False)  # as build_context's fitted copies and decoded keyframes are
    first, again = build_messages("q", ctx), build_messages("q", ctx, video=False)
    assert len(encoded) == 3 and first[-1]["content"] == again[-1]["content"]
    video = build_messages("q", ctx, video=True)[-1]["content"]
    assert len(encoded) == 3 and video[-2]["type"] == "video_url"  # the video form reuses them too
    mutable = _ctx(1)
    before = build_messages("q", mutable)[-1]["content"][2]["image_url"]["url"]
    mutable.frames[0].image[:] = 255  # a writeable frame is encoded as it is now
    after = build_messages("q", mutable)[-1]["content"][2]["image_url"]["url"]
    assert len(encoded) == 5 and after != before


@pytest.mark.parametrize(("chunk", "text"), [
    ({"choices": [{"index": 0, "delta": {"content": "a bag"}}]}, "a bag"),
    ({"choices": [{"index": 0, "delta": {"role": "assistant"}}]}, None),
    ({"choices": [{"index": 0, "delta": {"content": None}, "finish_reason": "stop"}]}, None),
    ({"choices": [], "usage": {"total_tokens": 3}}, None),
    ({"object": "chat.completion.chunk"}, None),
    ("not json object", None),
    ({"choices": [{"index": 0, "delta": {"content": 7}}]}, None),
])
def test_streamed_chunk_text(chunk, text):
    from onlook.answer.openai_vlm import _delta_text

    assert _delta_text(chunk) == text


def test_whole_completion_text():
    from onlook.answer.openai_vlm import _message_text

    assert _message_text({"choices": [{"message": {"role": "assistant", "content": "B. a bag"}}]}) == "B. a bag"
    assert _message_text({"choices": []}) is None and _message_text(None) is None


def test_against_the_benchmarks_stand_in_server_in_another_process(make_view):
    # The stand-in that `onlook bench --only vlm` measures against must speak the protocol the
    # client reads (chunked SSE over keep-alive HTTP/1.1), or the benchmark measures errors.
    from onlook.answer.stub_server import STUB_REPLY, stub_openai_server

    with stub_openai_server(0.0) as (url, _):
        assert url.startswith("http://127.0.0.1:")
        vlm = OpenAIAnswerer("bench", base_url=url, timeout_s=10, retries=0)
        view = make_view()
        pieces = list(vlm.stream_answer("what happened?", view))
        assert len(pieces) == len(STUB_REPLY.split()) and "".join(pieces).strip() == STUB_REPLY
        assert vlm.answer("and then?", view).text == STUB_REPLY
        vlm.client.close()


def test_constructor_validates():
    with pytest.raises(ConfigError):
        OpenAIAnswerer("")
    with pytest.raises(ConfigError):
        OpenAIAnswerer("m", timeout_s=0)


# --- a scriptable OpenAI-compatible server on loopback ------------------------------------------------


class ScriptedServer:
    """OpenAI-compatible chat server (streaming SSE) whose behaviour tests set per case."""

    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []
        self.reply = "He is carrying a blue bag."
        self.reject_images = False
        self.delay_s = 0.0
        self.fail_times = 0
        self.silent_stream_errors = False  # like llama-cpp-python: a failing stream is an empty 200
        app = FastAPI()

        @app.get("/v1/models")
        async def models() -> dict[str, Any]:
            return {"object": "list", "data": [{"id": "tiny-vlm", "object": "model"}]}

        @app.post("/v1/chat/completions")
        async def chat(request: Request) -> Any:
            body = await request.json()
            self.requests.append(body)
            if self.fail_times > 0:
                self.fail_times -= 1
                return JSONResponse({"error": {"message": "server busy", "type": "server_error"}}, status_code=503)
            has_media = any(isinstance(m.get("content"), list) and any(
                p.get("type") in ("image_url", "video_url") for p in m["content"]) for m in body["messages"])
            if self.reject_images and has_media and self.silent_stream_errors and body.get("stream"):
                return StreamingResponse(iter(()), media_type="text/event-stream")
            if self.reject_images and has_media:
                return JSONResponse({"error": {"message": "image input is not supported - hint: if this is "
                                               "unexpected, you may need to provide the mmproj",
                                               "type": "invalid_request_error"}}, status_code=400)
            if self.delay_s:
                await asyncio.sleep(self.delay_s)
            words = self.reply.split(" ")
            pieces = [w + (" " if i < len(words) - 1 else "") for i, w in enumerate(words)]

            async def sse():
                for p in pieces:
                    chunk = {"id": "c1", "object": "chat.completion.chunk", "created": 0, "model": body["model"],
                             "choices": [{"index": 0, "delta": {"content": p}, "finish_reason": None}]}
                    yield f"data: {json.dumps(chunk)}\n\n"
                end = {"id": "c1", "object": "chat.completion.chunk", "created": 0, "model": body["model"],
                       "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]}
                yield f"data: {json.dumps(end)}\n\ndata: [DONE]\n\n"

            return StreamingResponse(sse(), media_type="text/event-stream")

        self.app = app

    def media_parts(self, i: int = -1) -> list[str]:
        return [p["type"] for m in self.requests[i]["messages"] if isinstance(m.get("content"), list)
                for p in m["content"] if p["type"] != "text"]


@pytest.fixture(scope="module")
def _server_thread():
    import uvicorn

    scripted = ScriptedServer()
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(scripted.app, host="127.0.0.1", port=port, log_level="error",
                                           lifespan="off"))
    th = threading.Thread(target=server.run, daemon=True)
    th.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if time.monotonic() > deadline:
            pytest.fail("scripted server did not start")
        time.sleep(0.02)
    yield scripted, f"http://127.0.0.1:{port}/v1"
    server.should_exit = True
    th.join(5)


@pytest.fixture
def scripted(_server_thread):
    s, url = _server_thread
    s.requests.clear()
    s.reply, s.reject_images, s.delay_s, s.fail_times = "He is carrying a blue bag.", False, 0.0, 0
    s.silent_stream_errors = False
    return s, url


def test_streams_tokens_and_sends_frames_with_times(scripted, make_view):
    server, url = scripted
    vlm = OpenAIAnswerer("tiny-vlm", base_url=url, timeout_s=10, budget=ContextBudget(images=5, recent=3))
    view = make_view()
    pieces = list(vlm.stream_answer("what is the person in red carrying?", view, at=30.0))
    assert len(pieces) == 6 and "".join(pieces) == "He is carrying a blue bag."
    body = server.requests[-1]
    assert body["stream"] is True and body["model"] == "tiny-vlm"
    parts = body["messages"][-1]["content"]
    n_images = sum(p["type"] == "image_url" for p in parts)
    assert 1 <= n_images <= 5
    labels = [parts[i - 1]["text"] for i, p in enumerate(parts) if p["type"] == "image_url"]
    assert all(lab.startswith("Frame at ") for lab in labels)
    assert any(lab.startswith("Frame at 00:12") for lab in labels)  # the entry, retrieved for the question
    assert "Question (asked at stream time 00:30)" in parts[-1]["text"]


def test_answer_and_choose_return_answers(scripted, make_view):
    server, url = scripted
    vlm = OpenAIAnswerer("tiny-vlm", base_url=url, timeout_s=10)
    view = make_view()
    ans = vlm.answer("what is the person in red carrying?", view)
    assert ans.text == "He is carrying a blue bag." and not ans.abstained
    assert ans.evidence and all(e.t <= ans.at for e in ans.evidence)
    server.reply = "B. a bag, visible at 00:14"
    pick = vlm.choose("what is he carrying?", ["A. a cup", "B. a bag", "C. nothing"], view)
    assert pick.value == "B" and not pick.abstained
    assert "A. a cup\nB. a bag\nC. nothing" in server.requests[-1]["messages"][-1]["content"][-1]["text"]
    server.reply = "I cannot tell."
    unsure = vlm.choose("what is he carrying?", ["A. a cup", "B. a bag"], view)
    assert unsure.abstained and unsure.value is None


def test_video_url_form_sends_true_fps(scripted, make_view):
    server, url = scripted
    vlm = OpenAIAnswerer("tiny-vlm", base_url=url, video=True, timeout_s=10,
                         budget=ContextBudget(images=4, recent=4, dedup_distance=-1))
    vlm.answer("what happened just now?", make_view())
    body = server.requests[-1]
    assert server.media_parts() == ["video_url"]
    assert body["mm_processor_kwargs"] == {"fps": 2.0, "do_sample_frames": False}  # recent frames are 0.5 s apart


def test_no_vision_falls_back_to_text_and_stays_there(scripted, make_view):
    server, url = scripted
    server.reject_images = True
    vlm = OpenAIAnswerer("text-only", base_url=url, timeout_s=10)
    view = make_view()
    ans = vlm.answer("when did the person in red enter?", view)
    assert ans.text == "He is carrying a blue bag."
    assert len(server.requests) == 2
    assert server.media_parts(0) == [] or "image_url" in server.media_parts(0)
    fallback = server.requests[1]["messages"][-1]["content"]
    assert isinstance(fallback, str) and "Event log" in fallback and "entered" in fallback
    assert vlm.vision is False
    vlm.answer("and after that?", view)
    assert len(server.requests) == 3 and isinstance(server.requests[2]["messages"][-1]["content"], str)


def test_error_dropped_inside_a_stream_is_found_and_falls_back(scripted, make_view):
    server, url = scripted
    server.reject_images, server.silent_stream_errors = True, True
    vlm = OpenAIAnswerer("text-only", base_url=url, timeout_s=10)
    ans = vlm.answer("when did the person in red enter?", make_view())
    assert ans.text == "He is carrying a blue bag." and vlm.vision is False
    # streamed with images (empty 200), asked again without streaming (400 no vision), then text
    assert [r.get("stream") for r in server.requests] == [True, False, True]
    assert isinstance(server.requests[-1]["messages"][-1]["content"], str)


def test_retries_with_backoff_then_succeeds(scripted, make_view):
    server, url = scripted
    server.fail_times = 2
    vlm = OpenAIAnswerer("tiny-vlm", base_url=url, timeout_s=10, retries=2, backoff_s=0.1)
    t0 = time.perf_counter()
    ans = vlm.answer("what is going on?", make_view())
    assert ans.text.startswith("He is") and len(server.requests) == 3
    assert time.perf_counter() - t0 >= 0.1 + 0.2  # two backoffs: 0.1 s, then 0.2 s
    server.fail_times = 5
    with pytest.raises(ModelError, match="HTTP 503"):
        OpenAIAnswerer("tiny-vlm", base_url=url, retries=1, backoff_s=0.01).answer("q", make_view(name="s2"))


@pytest.mark.slow
def test_timeout_is_one_line_model_error(scripted, make_view):
    server, url = scripted
    server.delay_s = 3.0
    vlm = OpenAIAnswerer("tiny-vlm", base_url=url, timeout_s=0.5, retries=0)
    t0 = time.perf_counter()
    with pytest.raises(ModelError) as err:
        vlm.answer("what is going on?", make_view())
    assert time.perf_counter() - t0 < 2.5
    msg = str(err.value)
    assert "did not answer within 0.5 s" in msg and "\n" not in msg
    assert isinstance(err.value, RuntimeError)


def test_server_down_is_one_line_model_error(make_view):
    url = f"http://127.0.0.1:{free_port()}/v1"
    vlm = OpenAIAnswerer("tiny-vlm", base_url=url, retries=2, backoff_s=0.05, connect_timeout_s=1.0)
    t0 = time.perf_counter()
    with pytest.raises(ModelError) as err:
        vlm.answer("what is going on?", make_view())
    elapsed = time.perf_counter() - t0
    msg = str(err.value)
    assert msg.startswith(f"cannot reach the model server at {url}") and "is it running?" in msg
    assert "(3 attempts)" in msg and "\n" not in msg
    assert 0.15 <= elapsed < 5.0  # backoffs 0.05 + 0.1 s, connection refused at once


def test_unknown_model_and_bad_request_are_not_retried(scripted, make_view):
    server, url = scripted
    vlm = OpenAIAnswerer("tiny-vlm", base_url=url + "/nowhere", retries=3, backoff_s=1.0)
    t0 = time.perf_counter()
    with pytest.raises(ModelError, match="HTTP 404"):
        vlm.answer("q", make_view())
    assert time.perf_counter() - t0 < 1.0


def test_follow_up_uses_history_in_request_and_retrieval(scripted, make_view):
    server, url = scripted
    vlm = OpenAIAnswerer("tiny-vlm", base_url=url, timeout_s=10, budget=ContextBudget(images=4, recent=1))
    view = make_view()
    hist = [Turn("when did the person in red enter?", "at 00:12", 40.0, span=(12.0, 19.5))]
    vlm.answer("what colour was it?", view, history=hist)
    msgs = server.requests[-1]["messages"]
    assert msgs[1]["content"].startswith("when did the person in red enter?") and msgs[2]["content"] == "at 00:12"
    labels = [p["text"] for p in msgs[-1]["content"] if p["type"] == "text" and p["text"].startswith("Frame at")]
    assert any(lab.startswith("Frame at 00:12") for lab in labels)  # retrieved through the earlier question


@pytest.fixture(scope="module")
def llama_server(tmp_path_factory):
    with running_llama_server(tmp_path_factory, "llama_server.log") as url:
        yield url


@pytest.mark.slow
def test_llama_cpp_server_text_only_streams_and_falls_back(llama_server, make_view):
    view = make_view()
    vlm = OpenAIAnswerer("tiny", base_url=llama_server, timeout_s=20, retries=0, max_tokens=12,
                         budget=ContextBudget(images=2, recent=1, log_chars=300))
    pieces = list(vlm.stream_answer("when did the person in red enter?", view))
    assert vlm.vision is False  # the server refused the image parts; the log went as text
    assert pieces and all(isinstance(p, str) for p in pieces)
    ans = vlm.answer("and after that?", view)
    assert isinstance(ans.text, str) and ans.at == pytest.approx(40.0)


@pytest.mark.slow
def test_llama_cpp_server_unknown_route_and_down(llama_server, make_view):
    vlm = OpenAIAnswerer("tiny", base_url=llama_server + "/nope", retries=0, vision=False)
    with pytest.raises(ModelError, match="404"):
        vlm.answer("q", make_view())
