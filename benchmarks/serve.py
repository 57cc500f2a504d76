"""``onlook serve`` under load: live-like streams ingesting while many clients ask at once.

Loopback only and bounded (counts, and a time limit on every wait).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.clips import serve_clip
from benchmarks.results import BenchResult, pct
from onlook._subprocess import stop_process

__all__ = ["bench_serve"]

Samples = dict[str, list[tuple[float, dict[str, Any]]]]


_SERVE_QUESTIONS = ("how many people are visible now?", "when did someone first enter?",
                    "how many people entered in the last minute?", "what happened in the last 30 seconds?",
                    "is there anyone in red right now?", "when was the last time someone left?")


async def _load_client(port: int, requests: list[tuple[str, bytes]], lat: list[float], failures: list[str],
                       kind: str = "raw", timeout_s: float = 30.0) -> None:
    """Send ``(path, JSON body)`` POSTs one after another on one keep-alive connection; record latencies (ms).

    ``raw`` writes HTTP/1.1 on an asyncio stream: about 0.1 ms of client CPU a
    request, so the load generator takes little from the server it measures.
    ``httpx`` uses an ``httpx.AsyncClient`` (one per client): more realistic,
    but at 2-4 ms of CPU a request it competes with a server on few cores.
    """
    import httpx

    if kind == "httpx":
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=timeout_s) as c:
            for path, body in requests:
                t0 = time.perf_counter()
                try:
                    r = await c.post(path, content=body, headers={"Content-Type": "application/json"})
                    if r.status_code != 200:
                        failures.append(f"{r.status_code} {r.text[:200]}")
                except httpx.HTTPError as e:
                    failures.append(f"{type(e).__name__}: {e}")
                lat.append((time.perf_counter() - t0) * 1000)
        return
    conn: tuple[asyncio.StreamReader, asyncio.StreamWriter] | None = None
    try:
        for path, body in requests:
            t0 = time.perf_counter()
            try:
                if conn is None:
                    conn = await asyncio.wait_for(asyncio.open_connection("127.0.0.1", port), timeout_s)
                rd, wr = conn
                wr.write(f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                         f"Content-Length: {len(body)}\r\n\r\n".encode() + body)
                head = await asyncio.wait_for(rd.readuntil(b"\r\n\r\n"), timeout_s)
                lines = head.decode("latin-1").split("\r\n")
                fields = {k.strip().lower(): v.strip() for k, _, v in (ln.partition(":") for ln in lines[1:] if ln)}
                payload = await asyncio.wait_for(rd.readexactly(int(fields.get("content-length", "0"))), timeout_s)
                if lines[0].split()[1] != "200":
                    failures.append(f"{lines[0]} {payload[:200]!r}")
                if fields.get("connection", "").lower() == "close":
                    wr.close()
                    conn = None
            except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, asyncio.TimeoutError,
                    ValueError) as e:
                failures.append(f"{type(e).__name__}: {e}")
                if conn is not None:
                    conn[1].close()
                conn = None
            lat.append((time.perf_counter() - t0) * 1000)
    finally:
        if conn is not None:
            conn[1].close()


@dataclass(frozen=True)
class _Plan:
    """What one serve benchmark does: how many streams, clients and requests, at what rate."""

    streams: int
    clients: int
    requests: int
    fps: float
    window_s: float
    load_client: str

    @property
    def ids(self) -> list[str]:
        return [f"cam{i}" for i in range(self.streams)]


Phase = tuple[float, float, float, float]  # wall start, wall end, server cores used, seconds


class _ServeRun:
    """One ``onlook serve`` subprocess, its streams, and the status samples taken while it is loaded."""

    def __init__(self, plan: _Plan, proc: subprocess.Popen[bytes], port: int, log_path: Path, video: Path) -> None:
        import psutil

        self.plan = plan
        self.proc = proc
        self.port = port
        self.log_path = log_path
        self.video = video
        self.ids = plan.ids
        self.samples: Samples = {sid: [] for sid in self.ids}
        self._server = psutil.Process(proc.pid)

    def cpu_s(self) -> float:
        """CPU seconds the server has used so far."""
        t = self._server.cpu_times()
        return t.user + t.system

    def failed(self, why: str) -> RuntimeError:
        return RuntimeError(f"{why}; server log:\n{self.log_path.read_text(errors='replace')[-2000:]}")

    async def wait_healthy(self, c: Any) -> None:
        import httpx

        deadline = time.monotonic() + 60
        while True:
            with contextlib.suppress(httpx.TransportError):
                if (await c.get("/healthz")).status_code == 200:
                    return
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise self.failed("onlook serve did not start within 60 s")
            await asyncio.sleep(0.2)

    async def create_streams(self, c: Any) -> None:
        # Cameras are not in step: start the streams spread over one analysis period, so that their
        # analyses are spread over each second instead of all falling at once.
        fps, streams = self.plan.fps, self.plan.streams
        t_create = time.monotonic()
        for i, sid in enumerate(self.ids):
            await asyncio.sleep(max(0.0, t_create + i / (fps * streams) - time.monotonic()))
            r = await c.post("/streams", json={"source": str(self.video), "id": sid, "fps": fps, "realtime": True})
            if r.status_code != 201:
                raise self.failed(f"could not create stream {sid}: {r.text}")

    async def sample(self, c: Any) -> None:
        # The status is taken somewhere between sending and the reply, which under 50 clients can be seconds
        # apart: stamp the middle and keep how long it took, so that lag is read only from prompt replies.
        sent = time.time()
        streams = (await c.get("/streams")).json()["streams"]
        got = time.time()
        for st in streams:
            self.samples[st["id"]].append(((sent + got) / 2, {**st, _TOOK: got - sent}))

    async def sample_until(self, c: Any, stop: asyncio.Event) -> None:
        while not stop.is_set():
            await self.sample(c)
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(stop.wait(), 1.0)

    def settled(self) -> bool:
        """Every stream running, past the start, and done catching up after the models loaded."""
        for s in self.samples.values():
            if len(s) < 6 or s[-1][1]["state"] != "running" or s[-1][1]["t"] < 5:
                return False
            (w0, a), (w1, b) = s[-6], s[-1]
            if (b["t"] - a["t"]) / (w1 - w0) > 1.15:
                return False
        return True

    async def wait_settled(self, c: Any) -> None:
        deadline = time.monotonic() + 120
        while not self.settled():
            if time.monotonic() > deadline:
                if any(s and s[-1][1]["state"] != "running" for s in self.samples.values()):
                    raise self.failed("the streams did not start within 120 s")
                return  # still catching up after 2 minutes: measure anyway (the figures will show it)
            await self.sample(c)
            await asyncio.sleep(1.0)

    async def phase(self, c: Any, load: Awaitable[Any]) -> Phase:
        """Run ``load`` while sampling the streams; its wall window and the server's CPU over it."""
        stop = asyncio.Event()
        task = asyncio.create_task(self.sample_until(c, stop))
        w0, c0 = time.time(), self.cpu_s()
        await asyncio.wait_for(load, 300)
        w1, c1 = time.time(), self.cpu_s()
        stop.set()
        await task
        return w0, w1, (c1 - c0) / (w1 - w0), w1 - w0

    def load(self, path: str, body: Callable[[str, str], Any], lat: list[float], failures: list[str]) -> Any:
        """All clients at once, each sending ``requests`` POSTs to ``path`` back to back."""
        plan, ids = self.plan, self.ids

        def reqs(k: int) -> list[tuple[str, bytes]]:
            return [(path.format(sid=ids[(k + j) % len(ids)]),
                     json.dumps(body(ids[(k + j) % len(ids)], _SERVE_QUESTIONS[(k * 7 + j) % 6])).encode())
                    for j in range(plan.requests)]

        return asyncio.gather(*(_load_client(self.port, reqs(k), lat, failures, plan.load_client)
                                for k in range(plan.clients)))

    async def run(self) -> dict[str, Any]:
        """Quiet window, then ask load, then chat load, then one client alone."""
        import httpx

        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{self.port}", timeout=httpx.Timeout(30.0)) as c:
            await self.wait_healthy(c)
            await self.create_streams(c)
            await self.wait_settled(c)
            out: dict[str, Any] = {"quiet": await self.phase(c, asyncio.sleep(self.plan.window_s))}
            ask_lat: list[float] = []
            ask_fail: list[str] = []
            out["ask"] = await self.phase(c, self.load("/streams/{sid}/ask", lambda sid, q: {"question": q},
                                                       ask_lat, ask_fail))
            chat_lat: list[float] = []
            chat_fail: list[str] = []
            out["chat"] = await self.phase(c, self.load("/v1/chat/completions", lambda sid, q: {
                "model": sid, "messages": [{"role": "user", "content": q}]}, chat_lat, chat_fail))
            solo: list[float] = []
            await _load_client(self.port, [(f"/streams/{self.ids[j % len(self.ids)]}/ask",
                                            json.dumps({"question": _SERVE_QUESTIONS[j % 6]}).encode())
                                           for j in range(20)], solo, [], self.plan.load_client)
            out.update(ask_lat=ask_lat, ask_fail=ask_fail, chat_lat=chat_lat, chat_fail=chat_fail, solo=solo)
            return out


_TOOK = "_sample_s"
"""Key of a status sample: seconds its ``GET /streams`` took."""

_PROMPT_S = 0.25
"""Samples whose request took longer are not used for lag: when in that time the status was taken is unknown."""


def _window(samples: list[tuple[float, dict[str, Any]]], w0: float, w1: float) -> dict[str, float]:
    """A stream's analysed fps, lag range and drops over the wall window ``w0..w1``.

    Lag is read from the samples answered within :data:`_PROMPT_S` (all, if none was): a reply that took
    2 s under load would otherwise move "wall clock minus stream time" by up to 2 s, for every stream
    at once, though no stream fell behind.
    """
    pts = [(w, st) for w, st in samples if w0 - 0.5 <= w <= w1 + 0.5]
    (a_w, a), (b_w, b) = pts[0], pts[-1]
    dt = max(1e-6, b_w - a_w)
    prompt = [(w, st) for w, st in pts if st.get(_TOOK, 0.0) <= _PROMPT_S] or pts
    behind = [w - st["t"] for w, st in prompt]  # wall clock minus stream time: constant while keeping up
    return {"fps": (b["frames_kept"] - a["frames_kept"]) / dt, "behind_max": max(behind),
            "behind_min": min(behind), "dropped": b["dropped"] - a["dropped"],
            "delay_max": max(st.get("lag_s") or 0.0 for _, st in pts)}


def _per_stream(samples: Samples, quiet_w: tuple[float, float],
                load_w: tuple[float, float]) -> dict[str, dict[str, float]]:
    per_stream: dict[str, dict[str, float]] = {}
    for sid, s in samples.items():
        quiet, loaded = _window(s, *quiet_w), _window(s, *load_w)
        best = min(quiet["behind_min"], loaded["behind_min"])
        per_stream[sid] = {"fps_quiet": round(quiet["fps"], 3), "fps_load": round(loaded["fps"], 3),
                           "lag_quiet_s": round(quiet["behind_max"] - best, 2),
                           "lag_load_s": round(loaded["behind_max"] - best, 2),
                           "dropped_quiet": quiet["dropped"], "dropped_load": loaded["dropped"],
                           "delay_quiet_s": round(quiet["delay_max"], 2), "delay_load_s": round(loaded["delay_max"], 2)}
    return per_stream


def _start_server(tmp: Path, media: Path, port: int) -> tuple[subprocess.Popen[bytes], Path]:
    log_path = tmp / "server.log"
    cmd = [sys.executable, "-c", "from onlook.cli import main; main()", "serve", "--host", "127.0.0.1",
           "--port", str(port), "--store-root", str(tmp / "root"), "--allow-files", str(media),
           "--log-level", "warning"]
    with open(log_path, "wb") as log_file:
        proc = subprocess.Popen(cmd, stdout=log_file, stderr=subprocess.STDOUT)
    return proc, log_path


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _serve_rows(plan: _Plan, res: dict[str, Any], samples: Samples, *, clip: Path, server_cores: int,
                cores: str) -> list[BenchResult]:
    fps, streams, clients, requests = plan.fps, plan.streams, plan.clients, plan.requests
    quiet_w = res["quiet"][:2]
    load_w = (res["ask"][0], res["chat"][1])
    per_stream = _per_stream(samples, quiet_w, load_w)
    fq = [p["fps_quiet"] for p in per_stream.values()]
    fl = [p["fps_load"] for p in per_stream.values()]
    lag_q = max(p["lag_quiet_s"] for p in per_stream.values())
    lag_l = max(p["lag_load_s"] for p in per_stream.values())
    dropped = sum(p["dropped_quiet"] + p["dropped_load"] for p in per_stream.values())
    # The engine's own lag_s: from a frame's arrival to the end of its analysis (lag above only sees when
    # analyses start, and a late start past the queue shows as drops instead).
    delay_q = max(p["delay_quiet_s"] for p in per_stream.values())
    delay_l = max(p["delay_load_s"] for p in per_stream.values())
    client_desc = "raw HTTP/1.1 keep-alive clients" if plan.load_client == "raw" else "httpx.AsyncClient clients"
    cmd = "onlook bench --only serve"
    keeps_up = min(fl) >= 0.9 * fps and min(fq) >= 0.9 * fps and lag_l <= 2.0 + 1.0 / fps and not dropped
    rows = [BenchResult(
        f"serve: ingest of {streams} streams, no clients vs {clients} asking",
        f"analysed fps per stream min {min(fl):.2f} / mean {np.mean(fl):.2f} while clients ask vs min {min(fq):.2f} "
        f"/ mean {np.mean(fq):.2f} with none; worst lag {lag_l:.1f} s vs {lag_q:.1f} s; {dropped} frames dropped; "
        f"worst analysis delay {delay_l:.2f} s vs {delay_q:.2f} s; "
        f"server CPU {res['ask'][2]:.2f} / {res['chat'][2]:.2f} cores under load vs {res['quiet'][2]:.2f} quiet "
        f"({streams} x 640x480 {clip.name} looped and paced in real time at {fps:g} fps, default perception; "
        f"{res['quiet'][3]:.0f} s quiet, {load_w[1] - load_w[0]:.0f} s loaded; {cores})",
        f"{streams} streams at {fps:g} fps on {server_cores} cores keep up (fps ~{fps:g}, lag ~0)", keeps_up,
        {"cmd": cmd, "per_stream": per_stream})]
    for key, what, target in (("ask", "ask latency (POST /streams/{id}/ask)", "p95 < 200 ms"),
                              ("chat", "chat completion latency (POST /v1/chat/completions)", "p95 < 200 ms (as ask)")):
        lat, fails, secs = res[f"{key}_lat"], res[f"{key}_fail"], res[key][3]
        p95 = pct(lat, 95)
        solo = f"; one client alone: p50 {pct(res['solo'], 50):.0f} ms" if key == "ask" else ""
        rows.append(BenchResult(
            f"serve: {what}, {clients} concurrent clients",
            f"p50 {pct(lat, 50):.0f} ms, p95 {p95:.0f} ms over {len(lat)} requests ({requests} per client, back to "
            f"back, {len(lat) / max(1e-6, secs):.0f}/s; {len(fails)} failed{solo}); extractive answerer, {streams} "
            f"streams ingesting; {client_desc}; {cores}",
            target, p95 < 200 and not fails,
            {"cmd": cmd, "failures": fails[:5]}))
    return rows


def bench_serve(clip: Path, *, streams: int = 8, clients: int = 50, requests: int = 100, fps: float = 1.0,
                window_s: float = 20.0, server_cores: int = 2, load_client: str = "raw") -> list[BenchResult]:
    """``onlook serve`` under load: ``streams`` live-like streams ingesting while ``clients`` ask at once.

    Loopback only and bounded (counts, and a time limit on every wait): the
    server is an ``onlook serve`` subprocess on 127.0.0.1, pinned to
    ``server_cores`` CPUs when the machine has more (the load generator then
    runs on the others). Each stream is ``clip`` resized to 640x480, looped,
    and paced in real time (``realtime``) like a camera, analysed at ``fps``.
    In one run: ingest is measured for ``window_s`` with no clients, then
    while ``clients`` clients each send ``requests`` questions back to back to
    ``POST /streams/{id}/ask`` (extractive answerer), then as many to
    ``POST /v1/chat/completions``. A stream keeps up when it analyses
    ``fps`` frames a second and its lag (how far its analysed stream time is
    behind real time, beyond its best) does not grow.
    """
    plan = _Plan(streams, clients, requests, fps, window_s, load_client)
    cpus = sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else list(range(os.cpu_count() or 1))
    pin = len(cpus) > server_cores
    srv_cpus, cli_cpus = (cpus[:server_cores], cpus[server_cores:]) if pin else (cpus, cpus)
    tmp = Path(tempfile.mkdtemp(prefix="onlook-bench-serve-"))
    media = tmp / "media"
    media.mkdir()
    # Long enough for warm-up, the quiet window and both loads (the clip is looped).
    video = serve_clip(clip, media / "cam.mp4", seconds=150 + window_s)
    port = _free_port()
    proc, log_path = _start_server(tmp, media, port)
    if pin:  # before it has loaded anything, let alone started a stream
        os.sched_setaffinity(proc.pid, srv_cpus)
        os.sched_setaffinity(0, cli_cpus)
    run = _ServeRun(plan, proc, port, log_path, video)
    try:
        res = asyncio.run(asyncio.wait_for(run.run(), 900))
    finally:
        stop_process(proc, grace_s=30, sig=signal.SIGINT)  # a clean shutdown, as Ctrl-C
        if pin:
            os.sched_setaffinity(0, cpus)
        shutil.rmtree(tmp, ignore_errors=True)
    cores = (f"server pinned to {len(srv_cpus)} cores, load generator on {len(cli_cpus)} others" if pin else
             f"server and load generator share this machine's {len(cpus)} cores")
    return _serve_rows(plan, res, run.samples, clip=clip, server_cores=server_cores, cores=cores)
