"""DaskExecutor on a real scheduler and workers (127.0.0.1): placement by advertised resources."""

from __future__ import annotations

import pytest

from labstream.compute import open_executor
from labstream.compute.dask import DaskExecutor, scheduler_address
from labstream.core.errors import ComputeError, ConfigError, InputError
from labstream.core.resources import ResourceRequest

pytestmark = pytest.mark.integration


def where_am_i() -> str:
    from distributed import get_worker

    return str(get_worker().name)


def square(x: int) -> int:
    return x * x


def bad_input() -> None:
    raise InputError("run7/chunk3.fastq.gz", "truncated gzip stream")


def test_scheduler_address() -> None:
    assert scheduler_address("dask://127.0.0.1:8786") == "tcp://127.0.0.1:8786"
    assert scheduler_address("dask+tls://h:1") == "tls://h:1"
    with pytest.raises(ConfigError):
        scheduler_address("dask://")


def test_placement_by_resource(dask_cluster: str) -> None:
    with open_executor(dask_cluster) as ex:
        assert isinstance(ex, DaskExecutor)
        gpu = [ex.submit(where_am_i, resources=ResourceRequest(gpu=1)) for _ in range(4)]
        tpu = [ex.submit(where_am_i, resources=ResourceRequest(custom={"TPU": 1})) for _ in range(4)]
        assert {f.result(timeout=60) for f in gpu} == {"gpu-0"}
        assert {f.result(timeout=60) for f in tpu} == {"tpu-0"}
        cap = ex.capacity()
        assert cap["gpu"] == 1 and cap["TPU"] == 1 and cap["cpu"] == 3


def test_results_errors_and_refusal(dask_cluster: str) -> None:
    with DaskExecutor(dask_cluster) as ex:
        assert sorted(f.result(timeout=60) for f in [ex.submit(square, i) for i in range(10)]) == [
            i * i for i in range(10)
        ]
        with pytest.raises(InputError, match="chunk3.fastq.gz"):
            ex.submit(bad_input).result(timeout=60)
        with pytest.raises(ComputeError, match="no worker can run"):
            ex.submit(square, 2, resources=ResourceRequest(gpu=2))
        with pytest.raises(ComputeError, match="no worker can run"):
            ex.submit(square, 2, resources=ResourceRequest(custom={"FPGA": 1}))
        with pytest.raises(ComputeError, match="no worker can run"):
            ex.submit(square, 2, resources=ResourceRequest(memory_mb=64_000))
        # memory within a worker's limit is accepted even though no worker advertises MEMORY
        assert ex.submit(square, 3, resources=ResourceRequest(memory_mb=100)).result(timeout=60) == 9


def test_unreachable_scheduler_is_a_compute_error() -> None:
    with pytest.raises(ComputeError, match="cannot reach"):
        DaskExecutor("dask://127.0.0.1:9", connect_timeout=1)
