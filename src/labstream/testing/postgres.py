"""Fixtures: a real PostgreSQL server (Debian's postgresql) in a temporary folder on 127.0.0.1.

`postgres_url` (session) runs `initdb` and `pg_ctl start` on a free loopback port with its unix socket
in the temporary folder, and yields `postgresql+psycopg://postgres@127.0.0.1:PORT/postgres`; the server
is stopped and the folder removed at the end. PostgreSQL refuses to run as root, so as root both run
as the `postgres` system user (`runuser -u postgres --`), which owns the folder.

`postgres_db_url` (function) creates a fresh, empty database on that server for one test.
"""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from labstream.testing.s3 import free_port

PG_USER = "postgres"


def pg_bindir() -> Path:
    """Debian's PostgreSQL binaries, newest first (15 on Debian 12); PG_BINDIR overrides."""
    if os.environ.get("PG_BINDIR"):
        return Path(os.environ["PG_BINDIR"])
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(p.split("/")[4]))
    if not found:
        raise RuntimeError(
            "PostgreSQL is not installed: apt-get install postgresql (scripts/setup-debian.sh)"
        )
    return Path(found[-1]).parent


@dataclass
class PostgresServer:
    port: int
    datadir: Path
    bindir: Path
    as_user: list[str]

    @property
    def url(self) -> str:
        return f"postgresql+psycopg://{PG_USER}@127.0.0.1:{self.port}/postgres"

    def url_for(self, database: str) -> str:
        return f"postgresql+psycopg://{PG_USER}@127.0.0.1:{self.port}/{database}"

    def _run(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [*self.as_user, *args], capture_output=True, text=True, timeout=120, check=False
        )

    def stop(self) -> None:
        self._run(
            str(self.bindir / "pg_ctl"), "-D", str(self.datadir / "data"), "-m", "immediate", "-w", "stop"
        )

    def create_database(self, name: str | None = None) -> str:
        import psycopg

        name = name or f"t_{uuid.uuid4().hex[:16]}"
        with psycopg.connect(
            f"host=127.0.0.1 port={self.port} user={PG_USER} dbname=postgres", autocommit=True
        ) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return self.url_for(name)


def start_postgres() -> PostgresServer:
    bindir = pg_bindir()
    base = Path(tempfile.mkdtemp(prefix="labstream-pg-"))
    as_user: list[str] = []
    if os.geteuid() == 0:
        shutil.chown(base, PG_USER, PG_USER)
        as_user = ["runuser", "-u", PG_USER, "--"]
    server = PostgresServer(port=0, datadir=base, bindir=bindir, as_user=as_user)
    init = server._run(
        str(bindir / "initdb"),
        "-D",
        str(base / "data"),
        "-U",
        PG_USER,
        "--auth=trust",
        "-E",
        "UTF8",
        "--no-sync",
        "--no-instructions",
    )
    if init.returncode != 0:
        shutil.rmtree(base, ignore_errors=True)
        raise RuntimeError(f"initdb failed: {init.stderr[-2000:]}")
    last = ""
    for _ in range(3):
        server.port = free_port()
        opts = (
            f"-p {server.port} -k {base} -c listen_addresses=127.0.0.1 -c fsync=off "
            "-c synchronous_commit=off -c full_page_writes=off -c max_connections=100"
        )
        started = server._run(
            str(bindir / "pg_ctl"),
            "-D",
            str(base / "data"),
            "-l",
            str(base / "log"),
            "-o",
            opts,
            "-w",
            "-t",
            "60",
            "start",
        )
        if started.returncode == 0:
            return server
        log = base / "log"
        last = started.stderr + (log.read_text(errors="replace")[-2000:] if log.exists() else "")
    shutil.rmtree(base, ignore_errors=True)
    raise RuntimeError(f"PostgreSQL did not start on 127.0.0.1: {last}")


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    server = start_postgres()
    try:
        yield server
    finally:
        server.stop()
        shutil.rmtree(server.datadir, ignore_errors=True)


@pytest.fixture(scope="session")
def postgres_url(postgres_server: PostgresServer) -> str:
    return postgres_server.url


@pytest.fixture
def postgres_db_url(postgres_server: PostgresServer) -> str:
    return postgres_server.create_database()


__all__ = [
    "PostgresServer",
    "pg_bindir",
    "postgres_db_url",
    "postgres_server",
    "postgres_url",
    "start_postgres",
]
