"""Safety: API key, allowed file folders, keyframe paths, malformed and oversize bodies - all JSON errors."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from websockets.exceptions import InvalidStatus
from websockets.sync.client import connect

from .helpers import LiveServer, start_server, wait_state

pytestmark = [pytest.mark.timeout(60)]

KEY = "test-key-123"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, media_dir: Path) -> Iterator[LiveServer]:
    srv = start_server(tmp_path_factory.mktemp("root"), api_key=KEY, allow_files=[media_dir])
    yield srv
    srv.stop()


@pytest.fixture(scope="module")
def client(server: LiveServer) -> Iterator[httpx.Client]:
    with server.client(headers={"Authorization": f"Bearer {KEY}"}) as c:
        yield c


@pytest.fixture(scope="module")
def anon(server: LiveServer) -> Iterator[httpx.Client]:
    with server.client() as c:
        yield c


def _error(r: httpx.Response, status: int, kind: str | None = None) -> str:
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith("application/json")
    err = r.json()["error"]
    assert set(err) == {"type", "message"} and err["message"] and "\n" not in err["message"]
    assert "Traceback" not in r.text
    if kind is not None:
        assert err["type"] == kind, err
    return err["message"]


@pytest.mark.parametrize("path", ["/streams", "/streams/x", "/search?q=person", "/events", "/streams/x/live.mjpg"])
def test_api_routes_need_the_key(anon, path):
    assert "API key" in _error(anon.get(path), 401, "Unauthorized")
    _error(anon.get(path, headers={"Authorization": "Bearer wrong"}), 401, "Unauthorized")
    _error(anon.get(path, headers={"X-API-Key": "wrong"}), 401, "Unauthorized")


def test_post_without_key_is_refused_before_anything_happens(anon, server, media_dir):
    _error(anon.post("/streams", json={"source": str(media_dir / "cut.mp4"), "id": "sneaky"}), 401)
    assert not (server.store_root / "sneaky").exists()


def test_key_accepted_as_bearer_header_or_query(client, anon):
    assert client.get("/streams").status_code == 200
    assert anon.get("/streams", headers={"X-API-Key": KEY}).status_code == 200
    assert anon.get("/streams", params={"api_key": KEY}).status_code == 200


def test_page_health_and_docs_are_open(anon):
    assert anon.get("/").status_code == 200 and "onlook" in anon.get("/").text
    h = anon.get("/healthz")
    assert h.status_code == 200 and h.json()["status"] == "ok"
    assert anon.get("/docs").status_code == 200
    schema = anon.get("/openapi.json").json()
    assert "/streams/{stream_id}/ask" in schema["paths"]
    assert "HTTPBearer" in schema["components"]["securitySchemes"]


def test_websocket_needs_the_key(server):
    url = server.url.replace("http://", "ws://") + "/streams/x/ws"
    with pytest.raises(InvalidStatus) as e:
        connect(url, open_timeout=10)
    assert e.value.response.status_code in (401, 403)
    with connect(url + f"?api_key={KEY}", open_timeout=10) as ws:  # with the key: on to the stream lookup
        assert "StreamNotFound" in ws.recv(timeout=10)


def test_file_sources_only_from_allowed_folders(client, server, media_dir, tmp_path):
    outside = tmp_path / "outside.mp4"
    outside.write_bytes((media_dir / "cut.mp4").read_bytes())
    link = media_dir / "link.mp4"
    os.symlink(outside, link)
    try:
        for source in [str(outside), f"file://{outside}", str(media_dir / ".." / outside.parent.name / outside.name),
                       f"{media_dir}/../{Path(media_dir).name}/../../etc/passwd", str(link), "/etc/passwd"]:
            msg = _error(client.post("/streams", json={"source": source}), 403, "SourceNotAllowed")
            assert "outside" in msg
    finally:
        link.unlink()
    assert client.get("/streams").json()["streams"] == []
    _error(client.post("/streams", json={"source": str(media_dir / "missing.mp4")}), 400, "SourceNotFound")
    (media_dir / "notes.txt").write_text("not a video")
    _error(client.post("/streams", json={"source": str(media_dir / "notes.txt")}), 400, "UnsupportedSource")
    _error(client.post("/streams", json={"source": "file://otherhost/x.mp4"}), 400, "UnsupportedSource")


def test_file_sources_refused_when_no_folder_is_allowed(tmp_path, media_dir):
    srv = start_server(tmp_path / "root")
    try:
        with srv.client() as c:
            msg = _error(c.post("/streams", json={"source": str(media_dir / "cut.mp4")}), 403, "SourceNotAllowed")
            assert "--allow-files" in msg
    finally:
        srv.stop()


def test_keyframes_cannot_escape_the_store(client, server, media_dir):
    r = client.post("/streams", json={"source": str(media_dir / "cut.mp4"), "id": "kf", "detect_people": False,
                                      "detect_objects": False, "detect_hands": False, "alerts": ["a scene change"]})
    assert r.status_code == 201, r.text
    wait_state(client, "kf", {"ended"}, 30)
    # the stream's detect_people/objects/hands=false and the server's faces/OCR off show in what it says it perceives
    assert client.get("/streams/kf").json()["capabilities"] == ["motion", "scene_colour", "shots"]
    alerts = client.get("/streams/kf/alerts").json()
    assert alerts == {"stream": "kf", "alerts": ["a scene change"]}
    hits = client.get("/streams/kf/search", params={"q": "scene change"}).json()["hits"]
    url = next(h["keyframe_url"] for h in hits if h["keyframe_url"])
    assert client.get(url).status_code == 200
    (server.store_root / "secret.jpg").write_bytes(b"top-secret-bytes")
    for raw in ["/streams/kf/keyframes/..%2F..%2Fstreams.json", "/streams/kf/keyframes/%2e%2e%2f%2e%2e%2fsecret.jpg",
                "/streams/kf/keyframes/..%2f..%2fsecret.jpg", "/streams/kf/keyframes/%2e%2e",
                "/streams/kf/keyframes/0000000001.jpg", "/streams/kf/keyframes/..%5c..%5csecret.jpg",
                "/streams/kf/keyframes/%252e%252e%252fsecret.jpg"]:
        r = client.send(client.build_request("GET", httpx.URL(server.url + raw)))
        assert r.status_code == 404, (raw, r.status_code)
        assert r.json()["error"]["type"] in ("NotFound", "KeyframeNotFound") and b"top-secret" not in r.content


@pytest.mark.parametrize(("kwargs", "status", "needle"), [
    ({"content": b'{"source": "rtsp://x"', "headers": {"Content-Type": "application/json"}}, 400, "not valid JSON"),
    ({"content": b'{"source": "rtsp://x"}', "headers": {"Content-Type": "text/plain"}}, 415, "application/json"),
    ({"json": {"source": "rtsp://x", "fsp": 2}}, 422, "unknown field 'fsp'"),
    ({"json": {"fps": 2}}, 422, "missing field 'source'"),
    ({"json": {"source": "rtsp://x", "fps": "fast"}}, 422, "fps"),
    ({"json": {"source": "rtsp://x", "alerts": "a scene change"}}, 422, "alerts"),
    ({"json": ["rtsp://x"]}, 422, ""),
    ({"json": {"source": "rtsp://x", "webhooks": ["ftp://x"]}}, 400, "http(s)"),
    ({"json": {"source": "rtsp://x", "budget": "lots"}}, 400, "size"),
])
def test_malformed_bodies_get_4xx_json(client, kwargs, status, needle):
    msg = _error(client.post("/streams", **kwargs), status)
    assert needle in msg
    assert client.get("/streams/x").status_code == 404  # nothing was created


def test_malformed_questions_and_queries(client):
    _error(client.post("/streams/nope/ask", json={"question": "hi"}), 404, "StreamNotFound")
    _error(client.post("/streams/nope/ask", json={"question": ""}), 422)
    _error(client.post("/streams/nope/ask", json={"question": "hi", "at": -1}), 422)
    _error(client.get("/search"), 422)
    _error(client.get("/search", params={"q": "x", "k": 0}), 422)
    _error(client.get("/events", params={"types": "alert,bogus"}), 400, "QueryError")
    _error(client.get("/nowhere"), 404, "NotFound")
    _error(client.put("/streams"), 405, "MethodNotAllowed")
    _error(client.get("/streams/bad%20id"), 422)


def test_oversize_bodies_get_413_json(client, server):
    big = b'{"source": "' + b"x" * 70_000 + b'"}'
    _error(client.post("/streams", content=big, headers={"Content-Type": "application/json"}), 413,
           "PayloadTooLarge")

    def chunked():  # no Content-Length: the limit still holds
        for _ in range(20):
            yield b"x" * 8192

    _error(client.post("/streams", content=chunked(), headers={"Content-Type": "application/json"}), 413)
    assert client.get("/healthz").status_code == 200  # and the server is fine
