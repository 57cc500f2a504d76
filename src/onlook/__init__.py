"""onlook: watch live video, remember it within a budget, answer questions and raise alerts.

The package root is the public API: everything a program that embeds onlook
needs is importable from here, and ``__all__`` lists it (a test keeps the two
equal). The submodules are the implementation; their public names may move
between versions, these may not.

Example:
    >>> from onlook import StreamEngine
    >>> engine = StreamEngine("clip.mp4", stream_id="demo")  # doctest: +SKIP
    >>> engine.run()  # doctest: +SKIP
    >>> engine.ask("how many people are there?").text  # doctest: +SKIP
    '1 person visible at 00:15.'

"""

# Defined before the imports below: server modules read it while the package is still importing.
__version__ = "0.1.0"

from onlook.answer.base import AnswerStream, BaseAnswerer
from onlook.answer.extractive import ExtractiveAnswerer
from onlook.answer.factory import build_answerer, register_backend
from onlook.answer.fake import FakeAnswerer
from onlook.answer.openai_vlm import OpenAIAnswerer
from onlook.answer.process import ProcessAnswerer
from onlook.answer.transformers_vlm import TransformersAnswerer
from onlook.answer.vlm import VLMAnswerer
from onlook.client import FakeStreamClient, StreamClient
from onlook.config import Settings
from onlook.engine import StreamEngine
from onlook.errors import (
    ConfigError,
    ModelCorrupt,
    ModelError,
    ModelMissing,
    OnlookError,
    QueryError,
    SourceCorrupt,
    SourceError,
    SourceExhausted,
    SourceNotFound,
    SourceTimeout,
    SourceUnreachable,
    StoreCorrupt,
    StoreError,
    StoreFull,
    StoreLocked,
    StoreNotFound,
    StoreTooNew,
    TargetNotAllowed,
    UnsupportedQuery,
    UnsupportedSource,
)
from onlook.memory import Memory, Store
from onlook.query.search import MemoryView, search
from onlook.sources import FakeSource, Source, SourceInfo, SourceKind, open_source
from onlook.types import (
    Alert,
    Analysis,
    Answer,
    AudioChunk,
    Box,
    Capability,
    Event,
    Evidence,
    Frame,
    Gap,
    IngestState,
    MessageType,
    Observation,
    ObservationKind,
    SearchHit,
    SpeechSegment,
    StreamState,
    TimelineRow,
    Word,
    format_ts,
)

__all__ = [
    "Alert",
    "Analysis",
    "Answer",
    "AnswerStream",
    "AudioChunk",
    "BaseAnswerer",
    "Box",
    "Capability",
    "ConfigError",
    "Event",
    "Evidence",
    "ExtractiveAnswerer",
    "FakeAnswerer",
    "FakeSource",
    "FakeStreamClient",
    "Frame",
    "Gap",
    "IngestState",
    "Memory",
    "MemoryView",
    "MessageType",
    "ModelCorrupt",
    "ModelError",
    "ModelMissing",
    "Observation",
    "ObservationKind",
    "OnlookError",
    "OpenAIAnswerer",
    "ProcessAnswerer",
    "QueryError",
    "SearchHit",
    "Settings",
    "Source",
    "SourceCorrupt",
    "SourceError",
    "SourceExhausted",
    "SourceInfo",
    "SourceKind",
    "SourceNotFound",
    "SourceTimeout",
    "SourceUnreachable",
    "SpeechSegment",
    "Store",
    "StoreCorrupt",
    "StoreError",
    "StoreFull",
    "StoreLocked",
    "StoreNotFound",
    "StoreTooNew",
    "StreamClient",
    "StreamEngine",
    "StreamState",
    "TargetNotAllowed",
    "TimelineRow",
    "TransformersAnswerer",
    "UnsupportedQuery",
    "UnsupportedSource",
    "VLMAnswerer",
    "Word",
    "__version__",
    "build_answerer",
    "format_ts",
    "open_source",
    "register_backend",
    "search",
]
