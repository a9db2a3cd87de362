"""Fixture `dask_cluster`: a real Dask scheduler and workers on 127.0.0.1, as separate processes.

Started with Dask's own command line (`dask scheduler`, `dask worker`), no dashboards, loopback only:
one plain worker, one advertising `GPU=1` and one advertising `TPU=1`, so tests can check placement by
resource. Workers get the test process's `sys.path` as PYTHONPATH so they import the same modules
(stage functions defined in test files included). Yields `dask://127.0.0.1:PORT`; stops everything.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

DEFAULT_WORKERS: tuple[dict[str, str], ...] = (
    {"name": "cpu-0"},
    {"name": "gpu-0", "resources": "GPU=1"},
    {"name": "tpu-0", "resources": "TPU=1"},
)


def _dask_cli() -> list[str]:
    return [sys.executable, "-m", "dask"]


def _wait_for_file(path: Path, procs: list[subprocess.Popen[bytes]], timeout: float) -> dict[str, object]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for p in procs:
            if p.poll() is not None:
                raise RuntimeError(f"dask process {p.args!r} exited with {p.returncode} during start-up")
        if path.exists() and path.stat().st_size:
            try:
                return json.loads(path.read_text())  # type: ignore[no-any-return]
            except json.JSONDecodeError:
                pass
        time.sleep(0.1)
    raise TimeoutError(f"dask scheduler did not write {path} within {timeout}s")


@contextmanager
def start_dask_cluster(
    workers: tuple[dict[str, str], ...] = DEFAULT_WORKERS, *, timeout: float = 60.0
) -> Iterator[str]:
    """Start a scheduler and the given workers on 127.0.0.1; yield `dask://127.0.0.1:PORT`."""
    from distributed import Client

    procs: list[subprocess.Popen[bytes]] = []
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in sys.path if p)
    env["DASK_DISTRIBUTED__WORKER__DAEMON"] = "False"
    cli = _dask_cli()
    with tempfile.TemporaryDirectory(prefix="labstream-dask-") as tmp:
        sched_file = Path(tmp) / "scheduler.json"
        log = open(Path(tmp) / "dask.log", "wb")  # noqa: SIM115 - closed below
        try:
            procs.append(
                subprocess.Popen(
                    [
                        *cli,
                        "scheduler",
                        "--host",
                        "127.0.0.1",
                        "--port",
                        "0",
                        "--no-dashboard",
                        "--scheduler-file",
                        str(sched_file),
                    ],
                    env=env,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    cwd=tmp,
                )
            )
            info = _wait_for_file(sched_file, procs, timeout)
            address = str(info["address"])
            for spec in workers:
                args = [
                    *cli,
                    "worker",
                    address,
                    "--host",
                    "127.0.0.1",
                    "--no-dashboard",
                    "--nthreads",
                    "1",
                    "--no-nanny",
                    "--name",
                    spec["name"],
                    "--local-directory",
                    tmp,
                    "--memory-limit",
                    spec.get("memory", "2GB"),
                ]
                if spec.get("resources"):
                    args += ["--resources", spec["resources"]]
                # "unset": comma-separated variables this worker must not inherit (no credentials)
                unset = set(filter(None, spec.get("unset", "").split(",")))
                wenv = {k: v for k, v in env.items() if k not in unset}
                procs.append(subprocess.Popen(args, env=wenv, stdout=log, stderr=subprocess.STDOUT, cwd=tmp))
            with Client(address, timeout=timeout, set_as_default=False) as client:
                client.wait_for_workers(len(workers), timeout=timeout)
            yield "dask://" + address.removeprefix("tcp://")
        finally:
            if len(procs) > 1 and procs[0].poll() is None:
                try:  # the scheduler stops its workers at once; SIGTERM makes each wait for a timeout
                    with Client(address, timeout=5, set_as_default=False) as client:
                        client.shutdown()
                except Exception:  # noqa: S110 - fall back to signals below
                    pass
            for p in reversed(procs):
                if p.poll() is None:
                    p.terminate()
            deadline = time.monotonic() + 3.0  # test processes hold nothing worth a longer wait
            for p in reversed(procs):
                try:
                    p.wait(timeout=max(0.1, deadline - time.monotonic()))
                except subprocess.TimeoutExpired:
                    p.kill()
                    p.wait()
            log.close()


@pytest.fixture(scope="session")
def dask_cluster() -> Iterator[str]:
    """A real Dask cluster on loopback: workers `cpu-0`, `gpu-0` (GPU=1), `tpu-0` (TPU=1)."""
    with start_dask_cluster() as url:
        yield url
