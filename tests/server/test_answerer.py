"""A server-wide answerer (e.g. a VLM backend) answers for every stream."""

from __future__ import annotations

from pathlib import Path

import pytest

from onlook.types import Answer

from .helpers import start_server, wait_state

pytestmark = pytest.mark.timeout(60)


class EchoAnswerer:
    """Answers with what it was asked and the time it was asked at (stands in for a VLM)."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, float | None]] = []

    def answer(self, question: str, view, at: float | None = None) -> Answer:
        at = view.now() if at is None else at
        self.calls.append((question, at))
        return Answer(question, f"echo: {question}", at, 0.9)


def test_streams_answer_through_the_servers_answerer(tmp_path: Path, media_dir: Path) -> None:
    vlm = EchoAnswerer()
    srv = start_server(tmp_path / "root", allow_files=[media_dir], answerer=vlm)
    try:
        with srv.client() as c:
            for sid in ("a", "b"):
                r = c.post("/streams", json={"source": str(media_dir / "cut.mp4"), "id": sid})
                assert r.status_code == 201, r.text
            for sid in ("a", "b"):
                wait_state(c, sid, {"ended"}, 40)
                r = c.post(f"/streams/{sid}/ask", json={"question": f"what is on {sid}?"})
                assert r.status_code == 200 and r.json()["text"] == f"echo: what is on {sid}?"
        assert [q for q, _ in vlm.calls] == ["what is on a?", "what is on b?"]
    finally:
        srv.stop()
