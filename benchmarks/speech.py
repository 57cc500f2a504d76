"""Speech: delay to a searchable transcript at live pace, video with speech on vs off, transcription cost."""

from __future__ import annotations

import tempfile
import time
from pathlib import Path
from typing import Any

from benchmarks.clips import decode_frames
from benchmarks.results import BenchResult, pct
from onlook.config import Settings

__all__ = ["bench_speech"]

_SENTENCES = [
    "The delivery van will arrive at noon.", "Please put the cover on the grill.",
    "The alarm is ringing, everyone go outside.", "Can you help me carry these boxes?",
    "The meeting starts in ten minutes.", "Turn left at the second traffic light.",
    "I left my keys on the kitchen table.", "The weather will be sunny tomorrow.",
]


def _speech_clip(clip: Path, out: Path, seconds: float, gap_s: float) -> tuple[Path, list[tuple[float, float, str]]]:
    """``clip``'s picture (its first ``seconds``) with espeak-ng sentences every ``gap_s`` seconds."""
    from onlook.eval.speech_clip import make_speech_clip, speak

    frames = [f.image for f in decode_frames(clip)]
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
    lag95 = {k: pct(runs[k][1], 95) if runs[k][1] else 0.0 for k in runs}
    noise = abs(off_fps[0] - off_fps[1])
    drop = min(off_fps) - st_on["frames_kept"]
    p50, p95 = pct(delays, 50), pct(delays, 95)
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
