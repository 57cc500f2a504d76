"""Shared models as Ray Serve deployments: one encoder, one VLM, for every stream of the cluster.

Loading a CLIP encoder or a VLM in each stream's actor would hold one copy per
camera (and one GPU each). Instead the model runs as a Serve deployment --
``replicas`` copies placed by Ray, with CPU/GPU requests -- and each stream's
worker calls it by handle:

* :class:`EncoderService` batches the images and texts that many streams send
  at the same moment into one ONNX call (``serve.batch``);
* :class:`VLMService` answers from a context the stream's worker built from its
  own memory (frames within the budget, event log); the model only generates.

A stream uses them when its settings name the deployments
(``Settings(encoder_deployment="onlook-encoder")``, ``Settings(answerer="serve",
answerer_deployment="onlook-vlm")``); :func:`deploy_encoder` and
:func:`deploy_vlm` start them (``onlook cluster deploy`` from the command line).
Needs ``pip install 'onlook[cluster]'`` (``ray[serve]``).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Sequence
from typing import Any, ClassVar

import numpy as np

from onlook.answer.vlm import VLMAnswerer
from onlook.errors import ConfigError, ModelError

try:
    from ray import serve
except ImportError:  # pragma: no cover - exercised only without the extra
    serve = None

__all__ = ["EncoderService", "ServeAnswerer", "ServeEncoder", "VLMService", "deploy_encoder", "deploy_vlm"]

ENCODER_APP = "onlook-encoder"
VLM_APP = "onlook-vlm"


def _require_serve() -> Any:
    if serve is None:
        raise ConfigError("shared model deployments need Ray Serve: pip install 'onlook[cluster]'")
    return serve


def _connected_serve(what: str) -> Any:
    """Ray Serve, from a process already connected to a Ray cluster (a stream's actor, or a driver).

    Raises:
        ConfigError: Serve is missing, or this process is not on a Ray cluster (Serve would
            otherwise start a Ray of its own, where no deployment runs).
    """
    s = _require_serve()
    import ray

    if not ray.is_initialized():
        raise ConfigError(f"{what} runs on a Ray cluster: use it from streams of 'onlook serve --cluster ...'")
    return s


def _batch(fn: Callable[..., Any]) -> Callable[..., Any]:
    """``serve.batch`` when Ray Serve is installed (the classes stay importable without it)."""
    if serve is None:  # pragma: no cover
        return fn
    return serve.batch(max_batch_size=32, batch_wait_timeout_s=0.02)(fn)


class EncoderService:
    """Deployment body: an image/text encoder, with requests from many streams batched.

    Args:
        encoder_dir: Folder of an ONNX CLIP encoder (``onlook prepare-encoder``), readable
            on the replica's node (a shared path, or the same path on every node).
        factory: Builds the encoder instead (anything with ``encode_images``/``encode_texts``,
            ``name`` and ``dim``), e.g. for tests.
        threads: ONNX Runtime threads per replica.
    """

    def __init__(self, encoder_dir: str | None = None, factory: Callable[[], Any] | None = None,
                 threads: int = 2) -> None:
        if factory is not None:
            self.encoder = factory()
        elif encoder_dir:
            from onlook.perception.encoder import OnnxClipEncoder

            self.encoder = OnnxClipEncoder.load(encoder_dir, threads=threads)
        else:
            raise ConfigError("EncoderService needs encoder_dir or factory")
        self.counts = {"calls": 0, "items": 0, "max_batch": 0}
        self._lock = threading.Lock()

    def _count(self, n: int) -> None:
        with self._lock:
            self.counts["calls"] += 1
            self.counts["items"] += n
            self.counts["max_batch"] = max(self.counts["max_batch"], n)

    def info(self) -> dict[str, Any]:
        """The encoder's ``name`` and ``dim``, and how requests were batched so far."""
        return {"name": self.encoder.name, "dim": int(self.encoder.dim), **self.counts}

    @_batch
    async def encode_image(self, images: list[np.ndarray]) -> list[np.ndarray]:
        self._count(len(images))
        return list(self.encoder.encode_images(images))

    @_batch
    async def encode_text(self, texts: list[str]) -> list[np.ndarray]:
        self._count(len(texts))
        return list(self.encoder.encode_texts(texts))


class ServeEncoder:
    """An :class:`~onlook.perception.encoder.Encoder` that calls an :class:`EncoderService` deployment.

    Each image is one request, so images sent by many streams at once share one batch.

    Args:
        app: Name of the Serve application (:func:`deploy_encoder`'s ``name``).
        timeout_s: Longest wait for one embedding.

    Raises:
        ConfigError: Ray Serve is missing, or no such application is running.
    """

    def __init__(self, app: str = ENCODER_APP, *, timeout_s: float = 30.0) -> None:
        s = _connected_serve("a shared encoder deployment")
        try:
            self.handle = s.get_app_handle(app)
            info = self.handle.info.remote().result(timeout_s=timeout_s)
        except Exception as e:  # noqa: BLE001 - Serve raises several kinds for "not there"
            raise ConfigError(f"no encoder deployment '{app}' is running ({e})") from None
        self.app = app
        self.name = str(info["name"])
        self.dim = int(info["dim"])
        self.timeout_s = timeout_s

    def _gather(self, method: Any, items: Sequence[Any]) -> np.ndarray:
        if not items:
            return np.zeros((0, self.dim), np.float32)
        try:
            responses = [method.remote(x) for x in items]
            return np.stack([r.result(timeout_s=self.timeout_s) for r in responses]).astype(np.float32)
        except Exception as e:  # noqa: BLE001
            raise ModelError(f"encoder deployment '{self.app}' failed: {str(e).splitlines()[0] if str(e) else e!r}"
                             ) from None

    def encode_images(self, images: Sequence[np.ndarray]) -> np.ndarray:
        return self._gather(self.handle.encode_image, list(images))

    def encode_texts(self, texts: Sequence[str]) -> np.ndarray:
        return self._gather(self.handle.encode_text, list(texts))


class VLMService:
    """Deployment body: a transformers VLM that answers from contexts the streams send.

    Args:
        model: Hugging Face name or folder.
        device: ``"cpu"``, ``"cuda"``...
        max_new_tokens: Longest answer.
        factory: Returns ``(model, processor)`` instead of loading ``model`` (tests).
    """

    def __init__(self, model: str | None = None, *, device: str = "cpu", max_new_tokens: int = 256,
                 factory: Callable[[], tuple[Any, Any]] | None = None) -> None:
        from onlook.answer.transformers_vlm import TransformersAnswerer

        if factory is not None:
            obj, processor = factory()
            self.vlm = TransformersAnswerer(model_obj=obj, processor=processor, max_new_tokens=max_new_tokens,
                                            streaming=False)
        else:
            # One replica serves many streams: no per-stream streaming cache, each question is encoded fresh.
            self.vlm = TransformersAnswerer(model, device=device, max_new_tokens=max_new_tokens, streaming=False)
        self.vlm.load()
        self.answered = 0

    def info(self) -> dict[str, Any]:
        return {"model": self.vlm.model_name, "answered": self.answered}

    def generate(self, question: str, context: Any, history: list[dict[str, Any]] | None = None,
                 options: list[str] | None = None) -> str:
        """The model's reply to ``question`` given a built :class:`~onlook.answer.context.Context`
        (and, for multiple choice, its options)."""
        text = self.vlm.reply(question, context, history=history or [], options=options)
        self.answered += 1
        return text


class ServeAnswerer(VLMAnswerer):
    """Answers with a :class:`VLMService` deployment; the context is built here, next to the memory.

    Args:
        app: Name of the Serve application (:func:`deploy_vlm`'s ``name``).
        budget: What each question may show the model.
        timeout_s: Longest wait for one answer.

    Raises:
        ConfigError: Ray Serve is missing, or no such application is running.
    """

    name = "serve"
    # The deployment returns whole replies; multiple-choice questions in evaluations are asked as questions.
    streams: ClassVar[bool] = False
    chooses: ClassVar[bool] = False

    def __init__(self, app: str = VLM_APP, *, budget: Any = None, timeout_s: float = 120.0) -> None:
        super().__init__(budget)
        s = _connected_serve("--answerer serve (a shared VLM deployment)")
        try:
            self.handle = s.get_app_handle(app)
            self.model_name = str(self.handle.info.remote().result(timeout_s=30)["model"])
        except Exception as e:  # noqa: BLE001
            raise ConfigError(f"no VLM deployment '{app}' is running ({e})") from None
        self.app = app
        self.timeout_s = timeout_s

    def reply_pieces(self, question: str, ctx: Any, view: Any, options: Sequence[str] | None,
                     history: Sequence[Any]) -> Iterator[str]:
        """The deployment's whole reply to ``question`` shown ``ctx`` (context here, generation there)."""
        args: list[Any] = [question, ctx, list(history)]
        if options:  # only then: a replica of an older deployment takes three arguments
            args.append(list(options))
        try:
            text = self.handle.generate.remote(*args).result(timeout_s=self.timeout_s)
        except Exception as e:  # noqa: BLE001
            raise ModelError(f"VLM deployment '{self.app}' failed: {str(e).splitlines()[0] if str(e) else e!r}"
                             ) from None
        yield text


def _replicas(replicas: int, max_replicas: int | None) -> dict[str, Any]:
    """Serve's replica options: a fixed count, or autoscaling between ``replicas`` and ``max_replicas``."""
    if replicas < 1 or (max_replicas is not None and max_replicas < replicas):
        raise ConfigError("replicas must be >= 1 and max_replicas >= replicas")
    if max_replicas is None or max_replicas == replicas:
        return {"num_replicas": replicas}
    return {"autoscaling_config": {"min_replicas": replicas, "max_replicas": max_replicas,
                                   "target_ongoing_requests": 4}}


def deploy_encoder(encoder_dir: str | None = None, *, name: str = ENCODER_APP, replicas: int = 1,
                   max_replicas: int | None = None, num_cpus: float = 1.0, num_gpus: float = 0.0,
                   factory: Callable[[], Any] | None = None) -> Any:
    """Start (or update) the shared encoder as a Serve application; returns its handle.

    Args:
        encoder_dir: ONNX CLIP folder, readable on every node a replica may run on.
        name: The Serve application's name (streams use it: ``encoder_deployment``).
        replicas: Replicas to run (the minimum when ``max_replicas`` is given).
        max_replicas: Let Serve add replicas up to this many as requests queue up.
        num_cpus: CPUs per replica.
        num_gpus: GPUs per replica.
        factory: Builds the encoder in each replica instead of ``encoder_dir`` (tests).

    Raises:
        ConfigError: Ray Serve is missing, or bad replica counts.
    """
    s = _require_serve()
    dep = s.deployment(EncoderService, name="encoder", **_replicas(replicas, max_replicas),
                       ray_actor_options={"num_cpus": num_cpus, "num_gpus": num_gpus})
    return s.run(dep.bind(encoder_dir, factory), name=name, route_prefix=None)


def deploy_vlm(model: str | None = None, *, name: str = VLM_APP, replicas: int = 1,
               max_replicas: int | None = None, num_cpus: float = 1.0, num_gpus: float = 0.0, device: str = "cpu",
               max_new_tokens: int = 256, factory: Callable[[], tuple[Any, Any]] | None = None) -> Any:
    """Start (or update) the shared VLM as a Serve application; returns its handle.

    Args:
        model: Hugging Face name or folder, loaded in each replica.
        name: The Serve application's name (streams use it: ``answerer_deployment``).
        replicas: Replicas to run (the minimum when ``max_replicas`` is given).
        max_replicas: Let Serve add replicas up to this many as questions queue up.
        num_cpus: CPUs per replica.
        num_gpus: GPUs per replica (1 for a GPU model server).
        device: Where each replica runs the model (``"cuda"`` with ``num_gpus``).
        max_new_tokens: Longest answer.
        factory: Returns ``(model, processor)`` in each replica instead of loading ``model`` (tests).

    Raises:
        ConfigError: Ray Serve is missing, or bad replica counts.
    """
    s = _require_serve()
    dep = s.deployment(VLMService, name="vlm", **_replicas(replicas, max_replicas),
                       ray_actor_options={"num_cpus": num_cpus, "num_gpus": num_gpus})
    return s.run(dep.bind(model, device=device, max_new_tokens=max_new_tokens, factory=factory), name=name,
                 route_prefix=None)
