"""`labstream demo` reads the same LABSTREAM_* settings as watch and serve: a configured stream, executor,
object store, lake and catalog are used, not silently replaced by the embedded defaults."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from labstream.core.errors import ConfigError
from labstream.core.settings import redact_url
from labstream.demo.main_job import demo_settings

ENV = {
    "LABSTREAM_STREAM_URL": "kafka://broker:9092",
    "LABSTREAM_EXECUTOR_URL": "dask://scheduler:8786",
    "LABSTREAM_OBJECTS_URL": "s3://lab/objects",
    "LABSTREAM_LAKE_URL": "s3://lab/lake",
    "LABSTREAM_CATALOG_URL": "postgresql+psycopg://lab:pw@db/lab",
}


def test_demo_settings_honour_the_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for k, v in ENV.items():
        monkeypatch.setenv(k, v)
    s = demo_settings(tmp_path)
    got = [s.stream_url, s.executor_url, s.objects_url, s.lake_url, s.catalog_url]
    assert got == list(ENV.values())
    assert s.home == (tmp_path / "platform").resolve()
    assert demo_settings(tmp_path, "local?cpu=2").executor_url == "local?cpu=2"  # --executor wins


def test_demo_settings_default_to_embedded(tmp_path: Path) -> None:
    s = demo_settings(tmp_path)
    assert s.executor_url == "local" and s.stream_url.startswith("sqlite:///")


def test_catalog_password_is_never_printed() -> None:
    assert redact_url("postgresql+psycopg://lab:pw@db/lab") == "postgresql+psycopg://lab:***@db/lab"
    assert redact_url("sqlite:////x/catalog.db") == "sqlite:////x/catalog.db"


def test_cli_leaves_the_executor_to_the_settings(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    import labstream.demo as demo_pkg
    from labstream.cli.main import app

    def fake_run_demo(home: Path, **kw: object) -> None:
        raise ConfigError(f"executor_url={kw['executor_url']!r}")

    monkeypatch.setattr(demo_pkg, "run_demo", fake_run_demo)
    out = CliRunner().invoke(app, ["demo", "--home", str(tmp_path / "d")])
    assert "executor_url=None" in out.output  # not "local": LABSTREAM_EXECUTOR_URL decides
    out = CliRunner().invoke(app, ["demo", "--home", str(tmp_path / "d"), "--executor", "local?cpu=1"])
    assert "executor_url='local?cpu=1'" in out.output
