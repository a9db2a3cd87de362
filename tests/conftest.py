"""Shared test set-up: a clean environment per test and the real-server fixtures."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from labstream.instruments.microscope import PlateSetSpec

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


@pytest.fixture(scope="session")
def small_spec() -> PlateSetSpec:
    """A one-plate Cell Painting set (phenomics tests and the phenomics demo)."""
    from labstream.instruments.microscope import PlateSetSpec

    return PlateSetSpec(
        plates=1,
        complexes=2,
        genes_per_complex=2,
        nulls=1,
        negative_controls=2,
        positive_controls=1,
        sites_per_well=1,
        size=192,
        seed=3,
    )


@pytest.fixture
def home(tmp_path, monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    """A platform home for CLI tests, with an executor of two cpu slots (stages ask for up to two)."""
    h = tmp_path / "home"
    monkeypatch.setenv("LABSTREAM_HOME", str(h))
    monkeypatch.setenv("LABSTREAM_EXECUTOR_URL", "local?cpu=2")
    return h


@pytest.fixture
def watch_cli():  # type: ignore[no-untyped-def]
    """Run `labstream watch FOLDER ARGS...` until it has been idle 4 s; fail with its output if it fails."""
    from typer.testing import CliRunner

    from labstream.cli.main import app

    def run(folder, *args: str) -> None:  # type: ignore[no-untyped-def]
        res = CliRunner().invoke(app, ["watch", str(folder), "--idle-exit", "4", "--settle", "0.1", *args])
        assert res.exit_code == 0, (res.output, res.exception)

    return run


@pytest.fixture(scope="session")
def mlflow_registry_template(tmp_path_factory):  # type: ignore[no-untyped-def]
    """An empty MLflow SQLite registry, created once per session (MLflow's migrations take ~7 s); the
    `model_registry_url` fixture copies it into each test's tmp_path."""
    from labstream.models import open_registry

    db = tmp_path_factory.mktemp("mlflow-template") / "registry.db"
    reg = open_registry(f"sqlite:///{db}")
    reg.models()
    return db


@pytest.fixture
def model_registry_url(mlflow_registry_template, tmp_path, monkeypatch):  # type: ignore[no-untyped-def]
    """A real MLflow SQLite registry of this test's own (a copy of the session template), also set as
    LABSTREAM_MODEL_REGISTRY for the CLI."""
    import shutil

    db = tmp_path / "models" / "registry.db"
    db.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(mlflow_registry_template, db)
    url = f"sqlite:///{db}"
    monkeypatch.setenv("LABSTREAM_MODEL_REGISTRY", url)
    return url
