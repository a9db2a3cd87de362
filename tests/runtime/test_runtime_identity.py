"""The same input through the `local` and the `dask` executor gives identical lake contents."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pytest
import runtime_stages as rs

from labstream.core.settings import Settings
from labstream.ingest import Ingestor
from labstream.runtime import PipelineRunner

pytestmark = pytest.mark.integration

TIMING_COLUMNS = {"_ingested_at"}


def run_pipeline(home: Path, files: list[Path], executor_url: str) -> dict[str, pa.Table]:
    settings = Settings(home=home)
    ingestor = Ingestor(settings)
    for p in files:
        ingestor.ingest_file(p, instrument="plate-reader")
    ingestor.close()
    with PipelineRunner(settings, rs.two_stage(), executor_url) as runner:
        runner.run_until_idle(timeout=180)
        tables = {}
        for name in ("rt_measure", "rt_summary"):
            t = runner.lake.read(name)
            t = t.select([c for c in t.column_names if c not in TIMING_COLUMNS])
            if "report_uri" in t.column_names:  # object URIs differ only by the store's root
                rel = [u.removeprefix(settings.objects_url) for u in t.column("report_uri").to_pylist()]
                assert all(not r.startswith("file:") for r in rel)
                t = t.set_column(t.schema.get_field_index("report_uri"), "report_uri", pa.array(rel))
            tables[name] = t.sort_by([(c, "ascending") for c in t.column_names])
        executors = {r.executor for r in runner.catalog.list_lineage(stage="rt_parse")}
        assert executors == {executor_url}
    return tables


def test_local_and_dask_give_identical_lake_contents(tmp_path: Path, dask_cluster: str) -> None:
    folder = tmp_path / "instrument"
    folder.mkdir()
    files = []
    for i in range(8):
        p = folder / f"plate{i}.csv"
        p.write_text("".join(f"s{j},{(i + 1) * (j + 0.5)}\n" for j in range(4 + i)))
        files.append(p)
    local = run_pipeline(tmp_path / "a", files, "local?cpu=2")
    dask = run_pipeline(tmp_path / "b", files, dask_cluster)
    for name in local:
        a, b = local[name], dask[name]
        assert a.num_rows > 0
        assert a.equals(b), f"{name} differs between local and dask"
    assert local["rt_measure"].num_rows == sum(4 + i for i in range(8))
    # `labstream status` on the home the Dask run wrote says where its tasks ran (from their lineage),
    # not the executor the reading process is configured with (issue 17)
    from rich.console import Console

    from labstream.cli.status_view import render_status

    console = Console(record=True, width=200)
    reading = Settings(home=tmp_path / "b")
    render_status(reading, console)
    text = " ".join(console.export_text().split())  # rich may wrap a long line
    assert f"tasks ran on: {dask_cluster} (" in text and "tasks ran on: local" not in text
    assert f"executor (configured) {reading.executor_url}" in text, text
