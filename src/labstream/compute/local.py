"""The embedded executor: a process pool that places each task only where its resources fit.

`LocalExecutor("local?cpu=4&gpu=1&memory_mb=8000&TPU=2")` owns slots of cpu, gpu, memory and any named
accelerator. A task starts only when its ResourceRequest fits the free slots; until then it waits in
submission order behind other waiting tasks that also fit (no starvation of big requests: a task that
does not fit blocks those behind it only while it could fit once running tasks finish). A request larger
than the capacity can never run and raises ComputeError at submit.

Defaults: cpu = os.cpu_count(), gpu = the number of NVIDIA devices `nvidia-smi -L` lists (0 when none),
memory = 80% of RAM. A task given whole GPUs sees only those through CUDA_VISIBLE_DEVICES.

Workers are started with the `spawn` method (override with `start=fork|forkserver`): the runtime holds
threads and database connections, and forking a threaded process can deadlock a child on a lock held
by another thread at fork time. `start=fork` starts in milliseconds instead of seconds (no re-import),
so it forks every worker at construction, before the caller starts threads, and the forked workers die
with their parent (a short-lived worker process, e.g. one restarted many times by a crash test). A
process that already runs other libraries' threads (a test session with servers, gRPC, Kafka clients)
should use `start=forkserver`: its workers fork from a clean server process.
"""

from __future__ import annotations

import math
import multiprocessing as mp
import os
import shutil
import subprocess
import threading
import time
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, urlparse

import psutil

from labstream.core.closing import Closing
from labstream.core.errors import ComputeError, ConfigError
from labstream.core.resources import ResourceRequest

STANDARD = ("cpu", "gpu", "memory_mb")


def detect_gpus() -> int:
    """Count NVIDIA GPUs without importing a CUDA library (0 when there is no driver)."""
    exe = shutil.which("nvidia-smi")
    if not exe:
        return 0
    try:
        out = subprocess.run([exe, "-L"], capture_output=True, text=True, timeout=10, check=False)
    except (OSError, subprocess.SubprocessError):
        return 0
    return sum(1 for line in out.stdout.splitlines() if line.startswith("GPU "))


def parse_local_url(url: str) -> tuple[dict[str, float], str]:
    """`local?cpu=4&gpu=1&memory_mb=8000&TPU=1&start=spawn` -> (capacity, start method)."""
    parsed = urlparse(url if "://" in url else url.replace("local", "local://", 1))
    if parsed.scheme != "local":
        raise ConfigError(f"not a local executor URL: {url!r}; use `local` or `local?cpu=4&gpu=1`")
    capacity: dict[str, float] = {
        "cpu": float(os.cpu_count() or 1),
        "gpu": float(detect_gpus()),
        "memory_mb": float(int(psutil.virtual_memory().total * 0.8 / 2**20)),
    }
    start = "spawn"
    for name, value in parse_qsl(parsed.query):
        if name == "start":
            if value not in ("spawn", "fork", "forkserver"):
                raise ConfigError(f"{url!r}: start must be spawn, fork or forkserver, not {value!r}")
            start = value
            continue
        try:
            amount = float(value)
        except ValueError as err:
            raise ConfigError(f"{url!r}: resource {name}={value!r} is not a number") from err
        if amount < 0 or math.isnan(amount):
            raise ConfigError(f"{url!r}: resource {name} must be >= 0, got {value!r}")
        capacity[name] = amount
    return capacity, start


def request_amounts(req: ResourceRequest) -> dict[str, float]:
    amounts = {"cpu": float(req.cpu), "gpu": float(req.gpu), "memory_mb": float(req.memory_mb)}
    for name, value in req.custom.items():
        amounts[name] = amounts.get(name, 0.0) + float(value)
    return {k: v for k, v in amounts.items() if v}


def _run_with_devices(
    devices: str | None, fn: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any]
) -> Any:
    """Runs in the worker process: pins the task to its GPUs, then calls fn."""
    if devices is not None:
        os.environ["CUDA_VISIBLE_DEVICES"] = devices
    return fn(*args, **kwargs)


def _start_worker(owner: int, environ: dict[str, str] | None = None) -> None:
    """A pool worker leaves when the process that owns the pool dies: a pool worker
    waits on a queue whose write end it holds itself, so after a SIGKILL or an OOM kill of `watch` it
    would wait forever, holding its memory (a phenomics worker ~250 MB); a forkserver outlives its
    client too. A daemon thread polls the owner's pid (Linux's parent-death signal would fire when the
    thread that spawned the worker ends, not the process, and a forkserver worker's parent is the server).

    `environ`: a forkserver's children inherit the environment the server had when it started (the
    first pool of this process that used one); give them the caller's as fork and spawn do, so
    credentials or settings set since (`AWS_*` for a site's object store, `LABSTREAM_*`) reach the tasks."""
    if environ is not None:
        os.environ.clear()
        os.environ.update(environ)

    def watch() -> None:
        while _alive(owner):
            time.sleep(OWNER_POLL_S)
        os._exit(1)

    threading.Thread(target=watch, name="labstream-owner-watch", daemon=True).start()


def _alive(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


OWNER_POLL_S = 1.0


@dataclass
class _Pending:
    fn: Callable[..., Any]
    args: tuple[Any, ...]
    kwargs: dict[str, Any]
    amounts: dict[str, float]
    future: Future[Any] = field(default_factory=Future)


class LocalExecutor(Closing):
    """Process pool with resource slots. Thread-safe; futures are concurrent.futures.Future."""

    def __init__(self, url: str = "local") -> None:
        self.url = url
        self._capacity, start = parse_local_url(url)
        self._free = dict(self._capacity)
        self._free_gpus = list(range(int(self._capacity.get("gpu", 0))))
        # Re-entrant: a task that finishes before its done-callback is attached runs `_finished` in the
        # submitting thread, inside `_dispatch_locked` (a plain Lock deadlocked there under load).
        self._lock = threading.RLock()
        self._dispatching = False
        self._redispatch = False
        self._queue: deque[_Pending] = deque()
        self._running = 0
        self._max_workers = max(1, math.ceil(self._capacity["cpu"]))
        fork = start == "fork"
        self._pool = ProcessPoolExecutor(
            max_workers=self._max_workers,
            mp_context=mp.get_context(start),
            initializer=_start_worker,
            initargs=(os.getpid(), dict(os.environ) if start == "forkserver" else None),
        )
        self._closed = False
        if fork:  # fork every worker now, before the caller starts threads (see the module docstring)
            self._pool.submit(os.getpid).result()

    def capacity(self) -> dict[str, float]:
        return dict(self._capacity)

    def check_workers(self, objects_url: str) -> None:
        """Nothing to check: the pool's processes inherit this process's environment."""

    def free(self) -> dict[str, float]:
        with self._lock:
            return dict(self._free)

    def submit(
        self, fn: Callable[..., Any], *args: Any, resources: ResourceRequest | None = None, **kwargs: Any
    ) -> Future[Any]:
        amounts = request_amounts(resources or ResourceRequest())
        for name, amount in amounts.items():
            have = self._capacity.get(name, 0.0)
            if amount > have:
                raise ComputeError(
                    f"{self.url}: task {getattr(fn, '__name__', fn)!r} asks {name}={amount:g} but this "
                    f"executor has {have:g}; lower the request or use an executor that has it "
                    f"(e.g. `local?{name}={amount:g}` or a dask:// cluster with such workers)"
                )
        item = _Pending(fn, args, kwargs, amounts)
        with self._lock:
            if self._closed:
                raise ComputeError(f"{self.url}: executor is closed")
            self._queue.append(item)
            self._dispatch_locked()
        return item.future

    def _fits_locked(self, amounts: dict[str, float]) -> bool:
        return all(self._free.get(k, 0.0) + 1e-9 >= v for k, v in amounts.items())

    def _dispatch_locked(self) -> None:
        """Start every queued task that fits, in order; a task that does not fit yet keeps its place.

        A nested call (from a task finishing inside `_start_locked`) only asks for another pass."""
        if self._dispatching:
            self._redispatch = True
            return
        self._dispatching = True
        try:
            while True:
                self._redispatch = False
                kept: deque[_Pending] = deque()
                while self._queue and self._running < self._max_workers:
                    item = self._queue.popleft()
                    if item.future.cancelled():
                        continue
                    if not self._fits_locked(item.amounts):
                        kept.append(item)
                        continue
                    self._start_locked(item)
                kept.extend(self._queue)
                self._queue = kept
                if not self._redispatch:
                    break
        finally:
            self._dispatching = False

    def _start_locked(self, item: _Pending) -> None:
        for k, v in item.amounts.items():
            self._free[k] = self._free.get(k, 0.0) - v
        devices: list[int] = []
        ngpu = item.amounts.get("gpu", 0.0)
        if ngpu >= 1 and float(ngpu).is_integer():
            devices, self._free_gpus = self._free_gpus[: int(ngpu)], self._free_gpus[int(ngpu) :]
        self._running += 1
        try:
            inner = self._pool.submit(
                _run_with_devices,
                ",".join(map(str, devices)) if devices else None,
                item.fn,
                item.args,
                item.kwargs,
            )
        except Exception as err:  # pool broken or shut down
            self._release_locked(item, devices)
            item.future.set_exception(ComputeError(f"{self.url}: could not start task: {err}"))
            return
        if not item.future.set_running_or_notify_cancel():
            inner.cancel()
        inner.add_done_callback(lambda f: self._finished(item, devices, f))

    def _release_locked(self, item: _Pending, devices: list[int]) -> None:
        for k, v in item.amounts.items():
            self._free[k] = self._free.get(k, 0.0) + v
        self._free_gpus.extend(devices)
        self._free_gpus.sort()
        self._running -= 1

    def _finished(self, item: _Pending, devices: list[int], inner: Future[Any]) -> None:
        with self._lock:
            self._release_locked(item, devices)
            if not self._closed:
                self._dispatch_locked()
        if item.future.done():
            return
        if inner.cancelled():
            item.future.cancel()
        elif (exc := inner.exception()) is not None:
            item.future.set_exception(exc)
        else:
            item.future.set_result(inner.result())

    def close(self) -> None:
        """Wait for running and queued tasks, then stop the workers."""
        with self._lock:
            pending = [item.future for item in self._queue]
        for fut in pending:
            try:
                fut.exception()
            except Exception:  # noqa: S110 - cancelled futures: nothing to wait for
                pass
        with self._lock:
            self._closed = True
        self._pool.shutdown(wait=True)
