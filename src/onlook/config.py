"""Settings: one object, read at the edge (CLI, server), passed down.

Nothing in onlook reads the environment at import time. :class:`Settings`
reads ``ONLOOK_*`` variables only when it is constructed, so tests can build
one with explicit values and nothing leaks between them.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from onlook.errors import ConfigError

__all__ = ["Settings", "parse_bytes"]

_UNITS = {"": 1, "b": 1, "k": 1000, "kb": 1000, "kib": 1024, "m": 1000**2, "mb": 1000**2,
          "mib": 1024**2, "g": 1000**3, "gb": 1000**3, "gib": 1024**3, "t": 1000**4, "tb": 1000**4}


def parse_bytes(text: str | int) -> int:
    """Parse a human byte size such as ``"500MB"`` or ``"2GiB"``.

    Raises:
        ConfigError: the text is not a positive size.

    Example:
        >>> parse_bytes("500MB")
        500000000
    """
    if isinstance(text, int):
        if text <= 0:
            raise ConfigError(f"budget must be positive, got {text}")
        return text
    m = re.fullmatch(r"\s*([0-9]+(?:\.[0-9]+)?)\s*([a-zA-Z]*)\s*", str(text))
    if not m or m.group(2).lower() not in _UNITS:
        raise ConfigError(f"cannot read {text!r} as a size (try 500MB or 2GiB)")
    value = int(float(m.group(1)) * _UNITS[m.group(2).lower()])
    if value <= 0:
        raise ConfigError(f"budget must be positive, got {text!r}")
    return value


class Settings(BaseSettings):
    """Everything a user can set, with defaults that run on 2 CPU cores.

    Every field can also come from an ``ONLOOK_<NAME>`` environment variable
    (read when the object is built, never at import).
    """

    model_config = SettingsConfigDict(env_prefix="ONLOOK_", extra="ignore")

    # --- sources
    fps: float = Field(2.0, gt=0, le=60, description="frames per second to analyse")
    realtime: bool = Field(False, description="pace files at their native rate, like a live stream")
    open_timeout_s: float = Field(10.0, gt=0, description="give up opening a source after this")
    read_timeout_s: float = Field(10.0, gt=0, description="a live source silent this long is stalled")
    connect_attempts: int = Field(5, ge=0, description="retries of a live source's first connection before "
                                  "it is refused (once it has run, outages are ridden out)")
    reconnect_attempts: int | None = Field(None, ge=0, description="reconnects in a row after which an outage ends "
                                           "a live source; None: keep reconnecting while the stream runs")
    max_outage_s: float | None = Field(None, gt=0, description="longest outage of a live source before it is "
                                       "given up; None: no limit")
    reconnect_backoff_s: float = Field(0.5, gt=0, description="first reconnect delay; doubles each time")
    reconnect_backoff_max_s: float = Field(30.0, gt=0, description="longest reconnect delay (each one shortened "
                                           "by up to 25% at random, so streams do not retry in step)")
    queue_size: int = Field(8, ge=1, description="decoded frames buffered; oldest dropped when full")

    # --- sampling / gate
    gate_tile: int = Field(32, ge=8, description="gate tile size in pixels of the analysis image")
    gate_threshold: float = Field(12.0, gt=0, description="mean abs grey change that marks a tile as changed")
    analysis_width: int = Field(640, ge=64, description="frames are analysed at most this wide")

    # --- perception
    detect_people: bool = True
    detect_faces: bool = True
    detect_text: bool = True
    detect_colors: bool = True
    ocr_interval_s: float = Field(5.0, ge=0, description="run OCR at most this often (when something changed)")
    face_interval_s: float = Field(2.0, ge=0, description="run face detection at most this often")
    encoder_dir: Path | None = Field(None, description="folder of an ONNX CLIP encoder (optional)")
    encoder_deployment: str | None = Field(None, description="Ray Serve application of a shared encoder "
                                           "(onlook.cluster.models.deploy_encoder); used instead of encoder_dir")

    # --- speech (onlook.perception.speech; needs the speech extra: faster-whisper)
    speech: bool | None = Field(None, description="transcribe the sound of sources that have it: None (default) "
                                "when faster-whisper is installed, True requires it, False never")
    speech_model: str | None = Field(None, description="CTranslate2 Whisper folder or name (faster-whisper "
                                     "fetches a name such as 'small' once); None: the offline whisper-base")
    speech_language: str | None = Field(None, description="language code to transcribe in (en, de...); "
                                        "None detects it")
    models_dir: Path | None = Field(None, description="where prepared models live (default "
                                    "~/.cache/onlook/models)")
    speech_process: bool = Field(True, description="transcribe in a child process (never holds ingest's "
                                 "interpreter lock)")
    speech_nice: int = Field(10, ge=0, le=19, description="how much lower the speech process's CPU priority is")
    speech_threads: int = Field(2, ge=1, description="CPU threads Whisper uses")
    speech_beam_size: int = Field(1, ge=1, le=10, description="Whisper beam size (1: greedy, fastest)")
    speech_device: str = Field("cpu", description="device for Whisper: cpu, cuda, auto")
    speech_buffer_s: float = Field(30.0, gt=1, description="sound buffered for transcription; a live stream "
                                   "drops the oldest beyond it")
    speech_min_silence_s: float = Field(0.5, ge=0.2, le=5, description="silence that ends a stretch of speech")
    speech_max_segment_s: float = Field(10.0, ge=1, le=30, description="a stretch of speech is transcribed "
                                        "at most this long (bounds the delay)")

    # --- memory
    store: Path | None = Field(None, description="store folder; None keeps memory in RAM only")
    budget: int = Field(500 * 1000**2, description="store byte budget")
    recent_window: int = Field(16, ge=1, description="recent kept frames kept in RAM (small copies)")

    # --- answering (onlook.answer: extractive default, or a VLM)
    answerer: Literal["extractive", "openai", "transformers", "serve"] = Field(
        "extractive", description="who answers questions: extractive (offline, default), openai, transformers, "
                                  "serve (a shared VLM deployment on Ray Serve)")
    answerer_deployment: str = Field("onlook-vlm", description="Ray Serve application of the shared VLM "
                                     "(answerer=serve; onlook.cluster.models.deploy_vlm)")
    answerer_model: str | None = Field(None, description="VLM name: as the server knows it (openai), or a "
                                       "Hugging Face name/folder (transformers)")
    answerer_base_url: str = Field("http://127.0.0.1:8000/v1", description="OpenAI-compatible server's /v1 URL")
    answerer_api_key: str | None = Field(None, description="key for the model server (local servers ignore it)")
    answerer_device: str = Field("cpu", description="device for the transformers answerer: cpu, cuda, cuda:1...")
    answerer_timeout_s: float = Field(60.0, gt=0, description="longest wait for the model server's next bytes")
    answerer_retries: int = Field(2, ge=0, description="retries (with backoff) when the model server fails")
    answerer_max_tokens: int = Field(256, ge=1, description="longest answer, in tokens")
    answerer_video: bool = Field(False, description="send frames as one vLLM video_url (openai answerer)")
    answerer_process: bool = Field(True, description="run the openai answerer in a child process, so answering "
                                   "never holds ingest's interpreter lock")
    answerer_nice: int = Field(10, ge=0, le=19, description="how much lower the answerer process's CPU priority "
                               "is than ingest's (0: the same): on busy cores the answer waits, not watching")
    context_images: int = Field(8, ge=0, description="most frames a VLM sees per question")
    context_recent: int = Field(4, ge=0, description="of those, slots kept for the latest frames")
    context_log_chars: int = Field(1500, ge=0, description="characters of event log a VLM is sent")
    context_image_side: int = Field(448, ge=28, description="longest side of each frame sent to a VLM, in pixels")

    # --- serving (onlook serve): what API clients may make the server reach; `onlook watch` is not restricted
    allow_hosts: Annotated[list[str], NoDecode] = Field(
        default_factory=list, description="loopback/private/link-local/multicast targets that streams added "
        "through the API and their webhooks may reach anyway: addresses or networks (10.0.0.0/8) and host names "
        "(cam.lan, .lan for a domain); comma-separated in ONLOOK_ALLOW_HOSTS")
    allow_listen: bool = Field(False, description="accept API sources that listen for connections "
                               "(tcp://...?listen=1, udp://)")
    server_names: Annotated[list[str], NoDecode] = Field(
        default_factory=list, description="host names the server is reached by, besides localhost, IP addresses "
        "and --host (Host and Origin headers naming others are refused); comma-separated in ONLOOK_SERVER_NAMES")

    @field_validator("allow_hosts", "server_names", mode="before")
    @classmethod
    def _comma_list(cls, v: object) -> object:
        if isinstance(v, str):
            return [p.strip() for p in v.split(",") if p.strip()]
        if isinstance(v, (list, tuple)):
            return [p.strip() for item in v for p in str(item).split(",") if p.strip()]
        return v

    @field_validator("budget", mode="before")
    @classmethod
    def _budget(cls, v: object) -> int:
        return parse_bytes(v)  # type: ignore[arg-type]
