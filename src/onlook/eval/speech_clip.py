"""Clips with spoken phrases at known times: for the speech evaluation, its tests and the benchmark.

Speech is made offline with Debian's ``espeak-ng`` (text to WAV), placed at
the given stream times in a silent track, and muxed with PyAV beside a small
generated picture. The times returned are where each phrase's sound begins
and ends (espeak's own leading and trailing silence trimmed), so a test can
hold a transcript to them.

Example:
    >>> spans = make_speech_clip("talk.mp4", [(2.0, "the delivery is late")], seconds=6)  # doctest: +SKIP
    >>> spans                                                                            # doctest: +SKIP
    [(2.0, 3.31, 'the delivery is late')]
"""

from __future__ import annotations

import io
import shutil
import subprocess
import wave
from pathlib import Path

import numpy as np

from onlook.errors import ConfigError

__all__ = ["espeak_available", "speak", "make_speech_clip"]


def espeak_available() -> bool:
    """Whether ``espeak-ng`` is on the PATH."""
    return shutil.which("espeak-ng") is not None


def speak(text: str, *, voice: str = "en-us", words_per_minute: int = 150) -> tuple[np.ndarray, int]:
    """``espeak-ng``'s voice saying ``text``: mono float32 samples and their rate, silence trimmed.

    Raises:
        ConfigError: espeak-ng is not installed (``apt-get install espeak-ng``) or failed.
    """
    exe = shutil.which("espeak-ng")
    if exe is None:
        raise ConfigError("generated speech needs espeak-ng: apt-get install espeak-ng")
    try:
        wav = subprocess.run([exe, "-v", voice, "-s", str(words_per_minute), "--stdout", text],
                             check=True, capture_output=True, timeout=60).stdout
    except (subprocess.SubprocessError, OSError) as e:
        raise ConfigError(f"espeak-ng failed: {e}") from None
    with wave.open(io.BytesIO(wav)) as w:
        rate = w.getframerate()
        raw = np.frombuffer(w.readframes(w.getnframes()), np.int16)
        if w.getnchannels() > 1:
            raw = raw.reshape(-1, w.getnchannels()).mean(axis=1).astype(np.int16)
    samples = raw.astype(np.float32) / 32768.0
    loud = np.flatnonzero(np.abs(samples) > 0.02)
    if len(loud):
        samples = samples[loud[0]: loud[-1] + 1]
    return samples, rate


def _frames(seconds: float, fps: int, w: int, h: int) -> list[np.ndarray]:
    out = []
    yy, xx = np.mgrid[0:h, 0:w]
    base = np.stack([(xx * 255 // max(1, w - 1)), (yy * 255 // max(1, h - 1)), np.full_like(xx, 96)], -1)
    base = base.astype(np.uint8)
    for i in range(int(round(seconds * fps))):
        img = base.copy()
        x = int((i / fps) * w / 4) % w
        img[h // 3: h // 3 + h // 4, x: x + w // 8] = (20, 20, 200)
        out.append(img)
    return out


def make_speech_clip(path: str | Path, phrases: list[tuple[float, str]], *, seconds: float, fps: int = 10,
                     size: tuple[int, int] = (160, 120), audio: str = "speech", rate: int = 22050,
                     container_format: str | None = None,
                     frames: list[np.ndarray] | None = None) -> list[tuple[float, float, str]]:
    """Write a clip whose sound says ``phrases`` at their times.

    Args:
        path: File to write (``.mp4``, ``.mkv``, ``.ts``...).
        phrases: ``(start_s, text)`` pairs.
        seconds: Length of the clip.
        fps: Frame rate of the picture.
        size: ``(width, height)`` of the picture.
        audio: ``"speech"``; ``"tones"`` (a 440 Hz tone for 1 s at each phrase's
            time instead of its words: no espeak-ng needed); ``"silent"`` (a
            track of silence); ``"none"`` (no audio track); ``"corrupt"`` (an
            AAC track whose packets are noise).
        rate: Sample rate of the track (not 16 kHz, so that resampling is exercised).
        container_format: Force a container (``"mpegts"``).
        frames: The picture, as BGR frames at ``fps`` (default: a generated one of ``size``).

    Returns:
        ``(start, end, text)`` of each phrase as placed, in stream seconds.
    """
    import av

    w, h = (frames[0].shape[1], frames[0].shape[0]) if frames else size
    n = int(round(seconds * rate))
    track = np.zeros(n, np.float32)
    spans: list[tuple[float, float, str]] = []
    if audio == "speech":
        for start, text in phrases:
            samples, sr = speak(text)
            if sr != rate:
                samples = np.interp(np.arange(0, len(samples) * rate / sr) * sr / rate,
                                    np.arange(len(samples)), samples).astype(np.float32)
            i = int(round(start * rate))
            j = min(n, i + len(samples))
            track[i:j] += samples[: j - i]
            spans.append((start, j / rate, text))
    elif audio == "tones":
        for start, text in phrases:
            i = int(round(start * rate))
            j = min(n, i + rate)
            track[i:j] += 0.3 * np.sin(2 * np.pi * 440 * np.arange(j - i) / rate).astype(np.float32)
            spans.append((start, j / rate, text))
    rng = np.random.default_rng(7)
    with av.open(str(path), "w", format=container_format) as c:
        v = c.add_stream("mpeg4", rate=fps)
        v.width, v.height, v.pix_fmt = w, h, "yuv420p"
        a = c.add_stream("aac", rate=rate, layout="mono") if audio != "none" else None
        if frames is None:
            frames = _frames(seconds, fps, w, h)
        frames = frames[: int(round(seconds * fps))]
        step = 1024
        pos = 0
        for i, img in enumerate(frames):
            for pkt in v.encode(av.VideoFrame.from_ndarray(img, format="bgr24")):
                c.mux(pkt)
            if a is None:
                continue
            until = min(n, int((i + 1) / fps * rate))
            while pos + step <= until or (i == len(frames) - 1 and pos < n):
                chunk = track[pos: pos + step]
                if audio == "corrupt":
                    pkt = av.Packet(rng.integers(0, 256, 200, dtype=np.uint8).tobytes())
                    pkt.stream = a
                    pkt.pts = pkt.dts = pos
                    pkt.time_base = a.time_base if a.time_base else None
                    c.mux(pkt)
                else:
                    fr = av.AudioFrame.from_ndarray(chunk[None, :].copy(), format="fltp", layout="mono")
                    fr.sample_rate = rate
                    fr.pts = pos
                    for pkt in a.encode(fr):
                        c.mux(pkt)
                pos += len(chunk)
        for pkt in v.encode():
            c.mux(pkt)
        if a is not None and audio != "corrupt":
            for pkt in a.encode():
                c.mux(pkt)
    return spans
