"""Where streams run: in this process, or as Ray actors across machines.

``RayExecutor`` is imported on first use, so ``import onlook.cluster`` never imports Ray.
"""

from __future__ import annotations

from typing import Any

from onlook.cluster.executor import (
    Batch,
    Executor,
    InProcessExecutor,
    MessageRing,
    StreamSpec,
    StreamWorker,
)

__all__ = ["Batch", "Executor", "InProcessExecutor", "MessageRing", "RayExecutor", "StreamSpec", "StreamWorker"]


def __getattr__(name: str) -> Any:
    if name == "RayExecutor":
        from onlook.cluster.ray_executor import RayExecutor

        return RayExecutor
    raise AttributeError(name)
