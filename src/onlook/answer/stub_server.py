"""A stand-in OpenAI-compatible chat server, for benchmarks and tests.

It answers every ``POST`` (``/v1/chat/completions`` or any other path) with
the same reply, streamed as server-sent events one word per chunk, after
"thinking" for a set time: half of it before the first chunk (a model's
prefill), the rest spread over the chunks (its decoding). It reads each
request whole, images and all, as a real server does, and keeps connections
alive (HTTP/1.1), so a client reuses its connection.

:func:`stub_openai_server` runs it in a process of its own, so that its work
is not billed to the process being measured, as a real model server's would
not be. The server itself is stdlib only.

Example:
    >>> with stub_openai_server(0.0) as server:  # doctest: +SKIP
    ...     client = openai.OpenAI(base_url=server.base_url, api_key="-")
"""

from __future__ import annotations

import contextlib
import json
import selectors
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, NamedTuple

__all__ = ["STUB_REPLY", "StubServer", "make_server", "stub_openai_server"]

STUB_REPLY = ("A person in a red jacket walks in from the right at 00:12, crosses in front of the shop and "
              "leaves on the left at 00:19; nobody else comes near the door after that, and nobody is seen "
              "carrying anything large.")
"""What the stand-in answers to every question (41 words, so 41 chunks)."""

_DONE = b"e\r\ndata: [DONE]\n\n\r\n0\r\n\r\n"  # the last event and the end of the chunked body, at once


class StubServer(NamedTuple):
    """A running stand-in server.

    Attributes:
        base_url: Its OpenAI ``/v1`` base URL on 127.0.0.1.
        pid: Its process id (to read the CPU it used).
    """

    base_url: str
    pid: int


def _sse_chunks(words: Sequence[str]) -> list[bytes]:
    """One ``chat.completion.chunk`` event per word, encoded once (the stand-in's own work shares the
    machine's cores with what is measured)."""
    return [b"data: " + json.dumps({"id": "b", "object": "chat.completion.chunk", "created": 0, "model": "bench",
                                    "choices": [{"index": 0, "delta": {"content": w + " "},
                                                 "finish_reason": None}]}).encode() + b"\n\n" for w in words]


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as real servers: the client reuses its connection
    model_s: float = 0.0
    chunks: list[bytes] = []

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _chunk(self, data: bytes) -> None:
        self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
        self.wfile.flush()

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length") or 0))  # the request, images and all
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        time.sleep(self.model_s / 2)
        for chunk in self.chunks:
            self._chunk(chunk)
            time.sleep(self.model_s / 2 / len(self.chunks))
        self.wfile.write(_DONE)
        self.wfile.flush()


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # the client drops its connection after [DONE] (openai's Stream does): not an error


def make_server(model_s: float, reply: str = STUB_REPLY, port: int = 0) -> ThreadingHTTPServer:
    """The stand-in server bound to ``127.0.0.1:port`` (0: a free port), not yet serving.

    Args:
        model_s: Seconds each answer takes, half before the first chunk.
        reply: What every answer says, streamed one word per chunk.
        port: Port to bind.

    Returns:
        The server; call ``serve_forever()`` (or ``handle_request()``) on it.
    """
    handler = type("Handler", (_Handler,), {"model_s": float(model_s), "chunks": _sse_chunks(reply.split(" "))})
    return _Server(("127.0.0.1", port), handler)


@contextlib.contextmanager
def stub_openai_server(model_s: float, reply: str = STUB_REPLY, *, start_timeout_s: float = 30.0
                       ) -> Iterator[StubServer]:
    """Run the stand-in server in a child process on 127.0.0.1 while inside.

    Args:
        model_s: Seconds each answer takes ("thinking" time of the stand-in model).
        reply: What every answer says.
        start_timeout_s: How long the child may take to bind its port.

    Yields:
        A :class:`StubServer` (``base_url``, ``pid``); it unpacks as a pair.

    Raises:
        RuntimeError: it did not start within ``start_timeout_s``.
    """
    from onlook._subprocess import stop_process

    proc = subprocess.Popen([sys.executable, "-m", "onlook.answer.stub_server", repr(model_s), reply],
                            stdout=subprocess.PIPE, stdin=subprocess.DEVNULL)
    try:
        assert proc.stdout is not None
        with selectors.DefaultSelector() as sel:  # a bounded wait for the port it bound
            sel.register(proc.stdout, selectors.EVENT_READ)
            line = proc.stdout.readline() if sel.select(start_timeout_s) else b""
        if not line.strip().isdigit():
            raise RuntimeError(f"the stand-in OpenAI server did not start within {start_timeout_s:g} s")
        yield StubServer(f"http://127.0.0.1:{int(line)}/v1", proc.pid)
    finally:
        stop_process(proc)
        if proc.stdout:
            proc.stdout.close()


def main(argv: Sequence[str] | None = None) -> None:
    """``python -m onlook.answer.stub_server MODEL_S [REPLY]``: print the bound port, then serve."""
    args = list(sys.argv[1:] if argv is None else argv)
    srv = make_server(float(args[0]) if args else 0.0, args[1] if len(args) > 1 else STUB_REPLY)
    print(srv.server_address[1], flush=True)
    srv.serve_forever()


if __name__ == "__main__":
    main()
