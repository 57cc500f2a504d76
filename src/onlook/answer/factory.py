"""Build the answerer a :class:`~onlook.config.Settings` asks for.

Used by the CLI, by ``onlook serve`` and by stream workers that run
elsewhere (Ray actors), so every place builds the same answerer from the same
settings.
"""

from __future__ import annotations

from typing import Any

from onlook.config import Settings
from onlook.errors import ConfigError

__all__ = ["build_answerer"]


def build_answerer(settings: Settings, *, load: bool = True, in_process: bool = False) -> Any:
    """The VLM answerer ``settings.answerer`` names, or None for the extractive default.

    Args:
        settings: Answerer fields (``answerer``, ``answerer_model``, ...) and the context budget.
        load: Load a transformers model now, so a bad name fails here with one line
            rather than at the first question.
        in_process: Build it here even when ``settings.answerer_process`` asks for a
            child process (what that child itself does).

    Raises:
        ConfigError: a VLM answerer without a model name.
        ModelError: the transformers model cannot be loaded.
    """
    if settings.answerer == "extractive":
        return None
    from onlook.answer.context import ContextBudget

    budget = ContextBudget(images=settings.context_images, recent=settings.context_recent,
                           log_chars=settings.context_log_chars, image_side=settings.context_image_side)
    if settings.answerer == "serve":  # a VLM shared by the cluster's streams (Ray Serve)
        from onlook.cluster.models import ServeAnswerer

        return ServeAnswerer(settings.answerer_deployment, budget=budget, timeout_s=settings.answerer_timeout_s)
    if not settings.answerer_model:
        raise ConfigError(f"--answerer {settings.answerer} needs --model")
    if settings.answerer == "openai" and settings.answerer_process and not in_process:
        # Context building and the HTTP client in a child: ingest keeps its rate while answering.
        from onlook.answer.process import ProcessAnswerer

        return ProcessAnswerer(settings)
    if settings.answerer == "openai":
        from onlook.answer.openai_vlm import OpenAIAnswerer

        return OpenAIAnswerer(settings.answerer_model, base_url=settings.answerer_base_url,
                              api_key=settings.answerer_api_key, budget=budget, timeout_s=settings.answerer_timeout_s,
                              retries=settings.answerer_retries, max_tokens=settings.answerer_max_tokens,
                              video=settings.answerer_video)
    from onlook.answer.transformers_vlm import TransformersAnswerer

    vlm = TransformersAnswerer(settings.answerer_model, device=settings.answerer_device, budget=budget,
                               max_new_tokens=settings.answerer_max_tokens)
    if load:
        vlm.load()
    return vlm
