"""The platform commands end to end: watch a folder, query with sql, walk lineage, show status."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from labstream.cli.main import app


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    h = tmp_path / "home"
    monkeypatch.setenv("LABSTREAM_HOME", str(h))
    monkeypatch.setenv("LABSTREAM_EXECUTOR_URL", "local?cpu=1&start=fork")
    return h


def test_watch_sql_lineage_status(home: Path, tmp_path: Path) -> None:
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    record = b"@r\nACGT\n+\nIIII\n"
    for i in range(3):
        (inbox / f"S{i}.c0001of0001.R1.fastq.gz.part").write_bytes(record * (i + 1))
        (inbox / f"S{i}.c0001of0001.R1.fastq.gz.part").rename(inbox / f"S{i}.c0001of0001.R1.fastq.gz")
    (inbox / "empty.dat").write_bytes(b"")
    runner = CliRunner()
    res = runner.invoke(
        app, ["watch", str(inbox), "--pipeline", "filestats", "--idle-exit", "3", "--settle", "0.1"]
    )
    assert res.exit_code == 0, res.output
    assert "ingested 3" in res.output and "quarantined 1" in res.output

    res = runner.invoke(
        app, ["sql", "SELECT key, size, lineage_id FROM files ORDER BY key", "--format", "json"]
    )
    assert res.exit_code == 0, res.output
    rows = json.loads(res.output)
    assert [r["key"] for r in rows] == ["S0", "S1", "S2"]
    assert [r["size"] for r in rows] == [len(record) * n for n in (1, 2, 3)]

    res = runner.invoke(app, ["lineage", rows[0]["lineage_id"], "--json"])
    assert res.exit_code == 0, res.output
    chain = json.loads(res.output)
    assert [c["stage"] for c in chain] == ["file_stats", "ingest"]
    assert chain[-1]["inputs"][0]["uri"].endswith("S0.c0001of0001.R1.fastq.gz")
    assert chain[0]["cpu_seconds"] >= 0 and chain[0]["wall_seconds"] > 0 and chain[0]["host"]

    res = runner.invoke(app, ["status"])
    assert res.exit_code == 0, res.output
    assert "ingest.files" in res.output and "files" in res.output and "quarantined: 1" in res.output


def test_sql_rejects_writes_and_unknown_format(home: Path) -> None:
    runner = CliRunner()
    res = runner.invoke(app, ["sql", "DROP TABLE files"])
    assert res.exit_code == 2 and "error" in res.output
    res = runner.invoke(app, ["sql", "SELECT 1 AS x", "--format", "xml"])
    assert res.exit_code == 2 and "xml" in res.output


def test_lineage_unknown_id_is_a_clear_error(home: Path) -> None:
    res = CliRunner().invoke(app, ["lineage", "no-such-id"])
    assert res.exit_code == 2 and "no-such-id" in res.output
