"""Fixtures: a real S3 API server (moto's server mode) on 127.0.0.1, and a fresh bucket per test.

`s3_server` (session) runs `python -m moto.server` in its own process (so Rust clients such as
deltalake, and forked workers, can call it without sharing our GIL) and yields an S3Server with
`endpoint_url`, `key`, `secret`, `region`, plus ready-made `storage_options` (fsspec/s3fs) and `env`.

`s3_bucket_url` (function) creates a fresh bucket with boto3, exports the server's credentials and
endpoint as the standard `AWS_*` variables for the test (so `open_store("s3://bucket")`, s3fs and
deltalake reach it in this process and in child processes), and yields `"s3://<bucket>"`.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from labstream.testing.process import stop_process


@dataclass(frozen=True)
class S3Server:
    endpoint_url: str
    key: str = "testing"
    secret: str = "testing"  # noqa: S105 - moto accepts any credentials
    region: str = "us-east-1"

    @property
    def storage_options(self) -> dict[str, Any]:
        """Keyword arguments for FsspecStore / s3fs.S3FileSystem: what the platform makes of `env`."""
        from labstream.objects.storage import s3_options

        return s3_options(self.env).fsspec

    @property
    def env(self) -> dict[str, str]:
        """Standard AWS variables (botocore, s3fs, deltalake/object_store all read them)."""
        return {
            "AWS_ACCESS_KEY_ID": self.key,
            "AWS_SECRET_ACCESS_KEY": self.secret,
            "AWS_DEFAULT_REGION": self.region,
            "AWS_REGION": self.region,
            "AWS_ENDPOINT_URL": self.endpoint_url,
            "AWS_ALLOW_HTTP": "true",
        }

    def client(self) -> Any:
        import boto3

        return boto3.client(
            "s3",
            endpoint_url=self.endpoint_url,
            aws_access_key_id=self.key,
            aws_secret_access_key=self.secret,
            region_name=self.region,
        )

    def create_bucket(self, name: str | None = None) -> str:
        name = name or f"test-{uuid.uuid4().hex[:16]}"
        self.client().create_bucket(Bucket=name)
        return name


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait_http(url: str, proc: subprocess.Popen[bytes], timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            return False
        try:
            with urllib.request.urlopen(url, timeout=1):  # noqa: S310 - our own loopback server
                return True
        except urllib.error.HTTPError:
            return True  # it answered
        except OSError:
            time.sleep(0.1)
    return False


def start_s3_server(timeout: float = 30.0) -> tuple[S3Server, subprocess.Popen[bytes]]:
    """Start moto's server on a free loopback port; retries if another process took the port.

    Its log (one line per request) goes to a file: into an unread pipe it fills the pipe's 64 KiB,
    and then every request thread blocks in logging and the server stops answering."""
    last = ""
    for _ in range(3):
        port = free_port()
        log = tempfile.TemporaryFile()  # noqa: SIM115 - lives as long as the server, closed with it
        proc = subprocess.Popen(
            [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
            stdout=log,
            stderr=subprocess.STDOUT,
            env={k: v for k, v in os.environ.items() if not k.startswith("AWS_")},
        )
        url = f"http://127.0.0.1:{port}"
        if _wait_http(url + "/moto-api/", proc, timeout):
            return S3Server(endpoint_url=url), proc
        proc.kill()
        proc.wait(timeout=10)
        log.seek(0)
        last = log.read().decode(errors="replace")[-2000:]
        log.close()
    raise RuntimeError(f"moto S3 server did not start on 127.0.0.1: {last}")


@pytest.fixture(scope="module")
def s3_server() -> Iterator[S3Server]:
    """One moto server per test module (it starts in ~0.6 s), so no module sees another's buckets."""
    server, proc = start_s3_server()
    try:
        yield server
    finally:
        stop_process(proc)


@pytest.fixture
def s3_bucket_url(s3_server: S3Server, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    for name, value in s3_server.env.items():
        monkeypatch.setenv(name, value)
    yield f"s3://{s3_server.create_bucket()}"


__all__ = ["S3Server", "free_port", "s3_bucket_url", "s3_server", "start_s3_server"]
