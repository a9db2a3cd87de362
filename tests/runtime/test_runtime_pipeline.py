"""A real two-stage pipeline: ingest -> sqlite stream -> local process pool -> Delta lake, with lineage."""

from __future__ import annotations

from pathlib import Path

import pytest
import runtime_stages as rs

from labstream.core.events import Event
from labstream.core.settings import Settings
from labstream.ingest import Ingestor
from labstream.lake import LakeSQL
from labstream.runtime import PipelineRunner, walk
from labstream.stream import open_stream


def write_files(folder: Path, n: int, lines: int = 5) -> dict[str, float]:
    folder.mkdir(parents=True, exist_ok=True)
    totals = {}
    for i in range(n):
        values = [float(i * 100 + j) for j in range(lines)]
        (folder / f"run{i}.csv").write_text("".join(f"s{j},{v}\n" for j, v in enumerate(values)))
        totals[f"run{i}.csv"] = sum(values)
    return totals


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(home=tmp_path / "home")


def test_two_stage_pipeline_rows_lineage_and_replay(settings: Settings, tmp_path: Path) -> None:
    totals = write_files(tmp_path / "instrument", 6)
    ingestor = Ingestor(settings)
    for p in sorted((tmp_path / "instrument").iterdir()):
        assert ingestor.ingest_file(p, instrument="plate-reader").status == "published"
    with PipelineRunner(settings, rs.two_stage(), "local?cpu=2") as runner:
        status = runner.run_until_idle(timeout=120)
        assert status["rt_parse"]["processed"] == 6 and status["rt_summarise"]["processed"] == 6
        assert status["rt_parse"]["lag"] == 0 and status["rt_summarise"]["dlq"] == 0
        sql = LakeSQL(runner.lake)
        measure = sql.query(
            "SELECT file, count(*) AS n, sum(value) AS total, count(DISTINCT lineage_id) AS l "
            "FROM rt_measure GROUP BY file ORDER BY file"
        ).to_pylist()
        assert {r["file"]: r["total"] for r in measure} == totals
        assert all(r["n"] == 5 and r["l"] == 1 for r in measure)
        summary = runner.lake.read("rt_summary").to_pylist()
        assert sorted(r["file"] for r in summary) == sorted(totals)
        assert all(r["project"] == "default" and r["lineage_id"] for r in summary)

        # from a row of the second stage back to the instrument file, through both tasks
        chain = walk(runner.catalog, summary[0])
        assert [r.stage for r in chain] == ["rt_summarise", "rt_parse", "ingest"]
        parse_rec = chain[1]
        assert parse_rec.status == "ok" and parse_rec.code_version.startswith("runtime_stages:parse@")
        assert parse_rec.wall_seconds > 0 and parse_rec.cpu_seconds >= 0 and parse_rec.peak_rss_bytes > 10**6
        assert parse_rec.started_at <= parse_rec.ended_at and parse_rec.host
        assert parse_rec.executor == "local?cpu=2"
        assert parse_rec.inputs[0].sha256 == chain[2].outputs[0].sha256  # the raw object of the file
        assert chain[2].inputs[0].uri.endswith(summary[0]["file"])
        # ... and from the object the first stage wrote
        by_object = walk(runner.catalog, summary[0]["report_uri"])
        assert [r.stage for r in by_object] == ["rt_parse", "ingest"]

        # replay: the same files again are duplicates at ingest; a re-run of the stages adds nothing
        for p in sorted((tmp_path / "instrument").iterdir()):
            assert ingestor.ingest_file(p).status == "duplicate"
        runner.run_until_idle(timeout=60)
        assert runner.lake.read("rt_measure").num_rows == 30


def test_upstream_republication_is_not_duplicated_downstream(settings: Settings, tmp_path: Path) -> None:
    """An upstream stage that crashed after publishing re-publishes the same events (same ids)."""
    write_files(tmp_path / "instrument", 4)
    ingestor = Ingestor(settings)
    for p in sorted((tmp_path / "instrument").iterdir()):
        ingestor.ingest_file(p)
    with PipelineRunner(settings, rs.two_stage(), "local?cpu=2") as runner:
        runner.run_until_idle(timeout=120)
        stream = open_stream(settings.stream_url)
        consumer = stream.consumer("inspector", ["rt.parsed"])
        published = []
        while batch := consumer.poll(max_records=100, timeout=0.5):
            published += batch
        assert len(published) == 4
        for rec in published:  # the upstream re-publication, byte for byte, at new offsets
            stream.publish("rt.parsed", rec.value, key=rec.key)
        stream.publish("rt.parsed", published[0].value, key=published[0].key)
        stream.flush()
        status = runner.run_until_idle(timeout=60)
        assert runner.lake.read("rt_summary").num_rows == 4
        assert status["rt_summarise"]["duplicates"] >= 5
        ids = {Event.from_json(r.value).id for r in published}
        assert len(ids) == 4


def test_worker_options_reach_every_worker_and_a_misspelt_one_is_refused(settings: Settings) -> None:
    with pytest.raises(TypeError, match="batchsize"):
        PipelineRunner(settings, rs.two_stage(), "local?cpu=1", batchsize=5)  # type: ignore[call-arg]
    with PipelineRunner(
        settings, rs.two_stage(), "local?cpu=1", batch_size=7, poll_timeout=0.01, backoff_max=2.0
    ) as runner:
        assert [(w.batch_size, w.poll_timeout, w.backoff_max, w.backoff_base) for w in runner.workers] == [
            (7, 0.01, 2.0, 0.5)
        ] * len(rs.two_stage().stages)
