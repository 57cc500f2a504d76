"""``onlook bench``: speed and memory figures, each as a ratio within one run.

Every figure is measured on this machine in the same run as its baseline, and
written to ``BENCHMARKS.md`` together with the command that produced it.
Nothing here is asserted in tests: targets are reported, not enforced.
"""

from __future__ import annotations

import contextlib
import gc
import json
import os
import platform
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from onlook._subprocess import stop_process
from onlook.config import Settings
from onlook.types import Frame

__all__ = ["BenchResult", "run_bench", "write_markdown"]


@dataclass
class BenchResult:
    name: str
    figure: str
    target: str
    ok: bool | None
    details: dict[str, Any] = field(default_factory=dict)


def _pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    return float(np.percentile(np.asarray(values), q))


def _rss_mb() -> float:
    import psutil

    return psutil.Process().memory_info().rss / 1e6


def _decode_frames(path: Path, stream_id: str = "bench") -> list[Frame]:
    import av

    out = []
    with av.open(str(path)) as c:
        for i, f in enumerate(c.decode(video=0)):
            out.append(Frame(stream_id, i, float(f.time), time.time(), f.to_ndarray(format="bgr24")))
    return out


def bench_ingest(clip: Path, fps: float = 2.0) -> list[BenchResult]:
    """Engine ingest (default perception) vs real time and vs a naive loop."""
    import cv2

    from onlook.engine import StreamEngine
    from onlook.perception.pipeline import build_perceiver
    from onlook.sampling import FpsSampler

    settings = Settings(fps=fps)
    # Load models before timing: start-up is paid once per process, not per frame.
    perceiver = build_perceiver(settings)
    if perceiver.text is not None and hasattr(perceiver.text, "load"):
        perceiver.text.load()
    with tempfile.TemporaryDirectory() as tmp:
        settings_run = Settings(fps=fps, store=Path(tmp) / "s")
        eng = StreamEngine(str(clip), settings=settings_run, perceiver=perceiver,
                           alerts=["a person enters the view"])
        enters: list[float] = []
        eng.subscribe(lambda m: enters.append(m["t"]) if m["type"] == "alert" else None)
        t0 = time.perf_counter()
        eng.run()
        engine_s = time.perf_counter() - t0
        duration = eng.stats["t"] + 1.0 / 10
        skipped = perceiver.skipped_area_fraction
        eng.close()

    # Naive: OpenCV decodes every frame; every detector runs on every whole sampled frame.
    naive = build_perceiver(Settings(fps=fps))
    if naive.text is not None and hasattr(naive.text, "load"):
        naive.text.load()
    from onlook.perception.color import dominant_colors
    from onlook.sampling import resize_for_analysis

    cap = cv2.VideoCapture(str(clip))
    sampler = FpsSampler(fps)
    n = 0
    naive_enters: list[float] = []
    t0 = time.perf_counter()
    while True:
        ok, img = cap.read()
        if not ok:
            break
        t = cap.get(cv2.CAP_PROP_POS_MSEC) / 1000.0
        if not sampler.keep(t):
            continue
        im = resize_for_analysis(img, settings.analysis_width)
        if naive.people is not None:
            res = naive.people.update(im, t, changed=None)
            naive_enters += [e.t for e in res.events if e.kind == "enter"]
        if naive.faces is not None:
            naive.faces.detect(im, t, None)
        if naive.text is not None:
            naive.text.detect(im, t, None)
        dominant_colors(im)
        n += 1
    naive_s = time.perf_counter() - t0
    cap.release()

    cmd = f"onlook bench --only ingest --clip {clip.name}"
    rt = duration / engine_s
    ratio = naive_s / engine_s
    alerts = _score_enters(clip, enters)
    ungated = _score_enters(clip, naive_enters)
    gate_note, gate_ok = "", True
    if alerts and ungated:
        # The gate must not lose an entry that looking at everything would have caught.
        lost = sorted(set(alerts["missed"]) - set(ungated["missed"]))
        gate_ok = not lost
        gate_note = (f"; person entries caught: {alerts['hits']}/{alerts['gt']} with the gate, "
                     f"{ungated['hits']}/{ungated['gt']} with every detector on every whole frame; "
                     f"lost to the gate: {lost or 'none'}")
    return [
        BenchResult("ingest speed", f"{rt:.1f}x real time ({duration:.1f} s of video in {engine_s:.2f} s, "
                    f"{fps:g} fps sampling, faces+OCR+people+colours on)", ">= 20x", rt >= 20,
                    {"cmd": cmd, "engine_s": engine_s, "video_s": duration}),
        BenchResult("ingest vs naive loop", f"{ratio:.1f}x faster (naive: OpenCV decode of every frame, all "
                    f"detectors on every whole sampled frame: {naive_s:.2f} s for {n} frames)", ">= 10x",
                    ratio >= 10, {"cmd": cmd, "naive_s": naive_s}),
        BenchResult("gate: sampled image area skipped", f"{100 * skipped:.1f}%{gate_note}",
                    ">= 80%, no person entry lost to the gate", skipped >= 0.8 and gate_ok,
                    {"cmd": cmd}),
    ]


def _score_enters(clip: Path, fired: list[float]) -> dict[str, float] | None:
    """Score fired alert times against ../shared/eval/alerts.json when it is there."""
    gt_file = clip.parent.parent / "eval" / "alerts.json"
    if not gt_file.is_file():
        return None
    items = [a for a in json.loads(gt_file.read_text()) if a["video"] == clip.name
             and a["query"] == "a person enters the view"]
    if not items:
        return None
    from onlook.eval.scoring import match_alerts

    return match_alerts(items[0]["gt_times"], fired)


def bench_rss(clip: Path, hours: float, fps: float = 2.0) -> list[BenchResult]:
    """RSS after ``hours`` of accelerated stream vs after 10 minutes (looped footage)."""
    from onlook.engine import StreamEngine
    from onlook.perception.pipeline import build_perceiver
    from onlook.sampling import resize_for_analysis

    base = _decode_frames(clip)
    src_fps = 1.0 / max(1e-6, (base[-1].pts - base[0].pts) / max(1, len(base) - 1))
    step = max(1, round(src_fps / fps))
    # Pre-sample and pre-shrink: this measures onlook's memory, not the decoder's.
    loop = [resize_for_analysis(f.image, 640) for f in base[::step]]
    del base  # the full-rate decode is ~1 GB; keep only the looped sample
    period = len(loop) / fps
    total = int(hours * 3600 * fps)
    marks = {int(600 * fps): "10min", total - 1: "end"}
    rss: dict[str, float] = {}

    def frames():
        for i in range(total):
            yield Frame("rss", i, i / fps, time.time(), loop[i % len(loop)])

    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(fps=fps, store=Path(tmp) / "s", budget=50 * 1000**2, detect_text=False)
        perceiver = build_perceiver(settings)
        eng = StreamEngine(None, settings=settings, perceiver=perceiver, stream_id="rss")
        t0 = time.perf_counter()
        for i, frame in enumerate(frames()):
            eng.feed(frame)
            if i in marks:
                gc.collect()
                rss[marks[i]] = _rss_mb()
        eng.finish()
        wall = time.perf_counter() - t0
        size = eng.store.size_bytes()
        eng.close()
    growth = rss["end"] / rss["10min"] - 1.0
    return [BenchResult(
        f"RSS after {hours:g} h vs 10 min of stream",
        f"{rss['10min']:.0f} MB -> {rss['end']:.0f} MB ({100 * growth:+.1f}%), store held at "
        f"{size / 1e6:.1f} MB under a 50 MB budget; {total} frames ({hours:g} h at {fps:g} fps, "
        f"{clip.name} looped every {period:.0f} s) in {wall:.0f} s, OCR off",
        "within 10%", abs(growth) <= 0.10, {"cmd": f"onlook bench --only rss --hours {hours:g}"})]


def bench_query(clip: Path, hours: float = 24.0, fps: float = 2.0, n_queries: int = 60) -> list[BenchResult]:
    """ask/search latency over a store holding ``hours`` of stream.

    The store is filled by the real memory path (Memory.add) from analyses of
    the clip, replayed with advancing times, so it holds what ``watch`` would.
    """
    from onlook.answer.extractive import ExtractiveAnswerer
    from onlook.memory import Memory, Store
    from onlook.perception.pipeline import build_perceiver
    from onlook.query.search import MemoryView, search

    base = _decode_frames(clip)
    settings = Settings(fps=fps, detect_faces=False)
    perceiver = build_perceiver(settings)
    from onlook.sampling import FpsSampler

    sampler = FpsSampler(fps)
    analyses = [perceiver.analyze(f) for f in base if sampler.keep(f.pts)]
    del base
    period = len(analyses) / fps
    total = int(hours * 3600 * fps)
    with tempfile.TemporaryDirectory() as tmp:
        store = Store(Path(tmp) / "s", budget_bytes=10 * 1000**3)
        mem = Memory(store, "q")
        t0 = time.perf_counter()
        from onlook.types import Analysis, Observation

        for i in range(total):
            a = analyses[i % len(analyses)]
            t = (i // len(analyses)) * period + (a.frame.pts - analyses[0].frame.pts)
            obs = [Observation(t, o.kind, o.label, o.score, o.box,
                               None if o.track_id is None else o.track_id + 10000 * (i // len(analyses)),
                               o.attrs) for o in a.observations]
            frame = Frame("q", i, t, time.time(), a.frame.image)
            mem.add(Analysis(frame, obs, a.analysed_fraction, a.people, None))
        mem.flush()
        fill_s = time.perf_counter() - t0
        size = store.size_bytes()
        view = MemoryView(store, stream_id="q")
        ans = ExtractiveAnswerer()
        questions = ["how many people are visible now?", "when did someone first enter?",
                     "how many people entered in the last 10 minutes?", "when was the last time someone left?",
                     "is there anyone in red right now?", "what happened in the last 2 minutes?",
                     "how many people entered so far?", "what is the man carrying?"]
        searches = ["person in red entering", "people leaving on the left", "motion in the lower right",
                    "a person in blue"]
        rng = np.random.default_rng(0)
        ask_ms: list[float] = []
        search_ms: list[float] = []
        end = total / fps
        for i in range(n_queries):
            at = float(rng.uniform(0.5, 1.0) * end)
            q = questions[i % len(questions)]
            t1 = time.perf_counter()
            ans.answer(q, view, at=at)
            ask_ms.append((time.perf_counter() - t1) * 1000)
            s = searches[i % len(searches)]
            t1 = time.perf_counter()
            search(view, s + " in the last 10 minutes" if i % 2 else s, until=at)
            search_ms.append((time.perf_counter() - t1) * 1000)
        store.close()
    cmd = f"onlook bench --only query --hours {hours:g}"
    p95a, p95s = _pct(ask_ms, 95), _pct(search_ms, 95)
    return [
        BenchResult(f"ask latency, store of {hours:g} h", f"p50 {_pct(ask_ms, 50):.1f} ms, p95 {p95a:.1f} ms "
                    f"({n_queries} questions; store {size / 1e6:.0f} MB, filled in {fill_s:.0f} s)", "p95 < 50 ms",
                    p95a < 50, {"cmd": cmd}),
        BenchResult(f"search latency, store of {hours:g} h", f"p50 {_pct(search_ms, 50):.1f} ms, p95 {p95s:.1f} ms",
                    "p95 < 50 ms", p95s < 50, {"cmd": cmd}),
    ]


def bench_alert_delay(clip: Path, seconds: float = 60.0) -> list[BenchResult]:
    """Event-to-alert delay with the file paced in real time (like a live camera)."""
    from onlook.engine import StreamEngine

    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(fps=2.0, realtime=True, store=Path(tmp) / "s")
        eng = StreamEngine(str(clip), settings=settings, alerts=["a person enters the view"], until_s=seconds)
        eng.run()
        delays = list(eng.stats["alert_delays_s"])
        eng.close()
    p95 = _pct(delays, 95)
    return [BenchResult("live event-to-alert delay", f"p50 {_pct(delays, 50) * 1000:.0f} ms, p95 "
                        f"{p95 * 1000:.0f} ms over {len(delays)} alerts ({seconds:.0f} s of {clip.name} at real-time "
                        "pace; from the frame's decode to the alert's emission)", "p95 <= 1 s",
                        bool(delays) and p95 <= 1.0, {"cmd": f"onlook bench --only delay --clip {clip.name}"})]


# The stand-in model server, run as its own process (``python -c``) so that its work is not
# billed to the process being measured, as a real model server's would not be. Stdlib only.
_VLM_STANDIN = r'''
import json, sys, time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

model_s, words = float(sys.argv[1]), sys.argv[2].split(" ")
# Encoded once: the stand-in's own work shares this machine's cores with what is measured.
CHUNKS = [b"data: " + json.dumps({"id": "b", "object": "chat.completion.chunk", "created": 0, "model": "bench",
                                  "choices": [{"index": 0, "delta": {"content": w + " "}, "finish_reason": None}]}
                                 ).encode() + b"\n\n" for w in words]


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as real servers: the client reuses its connection

    def log_message(self, *args):
        pass

    def _chunk(self, data):
        self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
        self.wfile.flush()

    def do_POST(self):
        self.rfile.read(int(self.headers.get("Content-Length") or 0))  # the request, images and all
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        # Half the model time before the first token (prefill), the rest spread over the tokens.
        time.sleep(model_s / 2)
        for chunk in CHUNKS:
            self._chunk(chunk)
            time.sleep(model_s / 2 / len(CHUNKS))
        self.wfile.write(b"e\r\ndata: [DONE]\n\n\r\n0\r\n\r\n")  # the last event and the end, at once
        self.wfile.flush()


class Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address):
        pass  # the client drops its connection after [DONE] (openai's Stream does): not an error


srv = Server(("127.0.0.1", 0), Handler)
print(srv.server_address[1], flush=True)
srv.serve_forever()
'''

_VLM_REPLY = ("A person in a red jacket walks in from the right at 00:12, crosses in front of the shop and "
              "leaves on the left at 00:19; nobody else comes near the door after that, and nobody is seen "
              "carrying anything large.")


@contextlib.contextmanager
def _standin_vlm(model_s: float) -> Iterator[tuple[str, int]]:
    """An OpenAI-compatible chat server in a subprocess on 127.0.0.1 that "thinks" ``model_s`` per answer.

    It reads each request whole, waits ``model_s / 2``, then streams
    ``_VLM_REPLY`` one word per SSE chunk over another ``model_s / 2``, as a
    model server streams tokens.

    Yields:
        Its ``/v1`` base URL, and its process id (to read the CPU it used).

    Raises:
        RuntimeError: it did not start within 30 s.
    """
    import selectors
    import subprocess
    import sys

    proc = subprocess.Popen([sys.executable, "-c", _VLM_STANDIN, repr(model_s), _VLM_REPLY],
                            stdout=subprocess.PIPE, stdin=subprocess.DEVNULL)
    try:
        assert proc.stdout is not None
        with selectors.DefaultSelector() as sel:  # a bounded wait for the port it bound
            sel.register(proc.stdout, selectors.EVENT_READ)
            line = proc.stdout.readline() if sel.select(30) else b""
        if not line.strip().isdigit():
            raise RuntimeError("the stand-in VLM server did not start within 30 s")
        yield f"http://127.0.0.1:{int(line)}/v1", proc.pid
    finally:
        stop_process(proc)
        if proc.stdout:
            proc.stdout.close()


def bench_vlm(clip: Path, fps: float = 2.0, n_questions: int = 40, model_s: float = 1.0, pairs: int = 8,
              loops: int = 4) -> list[BenchResult]:
    """VLM answering: context-building time, answer overhead without the model, ingest with an answer in flight.

    The model is a stand-in server in its own process (:func:`_standin_vlm`),
    so the measured process does only what onlook does around a real one:
    context, JPEG data URLs, the request, and parsing the streamed reply.
    Ingest is measured in ``pairs`` interleaved pairs of runs (without, with
    questions asked back to back), each over the sampled clip looped ``loops``
    times (stream time keeps increasing), so that several answers fall inside
    every run. The drop is beyond noise when it exceeds twice the standard
    error of a difference of two means of ``pairs`` runs, taken from the
    spread of the runs without questions.
    """
    import psutil

    from onlook.answer.context import ContextBudget, build_context
    from onlook.answer.openai_vlm import OpenAIAnswerer
    from onlook.engine import StreamEngine
    from onlook.perception.pipeline import build_perceiver
    from onlook.sampling import FpsSampler, resize_for_analysis

    sampler = FpsSampler(fps)
    base = [Frame(f.stream_id, f.seq, f.pts, f.wall, resize_for_analysis(f.image, 640))
            for f in _decode_frames(clip) if sampler.keep(f.pts)]
    period = base[-1].pts + 1.0 / fps
    frames = [Frame(f.stream_id, k * len(base) + i, f.pts + k * period, f.wall, f.image)
              for k in range(loops) for i, f in enumerate(base)]
    settings = Settings(fps=fps, detect_text=False)
    perceiver = build_perceiver(settings)
    questions = ["what is the person in red carrying?", "when did someone first enter?", "what happened so far?",
                 "is anyone near the door?", "how many people are visible now?"]
    warm = 10

    def ingest(store_dir: Path, vlm: Any) -> tuple[float, list[float], list[float]]:
        """Feed the frames; with a ``vlm``, a thread asks questions back to back meanwhile.

        Returns ingest fps, each answer's wall time, and each answer's CPU
        time on the asking thread (what answering costs the watching process).
        """
        eng = StreamEngine(None, settings=Settings(fps=fps, detect_text=False, store=store_dir), perceiver=perceiver,
                           stream_id="vlm", answerer=vlm)
        stop = threading.Event()
        wall_s: list[float] = []
        cpu_s: list[float] = []

        def ask_loop() -> None:
            i = 0
            while not stop.is_set():
                t0, c0 = time.perf_counter(), time.thread_time()
                eng.ask(questions[i % len(questions)])
                cpu_s.append(time.thread_time() - c0)
                wall_s.append(time.perf_counter() - t0)
                i += 1

        for f in frames[:warm]:  # warm up, and something to answer about
            eng.feed(f)
        th = threading.Thread(target=ask_loop, daemon=True) if vlm is not None else None
        if th:
            th.start()
        t0 = time.perf_counter()
        for f in frames[warm:]:
            eng.feed(f)
        wall = time.perf_counter() - t0
        stop.set()
        if th:
            th.join(60)
        eng.finish()
        eng.close()
        return (len(frames) - warm) / wall, wall_s, cpu_s

    def measure(tmp: Path, url: str, pid: int, vlm: Any, tag: str) -> dict[str, Any]:
        """Interleaved runs without and with questions asked of ``vlm``."""
        ingest(tmp / f"{tag}-warm", vlm)  # discarded: first-use costs on both sides
        server = psutil.Process(pid)
        server_cpu0 = sum(server.cpu_times()[:2])
        out: dict[str, Any] = {"plain": [], "busy": [], "wall": [], "cpu": []}
        for i in range(2 * pairs):  # interleaved: without, with, without, with...
            r = ingest(tmp / f"{tag}{i}", vlm if i % 2 else None)
            out["busy" if i % 2 else "plain"].append(r[0])
            out["wall"] += r[1]
            out["cpu"] += r[2]
        out["server_ms"] = (sum(server.cpu_times()[:2]) - server_cpu0) * 1000 / max(1, len(out["wall"]))
        return out

    from onlook.answer.process import ProcessAnswerer

    runs: dict[str, dict[str, Any]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        with _standin_vlm(model_s) as (url, pid):
            # The default: the answerer in its own process (settings.answerer_process).
            child = ProcessAnswerer(Settings(answerer="openai", answerer_model="bench", answerer_base_url=url,
                                             answerer_retries=0, answerer_timeout_s=30))
            try:
                runs["process"] = measure(Path(tmp), url, pid, child, "p")
            finally:
                child.close()
            # For comparison: the same answerer on a thread of the watching process.
            thread_vlm = OpenAIAnswerer("bench", base_url=url, retries=0, timeout_s=30)
            runs["thread"] = measure(Path(tmp), url, pid, thread_vlm, "t")
            thread_vlm.client.close()
        # Context building and the answer path's own overhead, on a store of one pass of the clip.
        from onlook.memory import Memory, Store
        from onlook.query.search import MemoryView

        store = Store(Path(tmp) / "d")
        mem = Memory(store, "vlm", recent_window=settings.recent_window)
        for f in base:
            mem.add(perceiver.analyze(f))
        view = MemoryView(store, live=mem, stream_id="vlm")
        budget = ContextBudget()
        ctx_ms: list[float] = []
        over_ms: list[float] = []
        end = base[-1].pts
        with _standin_vlm(0.0) as (url, _):
            vlm = OpenAIAnswerer("bench", base_url=url, budget=budget, retries=0, timeout_s=30)
            vlm.answer(questions[0], view, at=end)  # the first request opens the connection
            for i in range(n_questions):
                q = questions[i % len(questions)]
                at = end * (0.5 + 0.5 * i / max(1, n_questions - 1))
                t0 = time.perf_counter()
                ctx = build_context(q, view, at, budget=budget)
                ctx_ms.append((time.perf_counter() - t0) * 1000)
                t0 = time.perf_counter()
                vlm.answer(q, view, at=at)
                over_ms.append((time.perf_counter() - t0) * 1000)
            vlm.client.close()
            # The default path adds a pipe to the child process and the live snapshot.
            child = ProcessAnswerer(Settings(answerer="openai", answerer_model="bench", answerer_base_url=url,
                                             answerer_retries=0, answerer_timeout_s=30))
            over_proc_ms: list[float] = []
            try:
                child.answer(questions[0], view, at=end)
                for i in range(n_questions):
                    at = end * (0.5 + 0.5 * i / max(1, n_questions - 1))
                    t0 = time.perf_counter()
                    child.answer(questions[i % len(questions)], view, at=at)
                    over_proc_ms.append((time.perf_counter() - t0) * 1000)
            finally:
                child.close()
        n_imgs = len(ctx.frames)
        store.close()
    cmd = f"onlook bench --only vlm --clip {clip.name}"
    p95c, p95o = _pct(ctx_ms, 95), _pct(over_proc_ms, 95)
    n_frames = len(frames) - warm
    results = [
        BenchResult("VLM context building", f"p50 {_pct(ctx_ms, 50):.1f} ms, p95 {p95c:.1f} ms ({n_questions} "
                    f"questions; retrieval + recent frames + dedup + event log; {n_imgs} images of <= "
                    f"{budget.image_side} px)", "p95 < 50 ms", p95c < 50, {"cmd": cmd}),
        BenchResult("VLM answer overhead excluding the model",
                    f"p50 {_pct(over_proc_ms, 50):.1f} ms, p95 {p95o:.1f} ms with the answerer in its own process "
                    f"(the default; on a thread: p50 {_pct(over_ms, 50):.1f} ms, p95 {_pct(over_ms, 95):.1f} ms); "
                    "context + JPEG data URLs + request + streamed reply parsing (+ the live snapshot and the pipe); "
                    f"a stand-in server in another process on 127.0.0.1 streams a {len(_VLM_REPLY.split())}-chunk "
                    "reply at once", "p95 < 50 ms", p95o < 50, {"cmd": cmd}),
    ]
    for kind, what in (("process", "answerer in its own process (the default)"),
                       ("thread", "answerer on a thread of the watching process (answerer_process=false)")):
        r = runs[kind]
        plain, busy = r["plain"], r["busy"]
        mean_p, mean_b = float(np.mean(plain)), float(np.mean(busy))
        sd_p, sd_b = float(np.std(plain, ddof=1)), float(np.std(busy, ddof=1))
        drop = 1.0 - mean_b / mean_p
        # Two standard errors of a difference of two means of `pairs` runs each, both with the spread
        # of the runs without questions: a drop within this is not told apart from run-to-run noise.
        noise = 2.0 * sd_p * float(np.sqrt(2.0 / pairs)) / mean_p
        results.append(BenchResult(
            f"ingest with a VLM answer in flight: {what}",
            f"{mean_b:.1f} fps (sd {sd_b:.1f}, {min(busy):.1f}-{max(busy):.1f}) with questions asked back to "
            f"back vs {mean_p:.1f} fps (sd {sd_p:.1f}, {min(plain):.1f}-{max(plain):.1f}) without: drop "
            f"{100 * drop:+.1f}%, noise {100 * noise:.1f}% (2 standard errors of the difference, from "
            f"the runs without); {pairs} interleaved pairs of runs of {n_frames} frames ({loops} passes of "
            f"the clip at {fps:g} fps); {len(r['wall'])} answers, {model_s:g} s each from a stand-in "
            f"server in another process (its own CPU: {r['server_ms']:.0f} ms per answer, on the same cores); "
            f"the watching process's side of an answer: {_pct(r['cpu'], 50) * 1000:.1f} ms CPU (p50) on the "
            "asking thread; faces+people on, OCR off",
            "no drop beyond noise" if kind == "process" else "(comparison)",
            drop <= noise if kind == "process" else None,
            {"cmd": cmd, "fps_without": plain, "fps_with": busy}))
    return results


def _serve_clip(clip: Path, out: Path, seconds: float, size: tuple[int, int] = (640, 480)) -> Path:
    """``clip`` resized to ``size`` and looped to at least ``seconds``, at its own frame rate (PyAV)."""
    import av
    import cv2

    with av.open(str(clip)) as c:
        s = c.streams.video[0]
        rate = s.average_rate or 10
        frames = [cv2.resize(f.to_ndarray(format="bgr24"), size, interpolation=cv2.INTER_AREA) for f in c.decode(s)]
    with av.open(str(out), "w") as c:
        s = c.add_stream("mpeg4", rate=rate)
        s.width, s.height, s.pix_fmt, s.bit_rate = size[0], size[1], "yuv420p", 2_000_000
        for i in range(int(seconds * float(rate)) + 1):
            for pkt in s.encode(av.VideoFrame.from_ndarray(frames[i % len(frames)], format="bgr24")):
                c.mux(pkt)
        for pkt in s.encode():
            c.mux(pkt)
    return out


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
    import asyncio

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
    import asyncio
    import contextlib
    import json as _json
    import shutil
    import signal
    import socket
    import subprocess
    import sys

    import httpx
    import psutil

    cpus = sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else list(range(os.cpu_count() or 1))
    pin = len(cpus) > server_cores
    srv_cpus, cli_cpus = (cpus[:server_cores], cpus[server_cores:]) if pin else (cpus, cpus)
    tmp = Path(tempfile.mkdtemp(prefix="onlook-bench-serve-"))
    media = tmp / "media"
    media.mkdir()
    # Long enough for warm-up, the quiet window and both loads (the clip is looped).
    video = _serve_clip(clip, media / "cam.mp4", seconds=150 + window_s)
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = int(sock.getsockname()[1])
    log_path = tmp / "server.log"
    cmd = [sys.executable, "-c", "from onlook.cli import main; main()", "serve", "--host", "127.0.0.1",
           "--port", str(port), "--store-root", str(tmp / "root"), "--allow-files", str(media),
           "--log-level", "warning"]
    with open(log_path, "wb") as log_file:
        proc = subprocess.Popen(cmd, stdout=log_file, stderr=subprocess.STDOUT)
    if pin:  # before it has loaded anything, let alone started a stream
        os.sched_setaffinity(proc.pid, srv_cpus)
        os.sched_setaffinity(0, cli_cpus)
    ids = [f"cam{i}" for i in range(streams)]
    samples: dict[str, list[tuple[float, dict[str, Any]]]] = {sid: [] for sid in ids}
    server_cpu = psutil.Process(proc.pid)

    def cpu_s() -> float:
        t = server_cpu.cpu_times()
        return t.user + t.system

    def failed(why: str) -> RuntimeError:
        return RuntimeError(f"{why}; server log:\n{log_path.read_text(errors='replace')[-2000:]}")

    async def run() -> dict[str, Any]:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=httpx.Timeout(30.0)) as c:
            deadline = time.monotonic() + 60
            while True:
                with contextlib.suppress(httpx.TransportError):
                    if (await c.get("/healthz")).status_code == 200:
                        break
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise failed("onlook serve did not start within 60 s")
                await asyncio.sleep(0.2)
            # Cameras are not in step: start the streams spread over one analysis period, so that their
            # analyses are spread over each second instead of all falling at once.
            t_create = time.monotonic()
            for i, sid in enumerate(ids):
                await asyncio.sleep(max(0.0, t_create + i / (fps * streams) - time.monotonic()))
                r = await c.post("/streams", json={"source": str(video), "id": sid, "fps": fps, "realtime": True})
                if r.status_code != 201:
                    raise failed(f"could not create stream {sid}: {r.text}")

            async def sample() -> None:
                now = time.time()
                for st in (await c.get("/streams")).json()["streams"]:
                    samples[st["id"]].append((now, st))

            async def sampler(stop: asyncio.Event) -> None:
                while not stop.is_set():
                    await sample()
                    with contextlib.suppress(asyncio.TimeoutError):
                        await asyncio.wait_for(stop.wait(), 1.0)

            def settled() -> bool:  # running, past the start, and done catching up after the models loaded
                for s in samples.values():
                    if len(s) < 6 or s[-1][1]["state"] != "running" or s[-1][1]["t"] < 5:
                        return False
                    (w0, a), (w1, b) = s[-6], s[-1]
                    if (b["t"] - a["t"]) / (w1 - w0) > 1.15:
                        return False
                return True

            deadline = time.monotonic() + 120
            while not settled():
                if time.monotonic() > deadline:
                    if any(s and s[-1][1]["state"] != "running" for s in samples.values()):
                        raise failed("the streams did not start within 120 s")
                    break  # still catching up after 2 minutes: measure anyway (the figures will show it)
                await sample()
                await asyncio.sleep(1.0)

            async def phase(load: Any) -> tuple[float, float, float, float]:
                stop = asyncio.Event()
                task = asyncio.create_task(sampler(stop))
                w0, c0 = time.time(), cpu_s()
                await asyncio.wait_for(load, 300)
                w1, c1 = time.time(), cpu_s()
                stop.set()
                await task
                return w0, w1, (c1 - c0) / (w1 - w0), w1 - w0

            def load(path: str, body: Any, lat: list[float], failures: list[str]) -> Any:
                def reqs(k: int) -> list[tuple[str, bytes]]:
                    return [(path.format(sid=ids[(k + j) % len(ids)]),
                             _json.dumps(body(ids[(k + j) % len(ids)], _SERVE_QUESTIONS[(k * 7 + j) % 6])).encode())
                            for j in range(requests)]

                return asyncio.gather(*(_load_client(port, reqs(k), lat, failures, load_client)
                                        for k in range(clients)))

            out: dict[str, Any] = {"quiet": await phase(asyncio.sleep(window_s))}
            ask_lat: list[float] = []
            ask_fail: list[str] = []
            out["ask"] = await phase(load("/streams/{sid}/ask", lambda sid, q: {"question": q}, ask_lat, ask_fail))
            chat_lat: list[float] = []
            chat_fail: list[str] = []
            out["chat"] = await phase(load("/v1/chat/completions", lambda sid, q: {
                "model": sid, "messages": [{"role": "user", "content": q}]}, chat_lat, chat_fail))
            solo: list[float] = []
            await _load_client(port, [(f"/streams/{ids[j % len(ids)]}/ask",
                                       _json.dumps({"question": _SERVE_QUESTIONS[j % 6]}).encode())
                                      for j in range(20)], solo, [], load_client)
            out.update(ask_lat=ask_lat, ask_fail=ask_fail, chat_lat=chat_lat, chat_fail=chat_fail, solo=solo)
            return out

    try:
        res = asyncio.run(asyncio.wait_for(run(), 900))
    finally:
        stop_process(proc, grace_s=30, sig=signal.SIGINT)  # a clean shutdown, as Ctrl-C
        if pin:
            os.sched_setaffinity(0, cpus)
        shutil.rmtree(tmp, ignore_errors=True)

    def window(sid: str, w0: float, w1: float) -> dict[str, float]:
        pts = [(w, st) for w, st in samples[sid] if w0 - 0.5 <= w <= w1 + 0.5]
        (a_w, a), (b_w, b) = pts[0], pts[-1]
        dt = max(1e-6, b_w - a_w)
        behind = [w - st["t"] for w, st in pts]  # wall clock minus stream time: constant while keeping up
        return {"fps": (b["frames_kept"] - a["frames_kept"]) / dt, "behind_max": max(behind),
                "behind_min": min(behind), "dropped": b["dropped"] - a["dropped"]}

    quiet_w = res["quiet"][:2]
    load_w = (res["ask"][0], res["chat"][1])
    quiet = {sid: window(sid, *quiet_w) for sid in ids}
    loaded = {sid: window(sid, *load_w) for sid in ids}
    per_stream: dict[str, dict[str, float]] = {}
    for sid in ids:
        best = min(quiet[sid]["behind_min"], loaded[sid]["behind_min"])
        per_stream[sid] = {"fps_quiet": round(quiet[sid]["fps"], 3), "fps_load": round(loaded[sid]["fps"], 3),
                           "lag_quiet_s": round(quiet[sid]["behind_max"] - best, 2),
                           "lag_load_s": round(loaded[sid]["behind_max"] - best, 2),
                           "dropped_quiet": quiet[sid]["dropped"], "dropped_load": loaded[sid]["dropped"]}
    fq = [p["fps_quiet"] for p in per_stream.values()]
    fl = [p["fps_load"] for p in per_stream.values()]
    lag_q = max(p["lag_quiet_s"] for p in per_stream.values())
    lag_l = max(p["lag_load_s"] for p in per_stream.values())
    dropped = sum(p["dropped_quiet"] + p["dropped_load"] for p in per_stream.values())
    cores = (f"server pinned to {len(srv_cpus)} cores, load generator on {len(cli_cpus)} others" if pin else
             f"server and load generator share this machine's {len(cpus)} cores")
    client_desc = "raw HTTP/1.1 keep-alive clients" if load_client == "raw" else "httpx.AsyncClient clients"
    cmd = "onlook bench --only serve"
    keeps_up = min(fl) >= 0.9 * fps and min(fq) >= 0.9 * fps and lag_l <= 2.0 + 1.0 / fps and not dropped
    rows = [BenchResult(
        f"serve: ingest of {streams} streams, no clients vs {clients} asking",
        f"analysed fps per stream min {min(fl):.2f} / mean {np.mean(fl):.2f} while clients ask vs min {min(fq):.2f} "
        f"/ mean {np.mean(fq):.2f} with none; worst lag {lag_l:.1f} s vs {lag_q:.1f} s; {dropped} frames dropped; "
        f"server CPU {res['ask'][2]:.2f} / {res['chat'][2]:.2f} cores under load vs {res['quiet'][2]:.2f} quiet "
        f"({streams} x 640x480 {clip.name} looped and paced in real time at {fps:g} fps, default perception; "
        f"{res['quiet'][3]:.0f} s quiet, {load_w[1] - load_w[0]:.0f} s loaded; {cores})",
        f"{streams} streams at {fps:g} fps on {server_cores} cores keep up (fps ~{fps:g}, lag ~0)", keeps_up,
        {"cmd": cmd, "per_stream": per_stream})]
    for key, what, target in (("ask", "ask latency (POST /streams/{id}/ask)", "p95 < 200 ms"),
                              ("chat", "chat completion latency (POST /v1/chat/completions)", "p95 < 200 ms (as ask)")):
        lat, fails, secs = res[f"{key}_lat"], res[f"{key}_fail"], res[key][3]
        p95 = _pct(lat, 95)
        solo = f"; one client alone: p50 {_pct(res['solo'], 50):.0f} ms" if key == "ask" else ""
        rows.append(BenchResult(
            f"serve: {what}, {clients} concurrent clients",
            f"p50 {_pct(lat, 50):.0f} ms, p95 {p95:.0f} ms over {len(lat)} requests ({requests} per client, back to "
            f"back, {len(lat) / max(1e-6, secs):.0f}/s; {len(fails)} failed{solo}); extractive answerer, {streams} "
            f"streams ingesting; {client_desc}; {cores}",
            target, p95 < 200 and not fails,
            {"cmd": cmd, "failures": fails[:5]}))
    return rows


def _faults(clip: Path) -> list[BenchResult]:
    from onlook.faults import bench_faults  # starts ffmpeg producers and child watchers: loaded only when asked

    return bench_faults(clip)


def run_bench(clip: Path, *, only: list[str] | None = None, hours: float = 10.0, query_hours: float = 24.0,
              delay_s: float = 60.0, log: Callable[[str], None] = print) -> list[BenchResult]:
    """Run the selected benchmarks; returns their results."""
    parts = {"ingest": lambda: bench_ingest(clip), "rss": lambda: bench_rss(clip, hours),
             "query": lambda: bench_query(clip, query_hours), "delay": lambda: bench_alert_delay(clip, delay_s),
             "vlm": lambda: bench_vlm(clip), "serve": lambda: bench_serve(clip),
             "speech": lambda: bench_speech(clip), "faults": lambda: _faults(clip)}
    out: list[BenchResult] = []
    for name, fn in parts.items():
        if only and name not in only:
            continue
        log(f"bench: {name} ...")
        t0 = time.perf_counter()
        res = fn()
        for r in res:
            log(f"  {r.name}: {r.figure}  [target {r.target}: {'met' if r.ok else 'NOT met'}]")
        log(f"  ({time.perf_counter() - t0:.0f} s)")
        out.extend(res)
    return out


def _row(r: BenchResult, command: str) -> str:
    met = "yes" if r.ok else ("no" if r.ok is not None else "-")
    return f"| {r.name} | {r.figure} | {r.target} | {met} | `{r.details.get('cmd', command)}` |"


def write_markdown(results: list[BenchResult], path: Path, command: str) -> None:
    """Write BENCHMARKS.md, or update it: the rows a command produces are replaced, everything else kept.

    A row belongs to the command in its last column, so ``onlook bench --only vlm``
    replaces the VLM rows (where they were) and leaves the other rows, the
    introduction and the notes as they are.
    """
    import cv2

    new = [_row(r, command) for r in results]
    cmds = {f"`{r.details.get('cmd', command)}`" for r in results}
    if path.is_file():
        old = path.read_text().splitlines()
        if any(line.startswith("| benchmark |") for line in old):
            out: list[str] = []
            placed = False
            for line in old:
                if line.startswith("| ") and line.rstrip().rstrip("|").rstrip().endswith(tuple(cmds)):
                    if not placed:
                        out += new
                        placed = True
                    continue
                out.append(line)
            if not placed:  # rows of a command not in the table yet: after the table's last row
                last = max(i for i, line in enumerate(out) if line.startswith("| "))
                out[last + 1:last + 1] = new
            path.write_text("\n".join(out) + "\n")
            return
    lines = [
        "# Benchmarks", "",
        f"Produced by `{command}` on {time.strftime('%Y-%m-%d')}, "
        f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}, "
        f"OpenCV {cv2.__version__}. Every ratio compares two measurements taken in the same run.", "",
        "| benchmark | figure | target | met | command for this row alone |", "|---|---|---|---|---|",
        *new,
    ]
    path.write_text("\n".join(lines) + "\n")


# --- speech ---------------------------------------------------------------------------------------

_SENTENCES = [
    "The delivery van will arrive at noon.", "Please put the cover on the grill.",
    "The alarm is ringing, everyone go outside.", "Can you help me carry these boxes?",
    "The meeting starts in ten minutes.", "Turn left at the second traffic light.",
    "I left my keys on the kitchen table.", "The weather will be sunny tomorrow.",
]


def _speech_clip(clip: Path, out: Path, seconds: float, gap_s: float) -> tuple[Path, list[tuple[float, float, str]]]:
    """``clip``'s picture (its first ``seconds``) with espeak-ng sentences every ``gap_s`` seconds."""
    from onlook.eval.speech_clip import make_speech_clip, speak

    frames = [f.image for f in _decode_frames(clip)]
    fps = 10
    need = int(seconds * fps)
    while len(frames) < need:  # loop a short clip
        frames = frames + frames
    phrases: list[tuple[float, str]] = []
    t, i = 1.0, 0
    while t < seconds - 4.0:
        text = _SENTENCES[i % len(_SENTENCES)]
        phrases.append((t, text))
        t += len(speak(text)[0]) / 22050 + gap_s
        i += 1
    return out, make_speech_clip(out, phrases, seconds=seconds, fps=fps, frames=frames[:need])


def _watch(path: Path, *, speech: bool, realtime: bool, fps: float = 2.0,
           **kw: Any) -> tuple[dict[str, Any], list[float], list[tuple[float, float]]]:
    """Watch a file; return its final status, the lag samples and, per transcript segment,
    (wall time it was delivered, stream time its speech ended)."""
    from onlook.engine import StreamEngine

    lags: list[float] = []
    heard: list[tuple[float, float]] = []
    with tempfile.TemporaryDirectory() as tmp:
        eng = StreamEngine(str(path), settings=Settings(fps=fps, realtime=realtime, store=Path(tmp) / "s",
                                                        speech=speech, speech_language="en", **kw))

        def on(m: dict[str, Any]) -> None:
            if m["type"] == "status" and "lag_s" in m and m.get("state") is None:
                lags.append(float(m["lag_s"]))
            elif m["type"] == "speech":
                heard.append((time.time(), float(m["end"])))

        eng.subscribe(on)
        t0 = time.time()
        eng.run()
        st = eng.status()
        st["wall_s"] = time.time() - t0
        st["wall0"] = t0
        st["speech_busy_s"] = eng.speech.busy_s if eng.speech is not None else 0.0
        eng.close()
    return st, lags, heard


def bench_speech(clip: Path, seconds: float = 60.0) -> list[BenchResult]:
    """Speech: delay to a searchable transcript at real-time pace, video with speech on vs off, and
    transcription cost on continuous speech (Whisper base, int8, in its own process at nice 10)."""
    from onlook.eval.speech_clip import espeak_available
    from onlook.perception.speech_model import resolve_model
    from onlook.perception.speech_worker import speech_available

    cmd = f"onlook bench --only speech --clip {clip.name}"
    if not speech_available() or not espeak_available():
        return [BenchResult("speech", "not measured: needs onlook[speech] and espeak-ng", "-", None, {"cmd": cmd})]
    resolve_model(None)  # prepared once, before anything is timed
    with tempfile.TemporaryDirectory() as tmp:
        talk, spans = _speech_clip(clip, Path(tmp) / "talk.mp4", seconds, gap_s=2.0)
        said_s = sum(b - a for a, b, _ in spans)
        # 1. Real-time pace, one stream at 2 fps, default perception: speech off, then on, then off again.
        runs = {}
        for label, on in (("off", False), ("on", True), ("off2", False)):
            runs[label] = _watch(talk, speech=on, realtime=True)
        st_on, lags_on, heard = runs["on"]
        wall0 = st_on["wall0"]
        # Delay: when the text was delivered (stored, searchable) minus when the end of its speech
        # was played (wall0 + its stream time at real-time pace).
        delays = [max(0.0, w - (wall0 + end)) for w, end in heard]
        # 2. Continuous speech, the file read as fast as it goes, video detectors off: what transcription costs.
        cont, cspans = _speech_clip(clip, Path(tmp) / "cont.mp4", seconds, gap_s=0.3)
        st_c, _, _ = _watch(cont, speech=True, realtime=False, detect_people=False, detect_faces=False,
                            detect_text=False)
        cont_said = sum(b - a for a, b, _ in cspans)
    off_fps = [runs[k][0]["frames_kept"] for k in ("off", "off2")]
    lag95 = {k: _pct(runs[k][1], 95) if runs[k][1] else 0.0 for k in runs}
    noise = abs(off_fps[0] - off_fps[1])
    drop = min(off_fps) - st_on["frames_kept"]
    p50, p95 = _pct(delays, 50), _pct(delays, 95)
    cost = st_c["wall_s"] / max(1e-9, seconds)
    return [
        BenchResult("speech: delay to searchable transcript (live pace)",
                    f"p50 {p50:.2f} s, p95 {p95:.2f} s over {len(delays)} segments ({seconds:.0f} s of {clip.name}'s "
                    f"picture with {len(spans)} espeak-ng sentences, {said_s:.0f} s of speech, at real-time pace; "
                    "from the end of the words being played to their text in the store; includes the 0.5 s of "
                    "silence that closes a stretch)", "p95 <= 5 s", bool(delays) and p95 <= 5.0, {"cmd": cmd}),
        BenchResult("speech: video with speech on vs off (1 live stream, 2 fps)",
                    f"frames analysed {st_on['frames_kept']} with speech vs {off_fps[0]} / {off_fps[1]} without "
                    f"(run-to-run difference {noise}); lag p95 {lag95['on']:.2f} s vs {lag95['off']:.2f} / "
                    f"{lag95['off2']:.2f} s; dropped {st_on['dropped']} vs {runs['off'][0]['dropped']} / "
                    f"{runs['off2'][0]['dropped']} (default perception; off, on, off in a row)",
                    "no drop beyond noise", drop <= max(1, noise), {"cmd": cmd}),
        BenchResult("speech: transcription cost, continuous speech (file)",
                    f"{cost:.2f} s of wall time per s of clip ({1 / cost:.1f}x real time): {seconds:.0f} s with "
                    f"{cont_said:.0f} s of speech read as fast as it goes, video detectors off; the speech process "
                    f"was busy {st_c['speech_busy_s']:.1f} s; {st_c.get('speech_segments', 0)} segments "
                    "(Whisper base int8, beam 1, 2 threads)", "(reported)", None, {"cmd": cmd}),
    ]
