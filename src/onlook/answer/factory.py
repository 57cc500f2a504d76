"""Build the answerer a :class:`~onlook.config.Settings` asks for, from a registry of backends.

Used by the CLI, by ``onlook serve`` and by stream workers that run
elsewhere (Ray actors), so every place builds the same answerer from the same
settings. Each backend is a builder registered under the name
``settings.answerer`` gives (:data:`BACKENDS`); the builders import their
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

from onlook.config import Settings
from onlook.errors import ConfigError

if TYPE_CHECKING:  # pragma: no cover - for annotations only
    from onlook.answer.base import BaseAnswerer
    from onlook.answer.context import ContextBudget

__all__ = ["BACKENDS", "Builder", "build_answerer", "register_backend"]

#: ``builder(settings, load=..., in_process=...)`` -> the backend's answerer (see :func:`build_answerer`).
Builder = Callable[..., "BaseAnswerer"]


def _budget(settings: Settings) -> ContextBudget:
    from onlook.answer.context import ContextBudget

    return ContextBudget(images=settings.context_images, recent=settings.context_recent,
                         log_chars=settings.context_log_chars, image_side=settings.context_image_side)


def _extractive(settings: Settings, *, load: bool = True, in_process: bool = False) -> BaseAnswerer:
    from onlook.answer.extractive import ExtractiveAnswerer

    return ExtractiveAnswerer()


def _serve(settings: Settings, *, load: bool = True, in_process: bool = False) -> BaseAnswerer:
    # A VLM shared by the cluster's streams (Ray Serve).
    from onlook.cluster.models import ServeAnswerer

    return ServeAnswerer(settings.answerer_deployment, budget=_budget(settings), timeout_s=settings.answerer_timeout_s)


def _needs_model(settings: Settings) -> None:
    if not settings.answerer_model:
        raise ConfigError(f"--answerer {settings.answerer} needs --model")


def _openai(settings: Settings, *, load: bool = True, in_process: bool = False) -> BaseAnswerer:
    _needs_model(settings)
    if settings.answerer_process and not in_process:
        # Context building and the HTTP client in a child: ingest keeps its rate while answering.
        from onlook.answer.process import ProcessAnswerer

        return ProcessAnswerer(settings)
    from onlook.answer.openai_vlm import OpenAIAnswerer

    assert settings.answerer_model is not None  # checked by _needs_model
    return OpenAIAnswerer(settings.answerer_model, base_url=settings.answerer_base_url,
                          api_key=settings.answerer_api_key, budget=_budget(settings),
                          timeout_s=settings.answerer_timeout_s, retries=settings.answerer_retries,
                          max_tokens=settings.answerer_max_tokens, video=settings.answerer_video)


def _transformers(settings: Settings, *, load: bool = True, in_process: bool = False) -> BaseAnswerer:
    _needs_model(settings)
    from onlook.answer.transformers_vlm import TransformersAnswerer

    vlm = TransformersAnswerer(settings.answerer_model, device=settings.answerer_device, budget=_budget(settings),
                               max_new_tokens=settings.answerer_max_tokens)
    if load:
        vlm.load()
    return vlm


#: Answerer backends by the name ``settings.answerer`` gives.
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
    """The answerer ``settings.answerer`` names (the extractive one for ``"extractive"``).

    Args:
        settings: Answerer fields (``answerer``, ``answerer_model``, ...) and the context budget.
        load: Load a transformers model now, so a bad name fails here with one line
            rather than at the first question.
        in_process: Build it here even when ``settings.answerer_process`` asks for a
            child process (what that child itself does).

    Raises:
        ConfigError: an unknown backend, or a VLM answerer without a model name.
        ModelError: the transformers model cannot be loaded.
    """
    builder = BACKENDS.get(settings.answerer)
    if builder is None:
        raise ConfigError(f"unknown answerer {settings.answerer!r}: one of {', '.join(sorted(BACKENDS))}")
    return builder(settings, load=load, in_process=in_process)
