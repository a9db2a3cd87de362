"""Compute: executors chosen by URL (`local`, `local?cpu=4&gpu=1`, `dask://host:port`)."""

from __future__ import annotations

from labstream.compute.base import Executor, TaskFuture
from labstream.core.registry import load

REGISTRY: dict[str, tuple[str, str]] = {
    "local": ("labstream.compute.local:LocalExecutor", "core"),
    "dask": ("labstream.compute.dask:DaskExecutor", "core"),
}


def open_executor(url: str = "local") -> Executor:
    cls = load(REGISTRY, url, "executor")
    return cls(url)  # type: ignore[no-any-return]


__all__ = ["Executor", "TaskFuture", "open_executor"]
