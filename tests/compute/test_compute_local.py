"""LocalExecutor: slots of cpu, gpu, memory and named accelerators on a real process pool."""

from __future__ import annotations

import os
import time
from pathlib import Path

import psutil
import pytest

from labstream.compute import open_executor
from labstream.compute.local import LocalExecutor, parse_local_url
from labstream.core.errors import ComputeError, ConfigError, InputError
from labstream.core.resources import ResourceRequest


def add(a: int, b: int) -> int:
    return a + b


def fail(kind: str) -> None:
    if kind == "input":
        raise InputError("plate1/site3.tif", "zero-byte file", record="site3")
    raise ValueError(f"boom {kind}")


def interval(seconds: float) -> tuple[float, float, str | None, int]:
    """Report when it ran, which GPUs it saw and in which process."""
    start = time.time()
    time.sleep(seconds)
    return start, time.time(), os.environ.get("CUDA_VISIBLE_DEVICES"), os.getpid()


def wait_for(path: str, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if Path(path).exists():
            return True
        time.sleep(0.02)
    return False


def touch(path: str) -> None:
    Path(path).write_text("x")


def test_defaults_follow_the_machine() -> None:
    cap, start = parse_local_url("local")
    assert cap["cpu"] == os.cpu_count()
    assert cap["gpu"] == 0  # no NVIDIA driver on this machine
    ram_mb = psutil.virtual_memory().total / 2**20
    assert abs(cap["memory_mb"] - 0.8 * ram_mb) <= 1
    assert start == "spawn"


def test_url_sets_slots_and_custom_resources() -> None:
    cap, _ = parse_local_url("local?cpu=3&gpu=2&memory_mb=5000&TPU=1")
    assert (cap["cpu"], cap["gpu"], cap["memory_mb"], cap["TPU"]) == (3, 2, 5000, 1)
    with pytest.raises(ConfigError, match="not a number"):
        parse_local_url("local?cpu=many")
    with pytest.raises(ConfigError, match=">= 0"):
        parse_local_url("local?gpu=-1")


def test_results_and_errors_come_back() -> None:
    with open_executor("local?cpu=2") as ex:
        assert isinstance(ex, LocalExecutor)
        futs = [ex.submit(add, i, 10) for i in range(20)]
        assert [f.result(timeout=60) for f in futs] == [i + 10 for i in range(20)]
        with pytest.raises(ValueError, match="boom x"):
            ex.submit(fail, "x").result(timeout=60)
        with pytest.raises(InputError) as info:
            ex.submit(fail, "input").result(timeout=60)
        assert info.value.source == "plate1/site3.tif" and info.value.record == "site3"
        # the pool survives a task's exception
        assert ex.submit(add, 1, 2).result(timeout=60) == 3


def test_request_larger_than_capacity_is_refused_at_submit() -> None:
    with LocalExecutor("local?cpu=2&gpu=0&memory_mb=1000") as ex:
        with pytest.raises(ComputeError, match="gpu=1"):
            ex.submit(add, 1, 2, resources=ResourceRequest(gpu=1))
        with pytest.raises(ComputeError, match="memory_mb=2000"):
            ex.submit(add, 1, 2, resources=ResourceRequest(memory_mb=2000))
        with pytest.raises(ComputeError, match="TPU"):
            ex.submit(add, 1, 2, resources=ResourceRequest(custom={"TPU": 1}))
        with pytest.raises(ComputeError, match="cpu=3"):
            ex.submit(add, 1, 2, resources=ResourceRequest(cpu=3))


def _no_overlap(spans: list[tuple[float, float, str | None, int]]) -> bool:
    spans = sorted(spans)
    return all(a[1] <= b[0] + 1e-3 for a, b in zip(spans, spans[1:], strict=False))


def test_gpu_slot_serialises_gpu_tasks_and_pins_the_device() -> None:
    with LocalExecutor("local?cpu=3&gpu=1") as ex:
        futs = [ex.submit(interval, 0.2, resources=ResourceRequest(gpu=1)) for _ in range(3)]
        spans = [f.result(timeout=60) for f in futs]
        assert _no_overlap(spans), spans
        assert {s[2] for s in spans} == {"0"}
        assert ex.free()["gpu"] == 1  # every slot given back


def test_memory_slots_bound_concurrency() -> None:
    with LocalExecutor("local?cpu=3&memory_mb=1000") as ex:
        futs = [ex.submit(interval, 0.2, resources=ResourceRequest(memory_mb=600)) for _ in range(3)]
        assert _no_overlap([f.result(timeout=60) for f in futs])
        assert ex.free()["memory_mb"] == 1000


def test_cpu_task_runs_beside_a_busy_gpu_task(tmp_path: Path) -> None:
    """Proof of concurrency without timings: the GPU task waits for a file only the CPU task writes."""
    flag = str(tmp_path / "flag")
    with LocalExecutor("local?cpu=2&gpu=1") as ex:
        gpu_task = ex.submit(wait_for, flag, 30.0, resources=ResourceRequest(gpu=1))
        ex.submit(touch, flag).result(timeout=60)
        assert gpu_task.result(timeout=60) is True


def test_custom_accelerator_slots() -> None:
    with LocalExecutor("local?cpu=2&TPU=1") as ex:
        futs = [ex.submit(interval, 0.15, resources=ResourceRequest(custom={"TPU": 1})) for _ in range(2)]
        assert _no_overlap([f.result(timeout=60) for f in futs])


def test_many_tiny_tasks_from_two_threads_never_deadlock() -> None:
    """Regression: a task that finished before its done-callback was attached deadlocked the executor."""
    import threading

    from labstream.compute.local import LocalExecutor

    ex = LocalExecutor("local?cpu=2&start=fork")
    results: list[int] = []

    def client(base: int) -> None:
        futs = [ex.submit(abs, -(base + i)) for i in range(300)]
        results.extend(f.result(timeout=60) for f in futs)

    threads = [threading.Thread(target=client, args=(b,)) for b in (0, 1000)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=90)
    ex.close()
    assert sorted(results) == sorted(list(range(300)) + list(range(1000, 1300)))


def test_forkserver_workers_see_the_environment_of_the_caller_not_of_the_server(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The fork server keeps the environment it started with; a later pool's tasks get the caller's."""
    first = LocalExecutor("local?cpu=1&start=forkserver")  # starts this process's fork server (or reuses it)
    assert first.submit(os.getpid).result(timeout=120) != os.getpid()
    first.close()
    monkeypatch.setenv("LABSTREAM_TEST_SET_LATE", "after-the-server")
    later = LocalExecutor("local?cpu=1&start=forkserver")
    try:
        assert later.submit(os.getenv, "LABSTREAM_TEST_SET_LATE").result(timeout=120) == "after-the-server"
    finally:
        later.close()
