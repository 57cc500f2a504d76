"""The stand-in OpenAI server (onlook.answer.stub_server): streams its reply word by word, as SSE chunks."""

from __future__ import annotations

import http.client
import json
import threading

from onlook.answer.stub_server import STUB_REPLY, make_server, stub_openai_server


def _words(body: bytes) -> list[str]:
    events = [ln[6:] for ln in body.decode().split("\n") if ln.startswith("data: ")]
    assert events[-1] == "[DONE]"
    return [json.loads(e)["choices"][0]["delta"]["content"] for e in events[:-1]]


def test_in_process_server_streams_each_word_then_done():
    srv = make_server(0.0, "one two three")
    th = threading.Thread(target=srv.handle_request, daemon=True)
    th.start()
    conn = http.client.HTTPConnection("127.0.0.1", srv.server_address[1], timeout=10)
    conn.request("POST", "/v1/chat/completions", body=b'{"x": 1}', headers={"Content-Type": "application/json"})
    r = conn.getresponse()
    assert r.status == 200 and r.getheader("Content-Type") == "text/event-stream"
    assert _words(r.read()) == ["one ", "two ", "three "]
    conn.close()
    th.join(10)
    srv.server_close()


def test_child_process_server_answers_with_the_reply():
    with stub_openai_server(0.0) as server:
        assert server.base_url.startswith("http://127.0.0.1:") and server.base_url.endswith("/v1") and server.pid
        conn = http.client.HTTPConnection(server.base_url.split("//")[1].split("/")[0], timeout=10)
        conn.request("POST", "/v1/chat/completions", body=b"{}")
        assert "".join(_words(conn.getresponse().read())).strip() == STUB_REPLY
        conn.close()
