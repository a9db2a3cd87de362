"""Shared test set-up: a clean environment per test and the real-server fixtures."""

from __future__ import annotations

import os

import pytest

pytest_plugins = [
    "labstream.testing.kafka",
    "labstream.testing.s3",
    "labstream.testing.postgres",
    "labstream.testing.dask",
]


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:  # type: ignore[no-untyped-def]
    for name in list(os.environ):
        if name.startswith("LABSTREAM_") or name.startswith("AWS_"):
            monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("LABSTREAM_HOME", str(tmp_path / "home"))
