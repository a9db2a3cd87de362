"""The executor contract: run a picklable function somewhere that has the resources it asks for.

Contract:
- `submit(fn, *args, resources=..., **kwargs)` returns a concurrent.futures-like future whose
  `result(timeout)` gives fn's return value or raises fn's exception (chained, never swallowed).
- A request no worker can ever satisfy (e.g. gpu=1 on a cluster without GPUs) raises ComputeError at
  submit time rather than hanging.
- The same function and arguments give the same result on every executor: executors only place work.
- `close()` waits for running tasks and frees workers.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol, runtime_checkable

from labstream.core.resources import ResourceRequest


@runtime_checkable
class TaskFuture(Protocol):
    def result(self, timeout: float | None = None) -> Any: ...

    def done(self) -> bool: ...


@runtime_checkable
class Executor(Protocol):
    url: str

    def submit(
        self, fn: Callable[..., Any], *args: Any, resources: ResourceRequest | None = None, **kwargs: Any
    ) -> TaskFuture: ...

    def capacity(self) -> dict[str, float]:
        """Total slots by resource name (cpu, gpu, memory_mb, custom names)."""

    def check_workers(self, objects_url: str) -> None:
        """ComputeError naming every worker that cannot use the object store at `objects_url` with its
        own environment (checked before a pipeline runs); workers in this process's environment pass."""

    def close(self) -> None: ...
