"""The scale-out executor: a Dask distributed cluster, with placement by worker resources.

`DaskExecutor("dask://127.0.0.1:8786")` connects a `distributed.Client` to that scheduler. A task's
ResourceRequest becomes Dask's `resources=` (`GPU`, `TPU`, ... as the workers advertise them with
`dask worker --resources "GPU=1"`), so Dask runs it only on a worker that has them.

Dask itself would keep a task that no worker can run pending forever; this executor instead refuses it
at submit with ComputeError, checking the request against the workers the scheduler knows. Memory is
checked against a worker's `MEMORY` resource when it advertises one, else against its memory limit (and
is then not passed as a resource, since Dask would never find it). Tasks are submitted with `pure=False`:
a retry must run again, not return the cached result of the failed attempt.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qs

from labstream.core.closing import Closing
from labstream.core.errors import ComputeError, ConfigError, MissingDependencyError
from labstream.core.resources import ResourceRequest

INFO_TTL_S = 2.0


def scheduler_address(url: str) -> str:
    """`dask://host:port` -> `tcp://host:port` (also accepts `dask+tls://` and `dask+tcp://`)."""
    scheme, sep, rest = url.partition("://")
    if not sep or not scheme.startswith("dask") or not rest:
        raise ConfigError(f"not a dask executor URL: {url!r}; use dask://host:port")
    proto = scheme.partition("+")[2] or "tcp"
    return f"{proto}://{rest.rstrip('/')}"


class DaskExecutor(Closing):
    """Submit tasks to a running Dask scheduler; the futures are `distributed.Future`s."""

    def __init__(self, url: str, *, connect_timeout: float = 30.0) -> None:
        try:
            from distributed import Client
        except ImportError as err:  # pragma: no cover - distributed is a core dependency
            raise MissingDependencyError("distributed", "core") from err
        self.url = url
        base, _, query = url.partition("?")  # `?timeout=SECONDS` bounds the connect (default 30 s)
        address = scheduler_address(base)
        timeout = parse_qs(query).get("timeout", [""])[0]
        try:
            connect_timeout = float(timeout) if timeout else connect_timeout
        except ValueError as err:
            raise ConfigError(f"executor URL {url!r}: timeout must be a number of seconds") from err
        try:
            self._client = Client(address, timeout=connect_timeout, set_as_default=False)
        except OSError as err:
            raise ComputeError(
                f"cannot reach the Dask scheduler at {address}: {err}; start one "
                f"(`dask scheduler`) or fix executor_url"
            ) from err
        self._lock = threading.Lock()
        self._workers: dict[str, dict[str, Any]] = {}
        self._fetched_at = 0.0

    @property
    def client(self) -> Any:
        return self._client

    def check_workers(self, objects_url: str) -> None:
        from labstream.compute.preflight import check_dask_workers

        check_dask_workers(self._client, objects_url)

    def _worker_info(self, refresh: bool = False) -> dict[str, dict[str, Any]]:
        with self._lock:
            if refresh or time.monotonic() - self._fetched_at > INFO_TTL_S:
                info = self._client.scheduler_info(n_workers=-1)
                self._workers = dict(info.get("workers", {}))
                self._fetched_at = time.monotonic()
            return self._workers

    def capacity(self) -> dict[str, float]:
        total: dict[str, float] = {"cpu": 0.0, "gpu": 0.0, "memory_mb": 0.0}
        for w in self._worker_info(refresh=True).values():
            total["cpu"] += float(w.get("nthreads", 0))
            total["memory_mb"] += float(w.get("memory_limit") or 0) / 2**20
            for name, amount in (w.get("resources") or {}).items():
                key = "gpu" if name == "GPU" else name
                total[key] = total.get(key, 0.0) + float(amount)
        return total

    def _placement(self, req: ResourceRequest) -> dict[str, float]:
        """Dask resources for the request, or ComputeError when no worker could ever run it."""
        wanted = req.as_dask()
        for refresh in (False, True):
            workers = self._worker_info(refresh=refresh)
            advertises_memory = any("MEMORY" in (w.get("resources") or {}) for w in workers.values())
            resources = {k: v for k, v in wanted.items() if advertises_memory or k != "MEMORY"}
            for w in workers.values():
                have = w.get("resources") or {}
                if req.cpu > float(w.get("nthreads", 0)):
                    continue
                if not advertises_memory and req.memory_mb:
                    limit = float(w.get("memory_limit") or 0)
                    if limit and req.memory_mb * 2**20 > limit:
                        continue
                if all(float(have.get(k, 0.0)) >= v for k, v in resources.items()):
                    return resources
        known = {a: (w.get("resources") or {}) for a, w in workers.items()}
        raise ComputeError(
            f"{self.url}: no worker can run a task asking {req}; workers advertise {known or 'nothing'}; "
            f'start a worker with those resources (`dask worker --resources "GPU=1"`) or lower the request'
        )

    def submit(
        self, fn: Callable[..., Any], *args: Any, resources: ResourceRequest | None = None, **kwargs: Any
    ) -> Any:
        placement = self._placement(resources or ResourceRequest())
        return self._client.submit(fn, *args, resources=placement or None, pure=False, **kwargs)

    def close(self) -> None:
        self._client.close()
