"""Build the answerer a :class:`~onlook.config.Settings` asks for, from a registry of backends.

Used by the CLI, by ``onlook serve`` and by stream workers that run
elsewhere (Ray actors), so every place builds the same answerer from the same
settings. Each backend is a builder registered under the name
``settings.answerer.kind`` gives (:data:`BACKENDS`); the builders import their
backend's module only when called, so naming one costs nothing until it is
used.

Example:
    >>> from onlook.config import Settings
    >>> type(build_answerer(Settings())).__name__
    'ExtractiveAnswerer'
    >>> sorted(BACKENDS)
    ['extractive', 'openai', 'serve', 'transformers']
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from onlook.config import AnswererSettings, Settings
from onlook.errors import ConfigError

if TYPE_CHECKING:  # pragma: no cover - for annotations only
    from onlook.answer.base import BaseAnswerer
    from onlook.answer.context import ContextBudget

__all__ = ["BACKENDS", "Builder", "build_answerer", "register_backend"]

#: ``builder(settings, load=..., in_process=...)`` -> the backend's answerer (see :func:`build_answerer`).
Builder = Callable[..., "BaseAnswerer"]


def _budget(a: AnswererSettings) -> ContextBudget:
    from onlook.answer.context import ContextBudget

    return ContextBudget(images=a.context_images, recent=a.context_recent, log_chars=a.context_log_chars,
                         image_side=a.context_image_side)


def _extractive(settings: Settings, *, load: bool = True, in_process: bool = False) -> BaseAnswerer:
    from onlook.answer.extractive import ExtractiveAnswerer
    from onlook.query.model_parser import build_parser

    return ExtractiveAnswerer(parser=build_parser(settings))


def _serve(settings: Settings, *, load: bool = True, in_process: bool = False) -> BaseAnswerer:
    # A VLM shared by the cluster's streams (Ray Serve).
    from onlook.cluster.models import ServeAnswerer

    a = settings.answerer
    return ServeAnswerer(a.deployment, budget=_budget(a), timeout_s=a.timeout_s)


def _needs_model(settings: Settings) -> None:
    if not settings.answerer.model:
        raise ConfigError(f"--answerer {settings.answerer.kind} needs --model")


def _openai(settings: Settings, *, load: bool = True, in_process: bool = False) -> BaseAnswerer:
    _needs_model(settings)
    a = settings.answerer
    if a.process and not in_process:
        # Context building and the HTTP client in a child: ingest keeps its rate while answering.
        from onlook.answer.process import ProcessAnswerer

        return ProcessAnswerer(settings)
    from onlook.answer.openai_vlm import OpenAIAnswerer

    assert a.model is not None  # checked by _needs_model
    return OpenAIAnswerer(a.model, base_url=a.base_url, api_key=a.api_key, budget=_budget(a), timeout_s=a.timeout_s,
                          retries=a.retries, max_tokens=a.max_tokens, video=a.video)


def _transformers(settings: Settings, *, load: bool = True, in_process: bool = False) -> BaseAnswerer:
    _needs_model(settings)
    from onlook.answer.transformers_vlm import TransformersAnswerer

    a = settings.answerer
    vlm = TransformersAnswerer(a.model, device=a.device, budget=_budget(a), max_new_tokens=a.max_tokens)
    if load:
        vlm.load()
    return vlm


#: Answerer backends by the name ``settings.answerer.kind`` gives.
BACKENDS: dict[str, Builder] = {
    "extractive": _extractive,
    "openai": _openai,
    "transformers": _transformers,
    "serve": _serve,
}


def register_backend(name: str, builder: Builder) -> None:
    """Add (or replace) the backend ``name``: ``builder(settings, load=, in_process=)`` builds it.

    Raises:
        ConfigError: ``name`` is empty.
    """
    if not name:
        raise ConfigError("an answerer backend needs a name")
    BACKENDS[name] = builder


def build_answerer(settings: Settings, *, load: bool = True, in_process: bool = False) -> BaseAnswerer:
    """The answerer ``settings.answerer.kind`` names (the extractive one for ``"extractive"``).

    Args:
        settings: Its ``answerer`` group (kind, model, ..., the context budget) says what to build.
        load: Load a transformers model now, so a bad name fails here with one line
            rather than at the first question.
        in_process: Build it here even when ``settings.answerer.process`` asks for a
            child process (what that child itself does).

    Raises:
        ConfigError: an unknown backend, or a VLM answerer without a model name.
        ModelError: the transformers model cannot be loaded.
    """
    kind = settings.answerer.kind
    builder = BACKENDS.get(kind)
    if builder is None:
        raise ConfigError(f"unknown answerer {kind!r}: one of {', '.join(sorted(BACKENDS))}")
    return builder(settings, load=load, in_process=in_process)
