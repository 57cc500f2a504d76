"""Settings: one object in groups, read at the edge (CLI, server), passed down.

:class:`Settings` holds one group per concern - :class:`SourceSettings`,
:class:`PerceptionSettings`, :class:`SpeechSettings`, :class:`MemorySettings`,
:class:`AnswererSettings`, :class:`ServerSettings` - so a part of onlook can be
handed just the group it reads.

Nothing in onlook reads the environment at import time. :class:`Settings`
reads ``ONLOOK_*`` variables only when it is constructed, so tests can build
one with explicit values and nothing leaks between them.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator
from pydantic.fields import FieldInfo
from pydantic_settings import (
    BaseSettings,
    EnvSettingsSource,
    NoDecode,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
)

from onlook.errors import ConfigError
from onlook.types import ShotMethod

__all__ = ["Settings", "SourceSettings", "PerceptionSettings", "SpeechSettings", "MemorySettings", "ParserSettings",
           "AnswererSettings", "ServerSettings", "GROUPS", "FLAT_NAMES", "parse_bytes"]

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


class SourceSettings(BaseModel):
    """How sources are opened, paced and kept alive (``ONLOOK_SOURCES__<NAME>``)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

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

    def open_options(self) -> dict[str, Any]:
        """These settings as :func:`onlook.sources.open_source` keyword arguments (all but ``fps``).

        Example:
            >>> SourceSettings(queue_size=4).open_options()["queue_size"]
            4
        """
        # fps is not among them: the engine applies the sampling grid itself (it passes ``keep``).
        return self.model_dump(exclude={"fps"})


class PerceptionSettings(BaseModel):
    """The redundancy gate and which detectors run, how often (``ONLOOK_PERCEPTION__<NAME>``)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    gate_tile: int = Field(32, ge=8, description="gate tile size in pixels of the analysis image")
    gate_threshold: float = Field(12.0, gt=0, description="mean abs grey change that marks a tile as changed")
    analysis_width: int = Field(640, ge=64, description="frames are analysed at most this wide")
    detect_people: bool = True
    detect_faces: bool = True
    detect_text: bool = True
    detect_colors: bool = True
    detect_objects: bool = Field(True, description="detect and track objects of the 80 COCO classes (the "
                                 "shipped SSDLite-MobileNetV2)")
    object_crops: int = Field(0, ge=0, description="changed regions the tracked people do not explain that the "
                              "COCO detector also reads at native scale, per run (small and far objects); 0 (the "
                              "default): whole pictures only, because on the footage here crops doubled the "
                              "detector's time and added mostly false classes")
    detect_openimages: bool = Field(True, description="also run the shipped OpenImages detector for the classes "
                                    "COCO lacks (box, shoe), on its own slower schedule")
    openimages_interval_s: float = Field(2.0, ge=0, description="run the OpenImages detector at most this often "
                                         "(only when the COCO detector runs)")
    object_interval_s: float = Field(0.5, ge=0, description="run the object detector at most this often "
                                     "when something changed that tracked people do not explain")
    object_refresh_s: float = Field(2.0, ge=0, description="run it at least this often while anything changes "
                                    "(people walking by); tracks are kept in between")
    shots: ShotMethod = Field(ShotMethod.MODEL, description="how shot cuts are found: model (TransNetV2, "
                              "shipped), histogram (no model) or off")
    shot_fps: float = Field(25.0, gt=0, description="frames per second the shot model looks at (thumbnails "
                            "only; it misses cuts below about 8)")
    ocr_interval_s: float = Field(5.0, ge=0, description="run OCR at most this often (when something changed)")
    face_interval_s: float = Field(2.0, ge=0, description="run face detection at most this often")
    detect_hands: bool = Field(True, description="find hands big enough in the picture (close-ups, people near "
                               "the camera) with the shipped palm detector")
    hand_interval_s: float = Field(0.5, ge=0, description="run the hand detector at most this often, and only "
                                   "where someone is near the camera or the picture changed with nobody tracked")
    detect_pose: bool = Field(True, description="read the posture of people tall enough in the picture (standing, "
                              "sitting, lying, an arm raised) with the shipped BlazePose model")
    pose_interval_s: float = Field(2.0, ge=0, description="read poses at most this often (as faces: posture "
                                   "changes over seconds)")
    face_state: bool = Field(True, description="read the state of faces big enough to show it (mouth open, eyes "
                             "closed, facing the camera) with the shipped face mesh; needs detect_faces")
    face_state_fps: float = Field(8.0, ge=0, description="while a face is followed, also read its state on "
                                  "this many frames per second between analysed ones (a blink lasts 0.1-0.4 s, "
                                  "shorter than the gap between analysed frames); 0: analysed frames only")
    model_threads: int | None = Field(None, ge=1, description="onnxruntime intra-op threads per model; unset "
                                      "(the default): 2 for a stream watched alone, 1 for each stream of "
                                      "`onlook serve`, whose streams already keep the cores busy")
    encoder_dir: Path | None = Field(None, description="folder of an ONNX CLIP encoder (optional)")
    encoder_deployment: str | None = Field(None, description="Ray Serve application of a shared encoder "
                                           "(onlook.cluster.models.deploy_encoder); used instead of encoder_dir")


class SpeechSettings(BaseModel):
    """Transcription of a source's sound (``ONLOOK_SPEECH__<NAME>``).

    Uses :mod:`onlook.perception.speech`, which needs the ``speech`` extra (faster-whisper).
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    enabled: bool | None = Field(None, description="transcribe the sound of sources that have it: None (default) "
                                 "when faster-whisper is installed, True requires it, False never")
    model: str | None = Field(None, description="CTranslate2 Whisper folder or name (faster-whisper "
                              "fetches a name such as 'small' once); None: the offline whisper-base")
    language: str | None = Field(None, description="language code to transcribe in (en, de...); None detects it")
    models_dir: Path | None = Field(None, description="where prepared models live (default "
                                    "~/.cache/onlook/models)")
    process: bool = Field(True, description="transcribe in a child process (never holds ingest's "
                          "interpreter lock)")
    nice: int = Field(10, ge=0, le=19, description="how much lower the speech process's CPU priority is")
    threads: int = Field(2, ge=1, description="CPU threads Whisper uses")
    beam_size: int = Field(1, ge=1, le=10, description="Whisper beam size (1: greedy, fastest)")
    device: str = Field("cpu", description="device for Whisper: cpu, cuda, auto")
    buffer_s: float = Field(30.0, gt=1, description="sound buffered for transcription; a live stream "
                            "drops the oldest beyond it")
    min_silence_s: float = Field(0.5, ge=0.2, le=5, description="silence that ends a stretch of speech")
    max_segment_s: float = Field(10.0, ge=1, le=30, description="a stretch of speech is transcribed "
                                 "at most this long (bounds the delay)")


class MemorySettings(BaseModel):
    """Where memory is stored and how much of it (``ONLOOK_MEMORY__<NAME>``)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    store: Path | None = Field(None, description="store folder; None keeps memory in RAM only")
    budget: int = Field(500 * 1000**2, description="store byte budget (500MB, 2GiB... are read too)")
    recent_window: int = Field(16, ge=1, description="recent kept frames kept in RAM (small copies)")

    @field_validator("budget", mode="before")
    @classmethod
    def _budget(cls, v: object) -> int:
        # parse_bytes raises ConfigError, a ValueError: pydantic reports it as this field's error.
        return parse_bytes(v)  # type: ignore[arg-type]  # anything else is refused by parse_bytes itself


class AnswererSettings(BaseModel):
    """Who answers questions, and what a VLM is sent (``ONLOOK_ANSWERER__<NAME>``)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    kind: Literal["extractive", "openai", "transformers", "serve"] = Field(
        "extractive", description="who answers questions: extractive (offline, default), openai, transformers, "
                                  "serve (a shared VLM deployment on Ray Serve)")
    deployment: str = Field("onlook-vlm", description="Ray Serve application of the shared VLM "
                            "(kind=serve; onlook.cluster.models.deploy_vlm)")
    model: str | None = Field(None, description="VLM name: as the server knows it (openai), or a "
                              "Hugging Face name/folder (transformers)")
    base_url: str = Field("http://127.0.0.1:8000/v1", description="OpenAI-compatible server's /v1 URL")
    api_key: str | None = Field(None, description="key for the model server (local servers ignore it)")
    device: str = Field("cpu", description="device for the transformers answerer: cpu, cuda, cuda:1...")
    timeout_s: float = Field(60.0, gt=0, description="longest wait for the model server's next bytes")
    retries: int = Field(2, ge=0, description="retries (with backoff) when the model server fails")
    max_tokens: int = Field(256, ge=1, description="longest answer, in tokens")
    video: bool = Field(False, description="send frames as one vLLM video_url (openai answerer)")
    process: bool = Field(True, description="run the openai answerer in a child process, so answering "
                          "never holds ingest's interpreter lock")
    nice: int = Field(10, ge=0, le=19, description="how much lower the answerer process's CPU priority "
                      "is than ingest's (0: the same): on busy cores the answer waits, not watching")
    context_images: int = Field(8, ge=0, description="most frames a VLM sees per question")
    context_recent: int = Field(4, ge=0, description="of those, slots kept for the latest frames")
    context_log_chars: int = Field(1500, ge=0, description="characters of event log a VLM is sent")
    context_image_side: int = Field(448, ge=28, description="longest side of each frame sent to a VLM, in pixels")


class ParserSettings(BaseModel):
    """Who reads questions and alerts into typed queries (``ONLOOK_PARSER__<NAME>``).

    With no ``model`` the offline parser does (the default, fast). With one, an OpenAI-compatible
    server fills each query through JSON-schema output and the offline parser is the fallback
    (:mod:`onlook.query.model_parser`).
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    model: str | None = Field(None, description="model that fills typed queries, as the server knows it "
                              "(none: the offline parser reads every question)")
    base_url: str = Field("http://127.0.0.1:8000/v1", description="its OpenAI-compatible server's /v1 URL")
    api_key: str | None = Field(None, description="key for that server (local servers ignore it)")
    timeout_s: float = Field(10.0, gt=0, description="longest wait for a query; then the offline parser answers")
    response_format: Literal["json_schema", "json_object"] = Field(
        "json_schema", description="request shape tried first: json_schema (OpenAI, vLLM) or json_object "
                                   "(llama-cpp-python); the other is tried once if the server refuses it")


class ServerSettings(BaseModel):
    """What API clients of ``onlook serve`` may make it reach (``ONLOOK_SERVER__<NAME>``).

    ``onlook watch`` is not restricted by these.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    allow_hosts: Annotated[list[str], NoDecode] = Field(
        default_factory=list, description="loopback/private/link-local/multicast targets that streams added "
        "through the API and their webhooks may reach anyway: addresses or networks (10.0.0.0/8) and host names "
        "(cam.lan, .lan for a domain); comma-separated in the environment")
    allow_listen: bool = Field(False, description="accept API sources that listen for connections "
                               "(tcp://...?listen=1, udp://)")
    names: Annotated[list[str], NoDecode] = Field(
        default_factory=list, description="host names the server is reached by, besides localhost, IP addresses "
        "and --host (Host and Origin headers naming others are refused); comma-separated in the environment")

    @field_validator("allow_hosts", "names", mode="before")
    @classmethod
    def _comma_list(cls, v: object) -> object:
        if isinstance(v, str):
            return [p.strip() for p in v.split(",") if p.strip()]
        if isinstance(v, (list, tuple)):
            return [p.strip() for item in v for p in str(item).split(",") if p.strip()]
        return v


#: The groups of :class:`Settings`, by field name.
GROUPS: dict[str, type[BaseModel]] = {
    "sources": SourceSettings, "perception": PerceptionSettings, "speech": SpeechSettings,
    "memory": MemorySettings, "answerer": AnswererSettings, "parser": ParserSettings, "server": ServerSettings,
}

#: Every flat name of the settings before they were grouped -> (group, field). Each is still read from
#: ``ONLOOK_<FLAT>`` (upper case), taken as a keyword by :class:`Settings` and ``model_copy(update=...)``,
#: and readable as an attribute (``settings.fps``), except ``answerer`` and ``speech``, which now name
#: their groups (``settings.answerer.kind``, ``settings.speech.enabled``).
FLAT_NAMES: dict[str, tuple[str, str]] = {
    # sources
    "fps": ("sources", "fps"),
    "realtime": ("sources", "realtime"),
    "open_timeout_s": ("sources", "open_timeout_s"),
    "read_timeout_s": ("sources", "read_timeout_s"),
    "connect_attempts": ("sources", "connect_attempts"),
    "reconnect_attempts": ("sources", "reconnect_attempts"),
    "max_outage_s": ("sources", "max_outage_s"),
    "reconnect_backoff_s": ("sources", "reconnect_backoff_s"),
    "reconnect_backoff_max_s": ("sources", "reconnect_backoff_max_s"),
    "queue_size": ("sources", "queue_size"),
    # perception
    "gate_tile": ("perception", "gate_tile"),
    "gate_threshold": ("perception", "gate_threshold"),
    "analysis_width": ("perception", "analysis_width"),
    "detect_people": ("perception", "detect_people"),
    "detect_faces": ("perception", "detect_faces"),
    "detect_text": ("perception", "detect_text"),
    "detect_colors": ("perception", "detect_colors"),
    "detect_objects": ("perception", "detect_objects"),
    "object_interval_s": ("perception", "object_interval_s"),
    "detect_openimages": ("perception", "detect_openimages"),
    "object_crops": ("perception", "object_crops"),
    "openimages_interval_s": ("perception", "openimages_interval_s"),
    "object_refresh_s": ("perception", "object_refresh_s"),
    "ocr_interval_s": ("perception", "ocr_interval_s"),
    "face_interval_s": ("perception", "face_interval_s"),
    "face_state": ("perception", "face_state"),
    "face_state_fps": ("perception", "face_state_fps"),
    "model_threads": ("perception", "model_threads"),
    "detect_hands": ("perception", "detect_hands"),
    "detect_pose": ("perception", "detect_pose"),
    "pose_interval_s": ("perception", "pose_interval_s"),
    "hand_interval_s": ("perception", "hand_interval_s"),
    "shots": ("perception", "shots"),
    "shot_fps": ("perception", "shot_fps"),
    "encoder_dir": ("perception", "encoder_dir"),
    "encoder_deployment": ("perception", "encoder_deployment"),
    # speech
    "speech": ("speech", "enabled"),
    "speech_model": ("speech", "model"),
    "speech_language": ("speech", "language"),
    "models_dir": ("speech", "models_dir"),
    "speech_process": ("speech", "process"),
    "speech_nice": ("speech", "nice"),
    "speech_threads": ("speech", "threads"),
    "speech_beam_size": ("speech", "beam_size"),
    "speech_device": ("speech", "device"),
    "speech_buffer_s": ("speech", "buffer_s"),
    "speech_min_silence_s": ("speech", "min_silence_s"),
    "speech_max_segment_s": ("speech", "max_segment_s"),
    # memory
    "store": ("memory", "store"),
    "budget": ("memory", "budget"),
    "recent_window": ("memory", "recent_window"),
    # answerer
    "answerer": ("answerer", "kind"),
    "answerer_deployment": ("answerer", "deployment"),
    "answerer_model": ("answerer", "model"),
    "answerer_base_url": ("answerer", "base_url"),
    "answerer_api_key": ("answerer", "api_key"),
    "answerer_device": ("answerer", "device"),
    "answerer_timeout_s": ("answerer", "timeout_s"),
    "answerer_retries": ("answerer", "retries"),
    "answerer_max_tokens": ("answerer", "max_tokens"),
    "answerer_video": ("answerer", "video"),
    "answerer_process": ("answerer", "process"),
    "answerer_nice": ("answerer", "nice"),
    "context_images": ("answerer", "context_images"),
    "context_recent": ("answerer", "context_recent"),
    "context_log_chars": ("answerer", "context_log_chars"),
    "context_image_side": ("answerer", "context_image_side"),
    # parser (newer than the flat names; given them so every field is reachable the same two ways)
    "parser_model": ("parser", "model"),
    "parser_base_url": ("parser", "base_url"),
    "parser_api_key": ("parser", "api_key"),
    "parser_timeout_s": ("parser", "timeout_s"),
    "parser_response_format": ("parser", "response_format"),
    # server
    "allow_hosts": ("server", "allow_hosts"),
    "allow_listen": ("server", "allow_listen"),
    "server_names": ("server", "names"),
}


def _is_group_value(value: object) -> bool:
    """Whether a value given under a group's name is the group itself (not the flat ``answerer``/``speech``)."""
    return isinstance(value, (BaseModel, Mapping))


def _regroup(values: Mapping[str, Any], *, strict: bool) -> dict[str, Any]:
    """Move flat names (``answerer_model=``) into their groups (``answerer={"model": ...}``).

    Args:
        values: Keyword arguments or raw data for :class:`Settings`.
        strict: Refuse a field given both flat and in its group (else the flat one wins).

    Raises:
        ConfigError: ``strict`` and one field is given both ways.
    """
    out = dict(values)
    moved: dict[str, dict[str, Any]] = {}
    for flat, (group, name) in FLAT_NAMES.items():
        if flat not in out or (flat == group and _is_group_value(out[flat])):
            continue
        moved.setdefault(group, {})[name] = out.pop(flat)
    for group, fields in moved.items():
        given = out.get(group)
        if given is None:
            out[group] = fields
            continue
        base = given.model_dump(exclude_unset=True) if isinstance(given, BaseModel) else dict(given)
        both = sorted(set(base) & set(fields))
        if strict and both:
            flat_of = {v: k for k, v in FLAT_NAMES.items()}
            raise ConfigError("given twice: " + ", ".join(
                f"{flat_of[(group, n)]} and {group}.{n}" for n in both) + " (give one)")
        out[group] = {**base, **fields}
    return out


class _GroupedEnv(EnvSettingsSource):
    """``ONLOOK_<GROUP>__<FIELD>`` (and ``ONLOOK_<GROUP>`` as JSON), leaving the old flat names to _FlatEnv.

    ``ONLOOK_ANSWERER`` and ``ONLOOK_SPEECH`` are the old flat names of the answerer's kind and the
    speech switch, which share their names with the groups: unless one holds a JSON object (the group
    itself) it is the flat one, read by :class:`_FlatEnv`, not decoded as JSON here.
    """

    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:
        value, key, is_complex = super().get_field_value(field, field_name)
        if field_name in FLAT_NAMES and isinstance(value, str) and not value.lstrip().startswith("{"):
            value = None  # the old flat variable: _FlatEnv reads it (and the nested ones are still exploded)
        return value, key, is_complex


class _FlatEnv(PydanticBaseSettingsSource):
    """The old flat variables (``ONLOOK_ANSWERER_MODEL``), read into their groups.

    It comes after :class:`_GroupedEnv`, so a nested variable wins over the flat one for the same field.
    """

    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:
        return None, field_name, False  # unused: __call__ reads every flat name at once

    def __call__(self) -> dict[str, Any]:
        prefix = str(self.config.get("env_prefix", ""))
        sensitive = bool(self.config.get("case_sensitive", False))
        env = dict(os.environ) if sensitive else {k.lower(): v for k, v in os.environ.items()}
        out: dict[str, dict[str, Any]] = {}
        for flat, (group, name) in FLAT_NAMES.items():
            key = prefix + flat.upper()
            value = env.get(key if sensitive else key.lower())
            if value is None or (flat == group and value.lstrip().startswith("{")):
                continue  # unset, or the group itself as JSON (_GroupedEnv's)
            out.setdefault(group, {})[name] = value
        return out


class Settings(BaseSettings):
    """Everything a user can set, in groups, with defaults that run on 2 CPU cores.

    Groups: :attr:`sources` (:class:`SourceSettings`), :attr:`perception`, :attr:`speech`,
    :attr:`memory`, :attr:`answerer`, :attr:`parser` and :attr:`server`. Each field can come from the environment
    (read when the object is built, never at import), as ``ONLOOK_<GROUP>__<FIELD>``
    (``ONLOOK_ANSWERER__MODEL``) or by its older flat name (``ONLOOK_ANSWERER_MODEL``, see
    :data:`FLAT_NAMES`); when both are set the nested one wins. Keyword arguments win over both.

    The flat names also still work as keywords (``Settings(fps=4, answerer_model="m")``, which is
    ``Settings(sources={"fps": 4}, answerer={"model": "m"})``; one field given both ways is a
    :class:`~onlook.errors.ConfigError`), in ``model_copy(update=...)``, and as attributes
    (``settings.fps`` reads ``settings.sources.fps``) - except ``answerer`` and ``speech``, which
    name their groups: read ``settings.answerer.kind`` and ``settings.speech.enabled``.

    Example:
        >>> s = Settings(sources=SourceSettings(fps=4), answerer_model="m")
        >>> s.sources.fps, s.answerer.model, s.fps
        (4.0, 'm', 4.0)
    """

    model_config = SettingsConfigDict(env_prefix="ONLOOK_", env_nested_delimiter="__", extra="ignore")

    sources: SourceSettings = Field(default_factory=SourceSettings)
    perception: PerceptionSettings = Field(default_factory=PerceptionSettings)
    speech: SpeechSettings = Field(default_factory=SpeechSettings)
    memory: MemorySettings = Field(default_factory=MemorySettings)
    answerer: AnswererSettings = Field(default_factory=AnswererSettings)
    parser: ParserSettings = Field(default_factory=ParserSettings)
    server: ServerSettings = Field(default_factory=ServerSettings)

    def __init__(self, **values: Any) -> None:
        super().__init__(**_regroup(values, strict=True))

    @classmethod
    def settings_customise_sources(cls, settings_cls: type[BaseSettings], init_settings: PydanticBaseSettingsSource,
                                   env_settings: PydanticBaseSettingsSource,
                                   dotenv_settings: PydanticBaseSettingsSource,
                                   file_secret_settings: PydanticBaseSettingsSource,
                                   ) -> tuple[PydanticBaseSettingsSource, ...]:
        # Earlier sources win, field by field: keywords, then nested variables, then the old flat ones.
        return (init_settings, _GroupedEnv(settings_cls), _FlatEnv(settings_cls), dotenv_settings,
                file_secret_settings)

    @model_validator(mode="before")
    @classmethod
    def _flat_data(cls, data: Any) -> Any:
        # model_validate({"fps": 4, ...}) (not through __init__): flat data of the old shape.
        return _regroup(data, strict=False) if isinstance(data, Mapping) else data

    def __getattr__(self, name: str) -> Any:
        # Only reached when normal lookup fails: the old flat attribute names read their group's field.
        where = FLAT_NAMES.get(name)
        if where is None:
            return super().__getattr__(name)  # type: ignore[misc]  # pydantic's (private attributes, errors)
        return getattr(getattr(self, where[0]), where[1])

    def model_copy(self, *, update: Mapping[str, Any] | None = None, deep: bool = False) -> Settings:
        """A copy with ``update`` applied (not validated, as pydantic's).

        ``update`` may replace a group (``{"memory": MemorySettings(...)}``), change some of its
        fields (``{"memory": {"store": "cam1"}}``) or name fields flat (``{"store": "cam1"}``).

        Example:
            >>> Settings().model_copy(update={"fps": 5, "memory": {"store": "cam1"}}).sources.fps
            5
        """
        if not update:
            return super().model_copy(deep=deep)
        top = dict(update)
        moved: dict[str, dict[str, Any]] = {}
        for group in GROUPS:
            if isinstance(top.get(group), Mapping):  # some of a group's fields
                moved[group] = dict(top.pop(group))
        for flat, (group, name) in FLAT_NAMES.items():
            if flat in top and not (flat == group and _is_group_value(top[flat])):
                moved.setdefault(group, {})[name] = top.pop(flat)
        for group, fields in moved.items():
            base = top.get(group, getattr(self, group))
            top[group] = base.model_copy(update=fields)
        return super().model_copy(update=top, deep=deep)
