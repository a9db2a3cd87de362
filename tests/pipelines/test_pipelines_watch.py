"""Every registered pipeline builds from its contract and runs through `labstream watch`."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from labstream.cli.main import app
from labstream.core.settings import Settings
from labstream.lake import open_lake


def test_watch_refuses_a_missing_setting_before_anything_starts(
    home: Path, tmp_path: Path, watch_cli
) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    res = CliRunner().invoke(app, ["watch", str(folder), "--pipeline", "genomics", "--idle-exit", "1"])
    assert res.exit_code == 2  # a user mistake: one line, no traceback
    assert "error: pipeline 'genomics' (no --config): missing setting 'reference'" in res.output
    assert "Traceback" not in res.output
    assert not (home / "stream.db").exists()  # nothing started


def test_every_registered_pipeline_runs_through_watch_on_a_tiny_input(
    home: Path, tmp_path: Path, watch_cli
) -> None:
    """Each contract builds and its first stage consumes what ingest publishes (filestats end to end;
    the science pipelines are run end to end by the slow tests above)."""
    from labstream.pipelines import contracts

    for c in contracts():
        pipe = c.pipeline(c.example()) if c.settings.model_fields else c.pipeline()
        assert pipe.name == c.name and pipe.stages[0].input_topic == c.input_topic
        assert {t.name for t in c.tables}, c.name
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "x.txt").write_text("a\nb\n")
    watch_cli(folder, "--pipeline", "filestats")
    rows = open_lake(Settings().lake_url).read("files").to_pylist()
    assert [(r["name"], r["lines"]) for r in rows] == [("x.txt", 2)]
