"""`labstream doctor` against real backends (Kafka-protocol broker, S3 API, PostgreSQL, a Dask cluster):
all good, then each backend broken on its own, and a Dask worker started without credentials - each
named correctly, the others still ok."""

from __future__ import annotations

import socket

import pytest
from typer.testing import CliRunner

from labstream.catalog import Catalog
from labstream.core.errors import ComputeError
from labstream.core.settings import Settings
from labstream.deploy.doctor import run_doctor
from labstream.pipelines import build_pipeline
from labstream.runtime import PipelineRunner
from labstream.testing.dask import start_dask_cluster

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def verdicts(settings: Settings, **kw: object) -> dict[str, tuple[bool, str]]:
    return {c.backend: (c.ok, c.detail) for c in run_doctor(settings, deadline=12.0, **kw)}  # type: ignore[arg-type] - a loaded machine needs the time


def failing(v: dict[str, tuple[bool, str]]) -> set[str]:
    return {name for name, (ok, _) in v.items() if not ok}


def test_doctor_names_each_broken_backend(
    tmp_path, kafka_url: str, s3_bucket_url: str, postgres_server, monkeypatch: pytest.MonkeyPatch
) -> None:
    catalog_url = postgres_server.create_database()
    Catalog(catalog_url).upgrade().close()
    workers = (
        {"name": "gpu-ok", "resources": "GPU=1"},
        {"name": "no-creds", "unset": "AWS_ACCESS_KEY_ID,AWS_SECRET_ACCESS_KEY"},
    )
    with start_dask_cluster(workers) as dask_url:
        good = dict(
            home=tmp_path / "home",
            stream_url=kafka_url,
            objects_url=f"{s3_bucket_url}/objects",
            lake_url=f"{s3_bucket_url}/lake",
            catalog_url=catalog_url,
            executor_url=dask_url,
        )
        base = verdicts(Settings(**good), require=("GPU",))
        assert failing(base) == {"worker no-creds"}, [c for c in base.items() if not c[1][0]]
        assert (
            "NoCredentialsError" in base["worker no-creds"][1] or "credentials" in base["worker no-creds"][1]
        )
        assert "same LABSTREAM_* settings, AWS_* credentials" in base["worker no-creds"][1]
        assert base["executor"][1].startswith("2 workers") and "GPU" in base["executor"][1]

        broken = {
            "stream": {"stream_url": f"kafka://127.0.0.1:{closed_port()}"},
            "objects": {"objects_url": "s3://no-such-bucket-doctor/objects"},
            "lake": {"lake_url": "s3://no-such-bucket-doctor/lake"},
            "catalog": {"catalog_url": postgres_server.create_database()},  # exists, never migrated
        }
        for backend, change in broken.items():
            v = verdicts(Settings(**{**good, **change, "executor_url": "local"}))
            assert failing(v) == {backend}, (backend, v)
        assert "not migrated" in v["catalog"][1]

        # a pipeline does not start on workers that cannot reach the objects: one line, naming the worker,
        # instead of every task dead-lettered as "Error during deserialization of the task graph"
        with pytest.raises(
            ComputeError, match=r"dask worker no-creds .*NoCredentialsError.*AWS_\* credentials"
        ):
            PipelineRunner(Settings(**good), build_pipeline("filestats", {}))

        v = verdicts(Settings(**good), require=("TPU",))
        assert (
            failing(v) == {"executor", "worker no-creds"}
            and "no worker advertises ['TPU']" in v["executor"][1]
        )

    v = verdicts(Settings(**{**good, "executor_url": f"dask://127.0.0.1:{closed_port()}"}))
    assert failing(v) == {"executor"}, v

    # the command: one line per backend, exit 1 when one fails
    for k, val in {**good, "executor_url": "local"}.items():
        monkeypatch.setenv(f"LABSTREAM_{k.upper()}", str(val))
    monkeypatch.setenv("LABSTREAM_STREAM_URL", f"kafka://127.0.0.1:{closed_port()}")
    from labstream.cli.main import app

    out = CliRunner().invoke(app, ["doctor", "--deadline", "15"])
    lines = out.output.strip().splitlines()
    assert out.exit_code == 1 and len(lines) == 5, out.output
    assert lines[0].startswith("FAIL stream") and all(x.startswith("ok") for x in lines[1:]), out.output
