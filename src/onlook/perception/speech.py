"""Speech: voice activity first, then Whisper on the stretches of speech only.

Causal and bounded: :class:`SpeechPipeline` takes 16 kHz mono
:class:`~onlook.types.AudioChunk` values as they arrive, runs a voice
activity detector on every 32 ms window, and closes a stretch of speech when
it has been followed by ``min_silence_s`` of silence, or when it has lasted
``max_segment_s`` (so a speaker who never pauses is still transcribed with a
bounded delay). Only closed stretches reach the transcriber, so silence and
noise cost the detector alone (about 3 ms per second of sound).

Two seams, each with a real default and something small for tests:

* the detector: :class:`SileroVad` (Silero VAD v6, the ONNX file
  faster-whisper ships in its wheel, run with its recurrent state carried
  from window to window) or :class:`EnergyVad` (loudness);
* the transcriber: :class:`WhisperTranscriber` (faster-whisper on
  CTranslate2, word times on) or :class:`FakeTranscriber` (a script).

Times are stream times: a chunk's ``pts`` is on its video's clock, and a
jump in it (an outage, a reconnect) ends the stretch in progress, so a gap
in the picture is a gap in the transcript too.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import numpy as np

from onlook.errors import ConfigError, ModelError
from onlook.perception.speech_model import SpeechModel
from onlook.types import AudioChunk, SpeechSegment, Word

__all__ = ["Vad", "SileroVad", "EnergyVad", "Transcriber", "WhisperTranscriber", "FakeTranscriber",
           "SpeechPipeline", "SpeechOptions", "SAMPLE_RATE", "WINDOW"]

log = logging.getLogger(__name__)

SAMPLE_RATE = 16000
WINDOW = 512
"""Samples per detector window (32 ms at 16 kHz): what Silero VAD takes."""


class Vad(Protocol):
    """A voice activity detector over consecutive 512-sample windows."""

    def __call__(self, windows: np.ndarray) -> np.ndarray:
        """Speech probability of each row of ``windows`` (``N x 512`` float32), in order."""
        ...

    def reset(self) -> None:
        """Forget the state carried between calls (after a gap in the sound)."""
        ...


class SileroVad:
    """Silero VAD v6 from faster-whisper's wheel, streamed: state carried across calls.

    faster-whisper's own ``get_speech_timestamps`` needs the whole recording;
    here each call takes only the new windows and keeps the model's recurrent
    state and the 64 samples of context between calls, which gives the same
    probabilities as one call on everything.

    Raises:
        ModelError: faster-whisper (which ships the model) or onnxruntime is missing.
    """

    CONTEXT = 64

    def __init__(self, path: str | Path | None = None) -> None:
        try:
            import onnxruntime
            if path is None:
                from faster_whisper.utils import get_assets_path

                path = Path(get_assets_path()) / "silero_vad_v6.onnx"
        except ImportError as e:
            raise ModelError(f"voice activity detection needs faster-whisper ({e.name} missing): "
                             "pip install 'onlook[speech]'") from None
        opts = onnxruntime.SessionOptions()
        opts.inter_op_num_threads = 1
        opts.intra_op_num_threads = 1
        opts.log_severity_level = 4
        try:
            self._session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"],
                                                         sess_options=opts)
        except Exception as e:  # noqa: BLE001 - onnxruntime raises its own types
            raise ModelError(f"cannot load the voice activity model '{path}': {str(e).splitlines()[0]}") from None
        self.reset()

    def reset(self) -> None:
        self._h = np.zeros((1, 1, 128), np.float32)
        self._c = np.zeros((1, 1, 128), np.float32)
        self._ctx = np.zeros(self.CONTEXT, np.float32)

    def __call__(self, windows: np.ndarray) -> np.ndarray:
        if len(windows) == 0:
            return np.zeros(0, np.float32)
        windows = np.ascontiguousarray(windows, np.float32)
        ctx = np.empty((len(windows), self.CONTEXT), np.float32)
        ctx[0] = self._ctx
        ctx[1:] = windows[:-1, -self.CONTEXT:]
        out, self._h, self._c = self._session.run(
            None, {"input": np.concatenate([ctx, windows], axis=1), "h": self._h, "c": self._c})
        self._ctx = windows[-1, -self.CONTEXT:].copy()
        return np.asarray(out, np.float32).reshape(-1)


class EnergyVad:
    """Loudness as a detector: windows louder than ``threshold_db`` dBFS count as speech.

    No model and no dependencies: for tests and for tones, where Silero
    rightly hears no voice.
    """

    def __init__(self, threshold_db: float = -35.0) -> None:
        self.threshold_db = threshold_db

    def reset(self) -> None:
        pass

    def __call__(self, windows: np.ndarray) -> np.ndarray:
        rms = np.sqrt(np.mean(np.square(windows, dtype=np.float64), axis=1) + 1e-12)
        return (20 * np.log10(rms) > self.threshold_db).astype(np.float32)


class Transcriber(Protocol):
    """Turns one stretch of speech into transcript segments with stream times."""

    def transcribe(self, samples: np.ndarray, t0: float, stream_id: str) -> list[SpeechSegment]:
        """Transcribe ``samples`` (16 kHz mono float32) whose first sample is at stream time ``t0``."""
        ...


class WhisperTranscriber:
    """Whisper on CTranslate2 (faster-whisper), with word times.

    Args:
        model: The model to load (see :func:`~onlook.perception.speech_model.resolve_model`).
        language: Language code to transcribe in (``"en"``); ``None`` detects
            it on each stretch (a detection under 50% keeps the last confident one).
        threads: CPU threads CTranslate2 uses.
        beam_size: 1 is greedy decoding (fastest); 5 is Whisper's default.
        device: ``"cpu"``, ``"cuda"`` or ``"auto"``.

    Raises:
        ModelError: faster-whisper is missing, or the model cannot be loaded.
    """

    def __init__(self, model: SpeechModel, *, language: str | None = None, threads: int = 2,
                 beam_size: int = 1, device: str = "cpu") -> None:
        try:
            from faster_whisper import WhisperModel
        except ImportError as e:
            raise ModelError(f"speech needs faster-whisper ({e.name} missing): pip install 'onlook[speech]' "
                             "(or --no-speech)") from None
        self.model = model
        self.language = language
        self.beam_size = beam_size
        self.hotwords: str | None = None  # words listened for (speech alerts): a hint to the decoder
        self._last_language: str | None = language
        compute = "int8" if device == "cpu" else "default"
        try:
            self._model = WhisperModel(model.spec, device=device, compute_type=compute, cpu_threads=threads)
        except Exception as e:  # noqa: BLE001 - CTranslate2 and the hub raise many types
            first = (str(e).splitlines() or [type(e).__name__])[0]
            raise ModelError(f"cannot load the speech model {model.name!r}: {first}") from None

    def transcribe(self, samples: np.ndarray, t0: float, stream_id: str) -> list[SpeechSegment]:
        hints = {"hotwords": self.hotwords} if self.hotwords else {}
        segs, info = self._model.transcribe(
            samples, language=self.language, beam_size=self.beam_size, word_timestamps=True,
            vad_filter=False, condition_on_previous_text=False, **hints)
        segs = list(segs)
        lang = info.language
        if self.language is None:
            if info.language_probability >= 0.5 or self._last_language is None:
                self._last_language = lang
            else:
                lang = self._last_language
        out = []
        for s in segs:
            text = s.text.strip()
            # Whisper's classic failure on noise: a confident-sounding phrase from nothing.
            if not text or (s.no_speech_prob > 0.6 and s.avg_logprob < -1.0):
                continue
            words = tuple(Word(w.word.strip(), t0 + float(w.start), t0 + float(w.end), float(w.probability))
                          for w in (s.words or []) if w.word.strip())
            out.append(SpeechSegment(stream_id, t0 + float(s.start), t0 + float(s.end), text, words,
                                     language=lang, confidence=float(math.exp(min(0.0, s.avg_logprob)))))
        return out


class FakeTranscriber:
    """A transcriber that reads from a script: for tests of everything after Whisper.

    Args:
        script: ``(start, end, text)`` in stream seconds; a stretch returns the
            lines that overlap it, word times spread evenly over each line.
    """

    def __init__(self, script: Iterable[tuple[float, float, str]]) -> None:
        self.script = [(float(a), float(b), str(t)) for a, b, t in script]
        self.calls: list[tuple[float, float]] = []
        self.hotwords: str | None = None
        self.hints_seen: list[str | None] = []  # the hints in force at each call

    def transcribe(self, samples: np.ndarray, t0: float, stream_id: str) -> list[SpeechSegment]:
        t1 = t0 + len(samples) / SAMPLE_RATE
        self.calls.append((t0, t1))
        self.hints_seen.append(self.hotwords)
        out = []
        for a, b, text in self.script:
            if a < t1 and b > t0:
                toks = text.split()
                step = (b - a) / max(1, len(toks))
                words = tuple(Word(w, a + i * step, a + (i + 1) * step) for i, w in enumerate(toks))
                out.append(SpeechSegment(stream_id, a, b, text, words, language="en"))
        return out


@dataclass(frozen=True, slots=True)
class SpeechOptions:
    """How speech is cut into stretches for the transcriber.

    Attributes:
        threshold: Detector probability at which speech starts.
        neg_threshold: Below this it counts as silence (between the two: whatever it was).
        min_silence_s: Silence that ends a stretch (the floor of the delay).
        max_segment_s: A stretch is cut at this length even without a pause.
        min_speech_s: Shorter blips are not transcribed.
        pad_s: Sound kept either side of a stretch (Whisper hears word onsets better).
        gap_s: A jump in chunk times larger than this is a gap: the stretch ends there.
    """

    threshold: float = 0.5
    neg_threshold: float = 0.35
    min_silence_s: float = 0.5
    max_segment_s: float = 15.0
    min_speech_s: float = 0.25
    pad_s: float = 0.2
    gap_s: float = 0.25

    def __post_init__(self) -> None:
        if not 0 < self.neg_threshold <= self.threshold < 1:
            raise ConfigError(f"speech thresholds must satisfy 0 < neg_threshold <= threshold < 1, got {self}")
        if self.min_silence_s < self.pad_s or self.max_segment_s < 1.0 or self.max_segment_s > 30.0:
            raise ConfigError("speech: need pad_s <= min_silence_s and 1 <= max_segment_s <= 30 "
                              f"(Whisper hears 30 s at a time), got {self}")


class SpeechPipeline:
    """Audio chunks in, transcript segments out: detector, cutting, transcriber.

    Not thread-safe: one worker feeds it (see :mod:`onlook.perception.speech_worker`).

    Args:
        transcriber: What turns a stretch of speech into text.
        vad: The detector (default :class:`SileroVad`).
        options: How stretches are cut.
        stream_id: Stamped on every segment.
        on_cut: Called with ``(start, end)`` of each stretch before it is
            transcribed (for delay measurements).

    Example:
        >>> pipe = SpeechPipeline(FakeTranscriber([(1.0, 2.0, "hello")]), vad=EnergyVad())
        >>> loud = AudioChunk("s", 1.0, np.full(16000, 0.3, np.float32))
        >>> quiet = AudioChunk("s", 2.0, np.zeros(16000, np.float32))
        >>> [s.text for s in pipe.push(loud) + pipe.push(quiet)]
        ['hello']
    """

    def __init__(self, transcriber: Transcriber, *, vad: Vad | None = None, options: SpeechOptions | None = None,
                 stream_id: str = "default", on_cut: Callable[[float, float], None] | None = None) -> None:
        self.transcriber = transcriber
        self.vad = vad if vad is not None else SileroVad()
        self.opt = options or SpeechOptions()
        self.stream_id = stream_id
        self.on_cut = on_cut
        sr = SAMPLE_RATE
        self._min_silence = int(self.opt.min_silence_s * sr)
        self._max_len = int(self.opt.max_segment_s * sr)
        self._min_speech = int(self.opt.min_speech_s * sr)
        self._pad = int(self.opt.pad_s * sr)
        self.heard_s = 0.0  # sound received
        self.speech_s = 0.0  # of it, sent to the transcriber
        self.stretches = 0
        self._origin: float | None = None  # stream time of sample 0 of the current run
        self._reset_run()

    def _reset_run(self) -> None:
        self._origin = None
        self._n = 0  # samples received in this run
        self._buf = np.zeros(0, np.float32)
        self._buf_start = 0  # run sample index of _buf[0]
        self._vad_n = 0  # samples the detector has seen
        self._triggered = False
        self._seg_start = 0
        self._silence_since: int | None = None
        self._wall = 0.0
        self.vad.reset()

    def set_hints(self, words: Iterable[str]) -> None:
        """Words to listen for (the speech alerts' words), given to a transcriber that takes hints.

        Whisper hears a short isolated word better when told it may come
        ("Help!" alone is otherwise often "Hell.").
        """
        text = " ".join(dict.fromkeys(w for w in words if w)) or None
        if hasattr(self.transcriber, "hotwords"):
            self.transcriber.hotwords = text  # type: ignore[attr-defined]  # only some transcribers have it (checked above)

    @property
    def processed_until(self) -> float | None:
        """Stream time up to which sound has been received (``None`` before any)."""
        return None if self._origin is None else self._origin + self._n / SAMPLE_RATE

    def push(self, chunk: AudioChunk) -> list[SpeechSegment]:
        """Take one chunk; return the segments of every stretch it closed."""
        if chunk.sample_rate != SAMPLE_RATE:
            raise ConfigError(f"speech takes {SAMPLE_RATE} Hz audio, got {chunk.sample_rate}")
        out: list[SpeechSegment] = []
        expected = self.processed_until
        if expected is not None and abs(chunk.pts - expected) > self.opt.gap_s:
            out += self.flush()
        if self._origin is None:
            self._origin = chunk.pts
        self._wall = chunk.wall
        self.heard_s += chunk.duration
        self._buf = np.concatenate([self._buf, chunk.samples]) if len(self._buf) else chunk.samples.copy()
        self._n += len(chunk.samples)
        whole = (self._n - self._vad_n) // WINDOW
        if whole:
            lo = self._vad_n - self._buf_start
            windows = self._buf[lo: lo + whole * WINDOW].reshape(whole, WINDOW)
            probs = self.vad(windows)
            for i, p in enumerate(probs):
                out += self._step(self._vad_n + i * WINDOW, float(p))
            self._vad_n += whole * WINDOW
        self._trim()
        return out

    def flush(self) -> list[SpeechSegment]:
        """End the current run (end of stream, or a gap): transcribe a stretch still open."""
        out: list[SpeechSegment] = []
        if self._origin is not None and self._triggered:
            end = self._silence_since if self._silence_since is not None else self._n
            out += self._close(self._seg_start, end)
        self._reset_run()
        return out

    def _step(self, pos: int, p: float) -> list[SpeechSegment]:
        o = self.opt
        if not self._triggered:
            if p >= o.threshold:
                self._triggered, self._seg_start, self._silence_since = True, pos, None
            return []
        if p >= o.threshold:
            self._silence_since = None
        elif p < o.neg_threshold and self._silence_since is None:
            self._silence_since = pos
        here = pos + WINDOW
        if self._silence_since is not None and here - self._silence_since >= self._min_silence:
            self._triggered = False
            return self._close(self._seg_start, self._silence_since)
        if here - self._seg_start >= self._max_len:
            # Still talking: cut here (at the pause in progress, if any) and go on.
            cut = self._silence_since if self._silence_since is not None else here
            out = self._close(self._seg_start, cut)
            self._seg_start, self._silence_since = cut, None
            return out
        return []

    def _close(self, start: int, end: int) -> list[SpeechSegment]:
        if end - start < self._min_speech:
            return []
        lo = max(self._buf_start, start - self._pad)
        hi = min(self._n, end + self._pad)
        samples = self._buf[lo - self._buf_start: hi - self._buf_start]
        assert self._origin is not None
        t0 = self._origin + lo / SAMPLE_RATE
        self.speech_s += len(samples) / SAMPLE_RATE
        self.stretches += 1
        if self.on_cut is not None:
            self.on_cut(t0, t0 + len(samples) / SAMPLE_RATE)
        segs = self.transcriber.transcribe(samples, t0, self.stream_id)
        t1 = t0 + len(samples) / SAMPLE_RATE
        # Keep every segment inside its stretch (Whisper may round past the end) and stamp
        # the wall time of the sound that closed it: the delay to searchable text starts there.
        return [SpeechSegment(s.stream_id, max(t0, min(s.start, t1)), max(t0, min(s.end, t1)), s.text, s.words,
                              s.language, s.confidence, self._wall) for s in segs]

    def _trim(self) -> None:
        # Keep what an open stretch (or the padding before the next one) may still need.
        keep_from = (self._seg_start if self._triggered else self._vad_n) - self._pad
        keep_from = max(self._buf_start, min(keep_from, self._vad_n))
        drop = keep_from - self._buf_start
        if drop > SAMPLE_RATE:  # in whole seconds at least, to copy rarely
            self._buf = self._buf[drop:].copy()
            self._buf_start = keep_from
