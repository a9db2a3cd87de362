"""`labstream status` says where a home's tasks really ran (from their lineage), not the executor the
reading process happens to be configured with: a home a Dask run wrote says dask://."""

from __future__ import annotations

from pathlib import Path

import pytest
import runtime_stages as rs
from rich.console import Console

from labstream.cli.status_view import render_status
from labstream.core.settings import Settings
from labstream.ingest import Ingestor
from labstream.runtime import PipelineRunner

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def run_and_status(home: Path, folder: Path, executor_url: str) -> str:
    settings = Settings(home=home)
    ingestor = Ingestor(settings)
    for p in sorted(folder.iterdir()):
        ingestor.ingest_file(p, instrument="plate-reader")
    ingestor.close()
    with PipelineRunner(settings, rs.two_stage(), executor_url) as runner:
        runner.run_until_idle(timeout=120)
    console = Console(record=True, width=200)
    render_status(Settings(home=home), console)  # the reader's own executor setting is the default, local
    return console.export_text()


def test_status_names_the_executor_the_tasks_ran_on(tmp_path: Path, dask_cluster: str) -> None:
    folder = tmp_path / "instrument"
    folder.mkdir()
    for i in range(2):
        (folder / f"plate{i}.csv").write_text("".join(f"s{j},{i + j}\n" for j in range(3)))
    on_dask = run_and_status(tmp_path / "dask", folder, dask_cluster)
    assert f"tasks ran on: {dask_cluster}" in on_dask
    assert "executor (configured) local" in on_dask
    assert "tasks ran on: local" not in on_dask
