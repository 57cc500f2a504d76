"""Speech perception without Whisper: cutting speech into stretches, the streamed VAD, the model step."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from onlook.errors import ConfigError, ModelError
from onlook.perception.speech import EnergyVad, FakeTranscriber, SpeechOptions, SpeechPipeline
from onlook.perception.speech_model import MANIFEST, resolve_model, verify_model, whisper_vocabulary
from onlook.types import AudioChunk

SR = 16000


def tone(seconds: float, amp: float = 0.3) -> np.ndarray:
    return (amp * np.sin(2 * np.pi * 440 * np.arange(int(seconds * SR)) / SR)).astype(np.float32)


def silence(seconds: float) -> np.ndarray:
    return np.zeros(int(seconds * SR), np.float32)


def feed(pipe: SpeechPipeline, audio: np.ndarray, t0: float = 0.0, step_s: float = 0.1) -> list:
    out, step = [], int(step_s * SR)
    for i in range(0, len(audio), step):
        out += pipe.push(AudioChunk("s", t0 + i / SR, audio[i:i + step].copy(), wall=float(i)))
    return out


def test_stretches_of_sound_are_cut_at_silence_with_their_times() -> None:
    tr = FakeTranscriber([(1.0, 2.0, "one"), (4.0, 5.5, "two")])
    pipe = SpeechPipeline(tr, vad=EnergyVad(), stream_id="s")
    audio = np.concatenate([silence(1), tone(1), silence(2), tone(1.5), silence(1)])
    segs = feed(pipe, audio, t0=0.0) + pipe.flush()
    assert [s.text for s in segs] == ["one", "two"]
    # The transcriber heard each stretch once, padded by 0.2 s, at its stream times.
    assert [(round(a, 1), round(b, 1)) for a, b in tr.calls] == [(0.8, 2.2), (3.8, 5.7)]
    assert pipe.speech_s == pytest.approx(1.4 + 1.9, abs=0.1)


def test_silence_costs_no_transcription() -> None:
    tr = FakeTranscriber([])
    pipe = SpeechPipeline(tr, vad=EnergyVad())
    feed(pipe, silence(5))
    pipe.flush()
    assert tr.calls == [] and pipe.heard_s == pytest.approx(5.0)


def test_long_speech_is_cut_at_max_segment_so_the_delay_is_bounded() -> None:
    tr = FakeTranscriber([])
    pipe = SpeechPipeline(tr, vad=EnergyVad(), options=SpeechOptions(max_segment_s=4.0))
    feed(pipe, tone(10), t0=20.0)
    assert len(tr.calls) == 2  # two 4 s stretches closed while the speaker goes on
    pipe.flush()
    assert len(tr.calls) == 3
    assert tr.calls[0][0] == pytest.approx(20.0) and tr.calls[-1][1] == pytest.approx(30.0, abs=0.05)


def test_a_jump_in_time_ends_the_stretch_in_progress() -> None:
    tr = FakeTranscriber([])
    pipe = SpeechPipeline(tr, vad=EnergyVad())
    feed(pipe, tone(1.0), t0=0.0)
    assert tr.calls == []
    feed(pipe, np.concatenate([tone(1.0), silence(1)]), t0=30.0)  # an outage of 29 s
    pipe.flush()
    assert [round(a) for a, _ in tr.calls] == [0, 30]


def test_segments_stay_inside_their_stretch_and_carry_the_wall_time() -> None:
    tr = FakeTranscriber([(0.5, 9.0, "overlong")])  # a model rounding far past the sound
    pipe = SpeechPipeline(tr, vad=EnergyVad())
    segs = feed(pipe, np.concatenate([silence(1), tone(1), silence(1)]))
    assert len(segs) == 1 and 0.7 <= segs[0].start and segs[0].end <= 2.3
    assert segs[0].wall > 0


@pytest.mark.parametrize("opts", [dict(threshold=0.2, neg_threshold=0.5), dict(max_segment_s=40.0),
                                  dict(pad_s=1.0, min_silence_s=0.5)])
def test_bad_options_are_refused(opts: dict) -> None:
    with pytest.raises(ConfigError):
        SpeechOptions(**opts)


def test_streamed_silero_matches_one_call_on_everything() -> None:
    pytest.importorskip("faster_whisper", reason="needs onlook[speech]")
    from faster_whisper.vad import get_vad_model

    from onlook.perception.speech import SileroVad

    rng = np.random.default_rng(0)
    audio = np.concatenate([silence(0.5), tone(1.0) * rng.uniform(0.5, 1.0, 16000).astype(np.float32),
                            silence(0.5)])[: 512 * 60]
    whole = np.asarray(get_vad_model()(audio)).reshape(-1)
    vad = SileroVad()
    windows = audio.reshape(-1, 512)
    parts = np.concatenate([vad(windows[i:i + 7]) for i in range(0, len(windows), 7)])
    assert np.allclose(parts, whole, atol=1e-4)


def test_whisper_vocabulary_is_tokens_then_timestamps() -> None:
    vocab = {f"t{i}": i for i in range(50300)}
    tok = {"model": {"vocab": vocab}, "added_tokens": [{"id": 50300 + i, "content": f"<|x{i}|>"} for i in range(64)]}
    lines = whisper_vocabulary(tok)
    assert len(lines) == 51865 and lines[0] == "t0" and lines[50363] == "<|x63|>"
    assert lines[50364] == "<|0.00|>" and lines[-1] == "<|30.00|>"
    with pytest.raises(ModelError, match="tokens"):
        whisper_vocabulary({"model": {"vocab": {"a": 0}}})


def fake_model(folder: Path) -> Path:
    """A folder laid out like a prepared model, small, with its manifest."""
    import hashlib

    folder.mkdir()
    files = {}
    for name, data in (("model.bin", b"\x00" * 1000), ("config.json", b"{}"), ("vocabulary.txt", b"a\n")):
        (folder / name).write_bytes(data)
        files[name] = {"sha256": hashlib.sha256(data).hexdigest(), "size": len(data)}
    (folder / MANIFEST).write_text(json.dumps({"name": "whisper-base", "files": files}))
    return folder


def test_a_corrupt_model_is_one_clear_line(tmp_path: Path) -> None:
    folder = fake_model(tmp_path / "whisper-base")
    assert verify_model(folder)["name"] == "whisper-base"
    with open(folder / "model.bin", "r+b") as f:
        f.seek(500)
        f.write(b"\x01")
    with pytest.raises(ModelError) as e:
        verify_model(folder)
    msg = str(e.value)
    assert "corrupt" in msg and "model.bin" in msg and "onlook prepare-speech --force" in msg and "\n" not in msg
    (folder / "model.bin").unlink()
    with pytest.raises(ModelError, match="missing model.bin"):
        verify_model(folder)
    with pytest.raises(ModelError, match="is missing model.bin"):  # the default, under this models folder
        resolve_model(None, tmp_path, prepare=False)


@pytest.mark.parametrize("spec, message", [
    ("/nonexistent/whisper", "is not a folder"),
    ("{empty}", "not a CTranslate2 Whisper model"),
])
def test_bad_model_folders_are_refused(tmp_path: Path, spec: str, message: str) -> None:
    (tmp_path / "empty").mkdir()
    with pytest.raises(ModelError, match=message):
        resolve_model(spec.format(empty=tmp_path / "empty"), tmp_path)


def test_missing_default_model_without_preparing_says_how(tmp_path: Path) -> None:
    with pytest.raises(ModelError, match="onlook prepare-speech"):
        resolve_model(None, tmp_path / "models", prepare=False)
