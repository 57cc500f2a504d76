"""Streams as Ray actors: one actor per stream, placed by Ray, restarted by Ray when it dies.

Needs ``pip install 'onlook[cluster]'``. Each stream's actor owns a
:class:`~onlook.cluster.executor.StreamWorker`. When the actor dies (killed,
its process lost) Ray builds it again from the same :class:`StreamSpec`: the
worker reopens the store on disk (local to the node, or a shared path),
carries on ingest after the last stored stream time and records the gap.
Calls in flight while it restarts are retried (``max_task_retries``).
"""

from __future__ import annotations

import dataclasses
import logging
import os
from pathlib import Path
from typing import Any

from onlook.cluster.executor import Batch, StreamSpec, StreamWorker
from onlook.engine import Message
from onlook.errors import ConfigError, OnlookError
from onlook.types import Answer, Frame, Gap, ObservationKind, SearchHit

try:
    import ray
except ImportError:  # pragma: no cover - exercised only without the extra
    ray = None

__all__ = ["RayExecutor", "join_ray"]

log = logging.getLogger(__name__)


def _require_ray() -> Any:
    if ray is None:
        raise ConfigError("the Ray executor needs Ray: pip install 'onlook[cluster]'")
    return ray


def join_ray(address: str | None, **init_kwargs: Any) -> None:
    """``ray.init`` with a one-line error for a bad or unreachable address.

    Raises:
        ConfigError: Ray is missing, the address is malformed, or no cluster answers there.
    """
    r = _require_ray()
    try:
        r.init(address=address, **init_kwargs)
    except (ConnectionError, ValueError, RuntimeError) as e:
        first = str(e).splitlines()[0] if str(e) else type(e).__name__
        raise ConfigError(f"cannot join the Ray cluster '{address}': {first}") from None


class _RayStreamWorker(StreamWorker):
    """The actor class: a worker that knows whether Ray is rebuilding it after a death."""

    def __init__(self, spec: StreamSpec, ring_size: int = 1024) -> None:
        restarted = bool(ray.get_runtime_context().was_current_actor_reconstructed)
        super().__init__(spec, ring_size=ring_size, restarted=restarted)

    def pid(self) -> int:
        return os.getpid()

    def info(self) -> dict[str, object]:
        ctx = ray.get_runtime_context()
        return {**super().info(), "node_id": ctx.get_node_id()}


class RayExecutor:
    """Each stream in its own Ray actor, with CPU (and optionally GPU) requests.

    Args:
        address: Ray cluster to join (``"auto"``, ``"ray://HEAD:10001"``), or ``"local"`` to
            start a Ray of its own; None does what ``ray.init()`` does (joins the cluster
            ``ray start`` left on this machine, else starts one). Ignored when Ray is
            already initialised in this process.
        num_cpus: CPUs each stream's actor requests (fractions allowed).
        num_gpus: GPUs each stream's actor requests (0: none).
        max_task_retries: How often a call is retried while its actor restarts.
        ring_size: Messages each actor keeps for :meth:`poll`.
        call_timeout_s: Longest wait for any one call.
        init_kwargs: Extra ``ray.init`` arguments when this executor starts Ray.

    Raises:
        ConfigError: Ray is not installed.

    Example:
        >>> ex = RayExecutor("auto", num_cpus=1)                                        # doctest: +SKIP
        >>> ex.open(StreamSpec("cam", "rtsp://cam/1", Settings(memory={"store": "/shared/cam"})))   # doctest: +SKIP
        >>> ex.ask("cam", "how many people entered so far?").text                        # doctest: +SKIP
    """

    kind = "ray"

    def __init__(self, address: str | None = None, *, num_cpus: float = 1.0, num_gpus: float = 0.0,
                 max_task_retries: int = 3, ring_size: int = 1024, call_timeout_s: float = 60.0,
                 namespace: str = "onlook", init_kwargs: dict[str, Any] | None = None) -> None:
        r = _require_ray()
        self.num_cpus = num_cpus
        self.num_gpus = num_gpus
        self.max_task_retries = max_task_retries
        self.ring_size = ring_size
        self.call_timeout_s = call_timeout_s
        self._own_ray = False
        if not r.is_initialized():
            join_ray(address, namespace=namespace, **(init_kwargs or {}))
            self._own_ray = True
        self.actors: dict[str, Any] = {}
        # Made per executor (per Ray session), not once per process.
        self._actor_cls = r.remote(_RayStreamWorker)

    def _get(self, ref: Any, timeout: float | None = None) -> Any:
        try:
            return ray.get(ref, timeout=timeout or self.call_timeout_s)
        except ray.exceptions.RayTaskError as e:
            cause = e.cause if isinstance(getattr(e, "cause", None), OnlookError) else None
            if cause is not None:
                raise cause from None
            raise

    def actor(self, stream_id: str) -> Any:
        """The stream's actor handle.

        Raises:
            KeyError: no such stream here.
        """
        return self.actors[stream_id]

    def open(self, spec: StreamSpec) -> None:
        """Start the stream's actor and wait (bounded) until its store is open and ingest started.

        Raises:
            ConfigError: the spec has no store path (a restarted actor would have nothing to reopen),
                or the stream is already open.
            StoreLocked, UnsupportedQuery: as the engine raises them.
        """
        if spec.settings.memory.store is None:
            raise ConfigError(f"stream '{spec.stream_id}': the Ray executor needs a store path")
        if spec.stream_id in self.actors:
            raise ConfigError(f"stream '{spec.stream_id}' is already open")
        store = Path(spec.settings.memory.store).expanduser().absolute()
        spec = dataclasses.replace(spec, settings=spec.settings.model_copy(update={"memory": {"store": store}}),
                                   alerts=tuple(spec.alerts))
        opts: dict[str, Any] = {"num_cpus": self.num_cpus, "max_restarts": -1,
                                "max_task_retries": self.max_task_retries,
                                "max_concurrency": 4}  # a slow ask must not hold up poll/status
        if self.num_gpus:
            opts["num_gpus"] = self.num_gpus
        if spec.node:
            from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

            # Soft: when that node is lost, Ray restarts the actor on another one (the store
            # must then be on a shared path for the stream to carry on with its memory).
            opts["scheduling_strategy"] = NodeAffinitySchedulingStrategy(spec.node, soft=True)
        handle = self._actor_cls.options(**opts).remote(spec, self.ring_size)
        try:
            self._get(handle.pid.remote())
        except BaseException:
            ray.kill(handle, no_restart=True)
            raise
        self.actors[spec.stream_id] = handle

    def status(self, stream_id: str) -> Message:
        return self._get(self.actor(stream_id).status.remote())

    def ask(self, stream_id: str, question: str, at: float | None = None) -> Answer:
        return self._get(self.actor(stream_id).ask.remote(question, at))

    def answer(self, stream_id: str, question: str, at: float | None = None,
               history: list[dict] | None = None) -> Answer:
        return self._get(self.actor(stream_id).answer.remote(question, at, history))

    def search(self, stream_id: str, text: str, until: float | None = None, k: int = 10) -> list[SearchHit]:
        return self._get(self.actor(stream_id).search.remote(text, until, k))

    def keyframe(self, stream_id: str, name: str) -> bytes | None:
        return self._get(self.actor(stream_id).keyframe.remote(name))

    def record(self, stream_id: str, limit: int = 500,
               sighting_kinds: tuple[str, ...] = (ObservationKind.ENTER, ObservationKind.EXIT)) -> dict[str, list]:
        return self._get(self.actor(stream_id).record.remote(limit, sighting_kinds))

    def latest(self, stream_id: str, after_seq: int = -1) -> tuple[Frame, list] | None:
        return self._get(self.actor(stream_id).latest.remote(after_seq))

    def nodes(self) -> list[dict[str, object]]:
        """Ray's nodes: id, host address, alive, total resources."""
        return [{"node_id": n.get("NodeID"), "host": n.get("NodeManagerAddress"), "alive": bool(n.get("Alive")),
                 "resources": {k: v for k, v in (n.get("Resources") or {}).items()
                               if not k.startswith("node:") and k not in ("object_store_memory", "memory")}}
                for n in ray.nodes()]

    def add_alert(self, stream_id: str, query: str) -> list[str]:
        return self._get(self.actor(stream_id).add_alert.remote(query))

    def remove_alert(self, stream_id: str, query: str) -> bool:
        return self._get(self.actor(stream_id).remove_alert.remote(query))

    def gaps(self, stream_id: str) -> list[Gap]:
        return self._get(self.actor(stream_id).gaps.remote())

    def poll(self, stream_id: str, epoch: str | None = None, cursor: int = 0, limit: int = 1000) -> Batch:
        return self._get(self.actor(stream_id).poll.remote(epoch, cursor, limit))

    def stop(self, stream_id: str) -> None:
        self._get(self.actor(stream_id).stop.remote())

    def close(self, stream_id: str) -> None:
        handle = self.actors.pop(stream_id)
        try:
            self._get(handle.close.remote(), timeout=15.0)
        except (OnlookError, ray.exceptions.RayError) as e:  # a dead or stuck actor is killed regardless
            log.warning("stream %s did not close cleanly: %s", stream_id, e)
        ray.kill(handle, no_restart=True)

    def shutdown(self) -> None:
        """Close every stream; stop Ray if this executor started it."""
        for sid in list(self.actors):
            self.close(sid)
        if self._own_ray:
            ray.shutdown()
