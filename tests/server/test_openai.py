"""The OpenAI-compatible API (/v1) with the real ``openai`` client against a real uvicorn on 127.0.0.1.

The stream is vtest.avi (real footage) ingested as fast as it decodes and
then ended, so every answer below is about a fixed memory.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Iterator
from typing import Any

import httpx
import openai
import pytest

from onlook.answer.base import AnswerStream, BaseAnswerer
from onlook.errors import ModelError, QueryError
from onlook.server.protocol_openai import ChatMessage
from onlook.server.serving_openai import split_messages, truncate_tokens
from onlook.types import Answer

from .helpers import LiveServer, start_server, wait_state

pytestmark = [pytest.mark.timeout(90)]

KEY = "test-key-openai"
ENTERED = "how many people entered so far?"


@pytest.fixture(scope="module")
def oai(server: LiveServer) -> Iterator[openai.OpenAI]:
    with openai.OpenAI(base_url=f"{server.url}/v1", api_key="unused", max_retries=0, timeout=20.0) as c:
        yield c


@pytest.fixture
def vtest(server: LiveServer, client: httpx.Client, footage) -> str:
    """The first 30 s of vtest.avi, ingested (not paced) once per module and ended; returns the stream id."""
    clip = footage("vtest.avi")
    if client.get("/streams/vtest").status_code == 404:
        r = client.post("/streams", json={"source": str(clip), "id": "vtest", "until": 30, "fps": 2})
        assert r.status_code == 201, r.text
    wait_state(client, "vtest", {"ended"}, 60)
    return "vtest"


def ask(oai: openai.OpenAI, content: Any, model: str = "vtest", **kw: Any) -> Any:
    return oai.chat.completions.create(model=model, messages=[{"role": "user", "content": content}], **kw)


# --- pure parts ------------------------------------------------------------------------------------


def _msgs(*pairs: tuple[str, Any]) -> list[ChatMessage]:
    return [ChatMessage.model_validate({"role": r, "content": c}) for r, c in pairs]


@pytest.mark.parametrize(("messages", "question", "history", "error"), [
    (_msgs(("user", "how many?")), "how many?", [], None),
    (_msgs(("system", "be brief"), ("user", "a?"), ("assistant", "A"), ("user", "b?")),
     "b?", [{"question": "a?", "answer": "A"}], None),
    # consecutive user messages form one question; an unanswered one is not a turn
    (_msgs(("user", "a"), ("user", "b?"), ("assistant", "B"), ("user", "c?"), ("user", "d?")),
     "d?", [{"question": "a\nb?", "answer": "B"}], None),
    # an assistant prefill after the last user message is ignored
    (_msgs(("user", "a?"), ("assistant", "partial")), "a?", [], None),
    (_msgs(("user", [{"type": "text", "text": "how"}, {"type": "image_url"}, {"type": "text", "text": "many?"}])),
     "how\nmany?", [], None),
    (_msgs(("assistant", "hello")), None, None, "no 'user' message"),
    (_msgs(("user", "  ")), None, None, "no text"),
    (_msgs(("user", None)), None, None, "no text"),
])
def test_split_messages(messages, question, history, error):
    if error:
        with pytest.raises(QueryError, match=error):
            split_messages(messages)
        return
    assert split_messages(messages) == (question, history)


@pytest.mark.parametrize(("text", "limit", "expected"), [
    ("6 people entered the view.", None, ("6 people entered the view.", False)),
    ("6 people entered the view.", 3, ("6 people entered", True)),
    ("6 people entered the view.", 6, ("6 people entered the view.", False)),  # 5 words + '.'
    ("at 00:12, then", 3, ("at 00:", True)),
    ("", 1, ("", False)),
])
def test_truncate_tokens(text, limit, expected):
    assert truncate_tokens(text, limit) == expected


# --- models -----------------------------------------------------------------------------------------


@pytest.mark.footage
def test_models_lists_streams(vtest, oai):
    models = oai.models.list().data
    assert [m.id for m in models] == ["vtest"]
    m = models[0]
    assert m.object == "model" and m.owned_by == "onlook" and abs(m.created - time.time()) < 600
    assert oai.models.retrieve("vtest").id == "vtest"
    with pytest.raises(openai.NotFoundError):
        oai.models.retrieve("nope")


# --- chat completions -------------------------------------------------------------------------------


@pytest.mark.footage
def test_chat_completion_answers_about_the_stream(vtest, oai, client):
    r = ask(oai, ENTERED)
    assert r.object == "chat.completion" and r.model == "vtest" and r.id.startswith("chatcmpl-")
    (choice,) = r.choices
    assert choice.finish_reason == "stop" and choice.message.role == "assistant"
    # The same answer as onlook's own ask endpoint: the stream's answerer, over the same memory.
    direct = client.post("/streams/vtest/ask", json={"question": ENTERED}).json()
    assert choice.message.content == direct["text"]
    assert "people entered" in choice.message.content
    u = r.usage
    assert u.prompt_tokens == 7 and u.completion_tokens > 5 and u.total_tokens == u.prompt_tokens + u.completion_tokens
    info = r.onlook  # onlook's extension: what the answer rests on
    assert info["stream"] == "vtest" and not info["abstained"] and info["value"] >= 2
    assert info["evidence"][0]["keyframe_url"].startswith("/streams/vtest/keyframes/")


@pytest.mark.footage
def test_chat_completion_streamed(vtest, oai, server):
    whole = ask(oai, ENTERED).choices[0].message.content
    chunks = list(ask(oai, ENTERED, stream=True, stream_options={"include_usage": True}))
    assert all(c.object == "chat.completion.chunk" and c.model == "vtest" for c in chunks)
    assert len({c.id for c in chunks}) == 1
    assert chunks[0].choices[0].delta.role == "assistant"
    content = [c.choices[0].delta.content for c in chunks if c.choices and c.choices[0].delta.content]
    assert len(content) >= 2 and "".join(content) == whole
    finish = [c for c in chunks if c.choices and c.choices[0].finish_reason]
    assert len(finish) == 1 and finish[0].choices[0].finish_reason == "stop"
    assert chunks[-1].choices == [] and chunks[-1].usage.completion_tokens > 5

    # The wire format the client hid: SSE data lines, ending with [DONE].
    with httpx.Client(timeout=20.0) as c, c.stream(
            "POST", f"{server.url}/v1/chat/completions",
            json={"model": "vtest", "stream": True, "messages": [{"role": "user", "content": ENTERED}]}) as r:
        assert r.status_code == 200 and r.headers["content-type"].startswith("text/event-stream")
        lines = [line for line in r.iter_lines() if line]
    assert all(line.startswith("data: ") for line in lines)
    assert lines[-1] == "data: [DONE]"
    assert json.loads(lines[-2][6:])["choices"][0]["finish_reason"] == "stop"


@pytest.mark.footage
def test_unknown_fields_are_accepted_and_logged_once(vtest, oai, caplog):
    caplog.set_level(logging.INFO, logger="onlook.server.serving_openai")
    messages = [{"role": "system", "content": "You are a helpful assistant."},
                {"role": "user", "content": ENTERED, "id": "msg-1"}]
    for _ in range(2):
        r = oai.chat.completions.create(
            model="vtest", messages=messages, temperature=0.2, top_p=0.9, seed=1, stop=["\n\n"], user="u1",
            presence_penalty=0.1, extra_body={"chat_template_kwargs": {"enable_thinking": False}, "top_k": 20})
        assert r.choices[0].message.content and not r.onlook["abstained"]
    logged = [rec.getMessage() for rec in caplog.records if "unknown field" in rec.getMessage()]
    assert len(logged) == 1, logged
    assert "'chat_template_kwargs'" in logged[0] and "'top_k'" in logged[0] and "'messages[].id'" in logged[0]


@pytest.mark.footage
def test_content_parts_text_is_the_question(vtest, oai):
    parts = [{"type": "text", "text": "how many people"},
             {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBORw0KGgo="}},
             {"type": "text", "text": "entered so far?"}]
    r = ask(oai, parts)
    plain = ask(oai, ENTERED)
    assert r.choices[0].message.content == plain.choices[0].message.content
    assert r.onlook["value"] == plain.onlook["value"] >= 2


@pytest.mark.footage
def test_follow_up_uses_the_history(vtest, oai):
    first = ask(oai, ENTERED)
    follow = "and in the first 10 seconds?"
    alone = ask(oai, follow)
    assert alone.onlook["abstained"]  # on its own the follow-up says nothing the answerer can read
    r = oai.chat.completions.create(model="vtest", messages=[
        {"role": "user", "content": ENTERED},
        {"role": "assistant", "content": first.choices[0].message.content},
        {"role": "user", "content": follow}])
    info = r.onlook
    assert not info["abstained"] and "people entered" in r.choices[0].message.content
    assert 1 <= info["value"] <= first.onlook["value"]
    assert all(e["t"] <= 10 for e in info["evidence"])
    # The answer is as of the question's time, as the first one was.
    assert r.choices[0].message.content != first.choices[0].message.content


@pytest.mark.footage
def test_max_tokens_cuts_the_answer(vtest, oai):
    r = ask(oai, ENTERED, max_tokens=3)
    assert r.choices[0].finish_reason == "length" and r.usage.completion_tokens == 3
    assert r.choices[0].message.content == " ".join(ask(oai, ENTERED).choices[0].message.content.split()[:3])
    chunks = list(ask(oai, ENTERED, max_completion_tokens=3, stream=True))
    assert [c.choices[0].finish_reason for c in chunks if c.choices[0].finish_reason] == ["length"]


# --- errors ------------------------------------------------------------------------------------------


def test_unknown_model_is_a_404_in_openai_shape(server, oai):
    with pytest.raises(openai.NotFoundError) as e:
        ask(oai, "how many people are here?", model="no-such-stream")
    assert e.value.status_code == 404 and e.value.code == "model_not_found"
    with httpx.Client(timeout=20.0) as c:
        r = c.post(f"{server.url}/v1/chat/completions",
                   json={"model": "no-such-stream", "messages": [{"role": "user", "content": "hi"}]})
    err = r.json()["error"]
    assert r.status_code == 404 and set(err) >= {"message", "type", "code"}
    assert err["type"] == "invalid_request_error" and "no-such-stream" in err["message"]


@pytest.mark.footage
@pytest.mark.parametrize(("body", "param", "words"), [
    ({"model": "vtest", "messages": []}, "messages", "at least 1"),
    ({"model": "vtest"}, "messages", "missing"),
    ({"model": "vtest", "messages": [{"role": "system", "content": "hi"}]}, None, "no 'user' message"),
    ({"model": "vtest", "messages": [{"role": "user", "content": [{"type": "image_url"}]}]}, None, "no text"),
    ({"model": "vtest", "messages": [{"role": "user", "content": "hi"}], "n": 2}, "n", "n must be 1"),
    ({"model": "vtest", "messages": [{"role": "wizard", "content": "hi"}]}, "messages.0.role", "role"),
    ({"model": "vtest", "messages": [{"role": "user", "content": "x" * 2001}]}, None, "longer than"),
])
def test_bad_requests_are_400_in_openai_shape(vtest, server, body, param, words):
    with httpx.Client(timeout=20.0) as c:
        r = c.post(f"{server.url}/v1/chat/completions", json=body)
    assert r.status_code == 400, r.text
    err = r.json()["error"]
    assert err["type"] == "invalid_request_error" and err["param"] == param and words in err["message"]
    assert "\n" not in err["message"]


def test_invalid_json_is_a_400(server):
    with httpx.Client(timeout=20.0) as c:
        r = c.post(f"{server.url}/v1/chat/completions", content=b'{"model": ',
                   headers={"Content-Type": "application/json"})
        assert r.status_code == 400 and "not valid JSON" in r.json()["error"]["message"]
        r = c.post(f"{server.url}/v1/chat/completions", content=b'{"model": "x"}')  # no JSON content type
        assert r.status_code == 400 and "Content-Type: application/json" in r.json()["error"]["message"]


@pytest.mark.footage
def test_chat_bodies_may_be_larger_than_other_bodies(vtest, server):
    history = []
    for i in range(200):  # ~200 KB: a long conversation, over the 64 KiB limit of the other routes
        history += [{"role": "user", "content": f"question {i} " + "x" * 500},
                    {"role": "assistant", "content": f"answer {i} " + "y" * 500}]
    body = {"model": "vtest", "messages": [*history, {"role": "user", "content": ENTERED}]}
    with httpx.Client(timeout=20.0) as c:
        r = c.post(f"{server.url}/v1/chat/completions", json=body)
        assert r.status_code == 200, r.text
        assert r.json()["usage"]["prompt_tokens"] > 800
        big = {"model": "vtest", "messages": [{"role": "user", "content": "z" * (1024 * 1024 + 1)}]}
        r = c.post(f"{server.url}/v1/chat/completions", json=big)
        assert r.status_code == 413 and r.json()["error"]["type"] == "PayloadTooLarge"
        r = c.post(f"{server.url}/streams", json={"source": "x" * 70_000})
        assert r.status_code == 413


# --- auth --------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def keyed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    srv = start_server(tmp_path_factory.mktemp("keyed"), api_key=KEY)
    yield srv
    srv.stop()


def test_api_key_as_bearer(keyed):
    with openai.OpenAI(base_url=f"{keyed.url}/v1", api_key=KEY, max_retries=0, timeout=20.0) as c:
        assert c.models.list().data == []
        with pytest.raises(openai.NotFoundError):  # past the key check: on to the model lookup
            ask(c, "how many people are here?", model="cam")
    with openai.OpenAI(base_url=f"{keyed.url}/v1", api_key="wrong", max_retries=0, timeout=20.0) as c:
        with pytest.raises(openai.AuthenticationError) as e:
            c.models.list()
        assert e.value.status_code == 401 and "wrong API key" in e.value.message
        with pytest.raises(openai.AuthenticationError):
            ask(c, "how many people are here?", model="cam")
    with httpx.Client(timeout=20.0) as c:  # no key at all
        r = c.post(f"{keyed.url}/v1/chat/completions",
                   json={"model": "cam", "messages": [{"role": "user", "content": "hi"}]})
        assert r.status_code == 401 and r.headers["www-authenticate"] == "Bearer"
        assert "missing API key" in r.json()["error"]["message"]
        assert c.get(f"{keyed.url}/v1/models").status_code == 401


# --- answerers that take history and stream (VLMs), through a fake ----------------------------------


class FakeVLM(BaseAnswerer):
    """Answers with what it was given, in pieces; fails on demand."""

    takes_history = True
    streams = True

    def __init__(self, fail: str | None = None) -> None:
        self.fail = fail
        self.calls: list[dict[str, Any]] = []

    def stream_answer(self, question: str, view: Any, at: float | None = None, *, options: Any = None,
                      history: Any = ()) -> AnswerStream:
        return AnswerStream(lambda stream: self._pieces(question, history))

    def _pieces(self, question: str, history: Any) -> Iterator[str]:
        self.calls.append({"question": question, "history": list(history)})
        if self.fail == "start":
            raise ModelError("the model server is down")
        yield "You asked "
        yield f"'{question}' "
        if self.fail == "middle":
            raise ModelError("the model server went away")
        yield f"after {len(history)} earlier turn(s)."

    def answer(self, question: str, view: Any, at: float | None = None, *, history: Any = ()) -> Answer:
        text = "".join(self.stream_answer(question, view, at, history=history))
        return Answer(question=question, text=text, at=view.now() if at is None else at, confidence=0.5)


@pytest.fixture
def fake_vlm(vtest, server) -> Iterator[FakeVLM]:
    engine = server.server.config.app.state.manager.get(vtest).engine
    real = engine.answerer
    fake = engine.answerer = FakeVLM()
    yield fake
    engine.answerer = real


HISTORY = [{"role": "user", "content": "who came in first?"}, {"role": "assistant", "content": "a man in red"},
           {"role": "user", "content": "what was he carrying?"}]


@pytest.mark.footage
def test_history_reaches_answerers_that_take_it(fake_vlm, oai):
    r = oai.chat.completions.create(model="vtest", messages=HISTORY)
    assert r.choices[0].message.content == "You asked 'what was he carrying?' after 1 earlier turn(s)."
    assert fake_vlm.calls[-1]["history"] == [{"question": "who came in first?", "answer": "a man in red"}]

    chunks = list(oai.chat.completions.create(model="vtest", messages=HISTORY, stream=True))
    pieces = [c.choices[0].delta.content for c in chunks if c.choices[0].delta.content]
    assert pieces == ["You asked ", "'what was he carrying?' ", "after 1 earlier turn(s)."]  # as the model wrote them
    assert chunks[-1].choices[0].finish_reason == "stop"


@pytest.mark.footage
def test_streaming_answerer_failures(fake_vlm, oai, server):
    fake_vlm.fail = "start"  # before the first word: an HTTP error
    with pytest.raises(openai.APIStatusError) as e:
        list(oai.chat.completions.create(model="vtest", messages=HISTORY, stream=True))
    assert e.value.status_code == 503 and "model server is down" in e.value.message
    fake_vlm.fail = "middle"  # after it: an error event in the stream, then [DONE]
    with httpx.Client(timeout=20.0) as c, c.stream(
            "POST", f"{server.url}/v1/chat/completions",
            json={"model": "vtest", "stream": True, "messages": HISTORY}) as r:
        assert r.status_code == 200
        lines = [line for line in r.iter_lines() if line]
        assert lines[-1] == "data: [DONE]"
    msgs = [json.loads(line.removeprefix("data: ")) for line in lines[:-1]]
    assert msgs[-1]["error"]["code"] == "model_error" and "went away" in msgs[-1]["error"]["message"]
    assert "".join(m["choices"][0]["delta"].get("content", "") for m in msgs[:-1]) == \
        "You asked 'what was he carrying?' "
