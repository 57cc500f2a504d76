"""Speech end to end: an engine hearing a clip, the CLI, and (few, short) tests with the real Whisper model.

The tests with Whisper use the offline default model, prepared once per session from its PyPI
packages; they skip with a reason where onlook[speech] or espeak-ng is not installed.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from onlook import Settings
from onlook.engine import StreamEngine
from onlook.eval.speech_clip import espeak_available, make_speech_clip
from onlook.perception.speech import EnergyVad, FakeTranscriber, SpeechPipeline

pytestmark = pytest.mark.timeout(240)

FAST = dict(fps=2.0, detect_faces=False, detect_text=False, detect_people=False)
PHRASES = [(1.5, "the delivery will arrive at noon"), (6.0, "please help me with the cover")]


def fake_speech() -> SpeechPipeline:
    """Tones at the phrases' times, 'transcribed' by a script: everything after Whisper, without it."""
    return SpeechPipeline(FakeTranscriber([(a, a + 1.0, t) for a, t in PHRASES]), vad=EnergyVad())


@pytest.fixture(scope="module")
def tone_clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    p = tmp_path_factory.mktemp("speech") / "tones.mp4"
    make_speech_clip(p, PHRASES, seconds=9, audio="tones")
    return p


def test_engine_stores_emits_and_alerts_on_what_is_said(tone_clip: Path, tmp_path: Path) -> None:
    msgs: list[dict] = []
    eng = StreamEngine(str(tone_clip), settings=Settings(store=tmp_path / "st", **FAST), speech=fake_speech(),
                       alerts=["someone says help"])
    eng.subscribe(msgs.append)
    assert "speech" in eng.capabilities
    eng.run()
    speech = [m for m in msgs if m["type"] == "speech"]
    assert [m["text"] for m in speech] == [t for _, t in PHRASES]
    assert [m["t"] for m in speech] == pytest.approx([1.5, 6.0])
    alerts = [m for m in msgs if m["type"] == "alert"]
    # the alert's time is its word's
    assert [(a["query"], round(a["t"], 2)) for a in alerts] == [("someone says help", round(6.0 + 1 / 6, 2))]
    assert eng.stats["alert_delays_s"] and all(d >= 0 for d in eng.stats["alert_delays_s"])
    assert eng.status()["speech_segments"] == 2
    assert eng.ask("did anyone mention the cover?").value is True
    assert eng.search("delivery")[0].description.startswith("said:")
    eng.close()


def test_with_an_encoder_the_engine_stores_what_was_said_by_meaning(tone_clip: Path) -> None:
    from onlook.perception.encoder import FakeEncoder
    from onlook.perception.pipeline import build_perceiver

    settings = Settings(**FAST)
    enc = FakeEncoder(dim=64)
    eng = StreamEngine(str(tone_clip), settings=settings, speech=fake_speech(),
                       perceiver=build_perceiver(settings, encoder=enc))
    eng.run()
    near = eng.store.similar_speech(enc.encode_texts(["please help me with the cover"])[0], k=1)
    assert [s.text for s, _ in near] == ["please help me with the cover"] and near[0][1] > 0.99
    eng.close()


def test_a_clip_without_sound_starts_no_speech(tmp_path: Path) -> None:
    p = tmp_path / "mute.mp4"
    make_speech_clip(p, [], seconds=3, audio="none")
    eng = StreamEngine(str(p), settings=Settings(**FAST), speech=fake_speech())
    eng.run()
    assert eng.speech is None and eng.stats["frames_kept"] == 6 and eng.error is None
    eng.close()


def test_a_corrupt_audio_track_leaves_the_video_watched(tmp_path: Path) -> None:
    p = tmp_path / "broken.mp4"
    make_speech_clip(p, PHRASES, seconds=4, audio="corrupt")
    msgs: list[dict] = []
    eng = StreamEngine(str(p), settings=Settings(**FAST), speech=fake_speech())
    eng.subscribe(msgs.append)
    eng.run()
    assert eng.error is None and eng.stats["frames_kept"] == 8
    assert not [m for m in msgs if m["type"] in ("speech", "error")]
    eng.close()


def test_no_speech_switches_it_off_and_refuses_speech_alerts(tone_clip: Path) -> None:
    from onlook.errors import UnsupportedQuery

    eng = StreamEngine(str(tone_clip), settings=Settings(speech=False, **FAST))
    assert "speech" not in eng.capabilities
    with pytest.raises(UnsupportedQuery, match="speech"):
        eng.add_alert("someone says help")
    eng.run()
    assert eng.speech is None
    eng.close()


# --- with the real model -------------------------------------------------------------------------

def onlook(*args: str, env: dict | None = None, timeout: float = 200) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "onlook.cli", *args], capture_output=True, text=True,
                          timeout=timeout, env={**os.environ, **(env or {})})


@pytest.fixture(scope="session")
def whisper_model() -> Path:
    """The offline default model, prepared once (idempotent: verified and reused when already built)."""
    pytest.importorskip("faster_whisper", reason="speech tests need onlook[speech] (faster-whisper)")
    from onlook.errors import ModelError
    from onlook.perception.speech_model import prepare_default_model

    try:
        return prepare_default_model()
    except ModelError as e:
        pytest.skip(f"offline speech model unavailable: {e}")


@pytest.fixture(scope="session")
def spoken_clip(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list]:
    if not espeak_available():
        pytest.skip("espeak-ng not installed (apt-get install espeak-ng)")
    p = tmp_path_factory.mktemp("spoken") / "talk.mp4"
    return p, make_speech_clip(p, PHRASES, seconds=9)


@pytest.mark.slow
def test_whisper_hears_the_phrases_at_their_times_and_the_cli_finds_them(whisper_model: Path, spoken_clip,
                                                                          tmp_path: Path) -> None:
    clip, spans = spoken_clip
    store = tmp_path / "st"
    r = onlook("watch", str(clip), "--json", "--store", str(store), "--no-faces", "--no-ocr", "--no-people",
               "--alert", "someone says help", "--language", "en")
    assert r.returncode == 0, r.stderr
    msgs = [json.loads(ln) for ln in r.stdout.splitlines() if ln.strip()]
    speech = [m for m in msgs if m["type"] == "speech"]
    assert len(speech) == 2, speech
    for m, (start, end, _text) in zip(speech, spans):
        assert {"t", "end", "text"} <= set(m)
        assert abs(m["t"] - start) <= 0.5 and abs(m["end"] - end) <= 0.5
        heard = {w["text"].strip(".,!?").lower() for w in m["words"]}
        assert {"delivery", "noon"} <= heard or {"help", "cover"} <= heard
    words = {w["text"].strip(".,").lower(): w for m in speech for w in m["words"]}
    # 'delivery' is the second word of the first phrase, 'help' the second of the second.
    assert 1.5 <= words["delivery"]["start"] <= spans[0][0] + 1.0
    assert spans[1][0] <= words["help"]["start"] + 0.5 <= spans[1][0] + 1.2
    alert = [m for m in msgs if m["type"] == "alert"]
    assert len(alert) == 1 and abs(alert[0]["t"] - words["help"]["start"]) < 0.01
    s = onlook("search", "--store", str(store), "--json", "delivery")
    hits = json.loads(s.stdout)["hits"]
    assert hits and abs(hits[0]["start"] - words["delivery"]["start"]) < 0.01 and "said" in hits[0]["description"]
    a = onlook("ask", "--store", str(store), "--json", "did anyone mention the cover?")
    ans = json.loads(a.stdout)
    assert ans["value"] is True and "00:0" in ans["text"] and "cover" in ans["text"].lower()


@pytest.mark.slow
def test_a_corrupt_model_file_is_one_line_and_exit_1(whisper_model: Path, spoken_clip, tmp_path: Path) -> None:
    import shutil

    clip, _ = spoken_clip
    models = tmp_path / "models"
    shutil.copytree(whisper_model, models / whisper_model.name,
                    ignore=lambda d, names: [n for n in names if n == "model.bin"])
    (models / whisper_model.name / "model.bin").write_bytes(b"\x00" * 1024)  # a truncated download, say
    r = onlook("watch", str(clip), "--json", "--no-faces", "--no-ocr", "--no-people",
               env={"ONLOOK_MODELS_DIR": str(models)})
    assert r.returncode == 1
    err = r.stderr.strip().splitlines()
    assert len(err) == 1 and "corrupt" in err[0] and "prepare-speech --force" in err[0], r.stderr
    assert "Traceback" not in r.stderr


@pytest.mark.slow
@pytest.mark.live
def test_live_loopback_stream_is_transcribed(whisper_model: Path, spoken_clip) -> None:
    import shutil as sh

    ffmpeg = sh.which("ffmpeg")
    if ffmpeg is None:
        pytest.skip("ffmpeg is not on PATH")
    from media import free_port, wait_listening

    clip, spans = spoken_clip
    port = free_port()
    proc = subprocess.Popen([ffmpeg, "-nostdin", "-loglevel", "error", "-re", "-i", str(clip), "-c:v", "libx264",
                             "-preset", "ultrafast", "-tune", "zerolatency", "-g", "10", "-c:a", "mp2",
                             "-f", "mpegts", f"tcp://127.0.0.1:{port}?listen=1"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_listening(port)
        said: list[dict] = []
        eng = StreamEngine(f"tcp://127.0.0.1:{port}", settings=Settings(reconnect_attempts=0, read_timeout_s=5,
                                                                     speech_language="en", **FAST))
        eng.subscribe(lambda m: said.append(m) if m["type"] == "speech" else None)
        eng.start()
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not any("cover" in m["text"].lower() for m in said):
            time.sleep(0.2)
        eng.close()
    finally:
        proc.kill()
        proc.wait(10)
    text = " ".join(m["text"].lower() for m in said)
    assert "delivery" in text and "cover" in text, said
    # On the live clock the first phrase starts about where the file put it (the stream starts at 0).
    assert abs(said[0]["t"] - spans[0][0]) < 1.0


def test_speech_alert_words_are_hints_to_the_transcriber(tone_clip: Path) -> None:
    pipe = fake_speech()
    eng = StreamEngine(str(tone_clip), settings=Settings(**FAST), speech=pipe,
                       alerts=["someone says help", "when someone mentions the alarm", "a scene change"])
    eng.run()
    assert pipe.transcriber.hints_seen == ["help alarm", "help alarm"]  # one per stretch heard
    eng.remove_alert("someone says help")
    eng.close()


def test_bad_speech_options_are_one_line_and_exit_2(tone_clip: Path, tmp_path: Path) -> None:
    r = onlook("watch", str(tone_clip), "--json", "--speech-model", str(tmp_path / "nope"), timeout=60)
    assert r.returncode == 2 and r.stdout == ""
    assert r.stderr.strip().splitlines() == [f"error: --speech-model '{tmp_path / 'nope'}' is not a folder"]
    r = onlook("watch", str(tone_clip), "--json", "--no-speech", "--alert", "someone says help", timeout=60)
    assert r.returncode == 2
    assert "listens for speech, which is off here" in r.stderr and "onlook[speech]" in r.stderr


def test_speech_continues_on_the_stream_clock_when_a_store_is_reopened(tone_clip: Path, tmp_path: Path) -> None:
    settings = Settings(store=tmp_path / "st", **FAST)
    for _ in range(2):
        eng = StreamEngine(str(tone_clip), settings=settings, speech=fake_speech())
        eng.run()
        eng.close()
    eng = StreamEngine(str(tone_clip), settings=Settings(store=tmp_path / "st", speech=False, **FAST))
    starts = [round(s.start, 1) for s in eng.store.speech()]
    eng.close()
    # The second watch follows on after the first (its clock shifted past 9 s), as its frames do.
    assert starts[:2] == [1.5, 6.0] and len(starts) == 4 and starts[2] > 9.0 and starts[3] - starts[2] == 4.5
