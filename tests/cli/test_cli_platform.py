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
    monkeypatch.setenv("LABSTREAM_EXECUTOR_URL", "local?cpu=1&start=forkserver")
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


def test_watch_governed_encrypts_and_pseudonymizes(home: Path, tmp_path: Path) -> None:
    """LABSTREAM_GOVERNED=1: the watched folder's files land encrypted in their project, sidecars are
    read as metadata (never ingested as data), and the identifier in them is nowhere in plaintext."""
    from labstream.core.settings import Settings
    from labstream.governance.service import Governance

    canary = "CANARY-WATCH-7f3e"
    gov = Governance.open(Settings())
    gov.directory.add_project("alpha")
    gov.close()
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    body = b"".join(b"line %d PLAINTEXT-MARKER\n" % i for i in range(11))
    (inbox / "run1.txt.meta.json").write_text(json.dumps({"patient_id": canary, "sample_id": "S1"}))
    (inbox / "run1.txt").write_bytes(body)
    env = {"LABSTREAM_GOVERNED": "1", "LABSTREAM_PROJECT": "alpha"}
    res = CliRunner().invoke(app, ["watch", str(inbox), "--idle-exit", "3", "--settle", "0.1"], env=env)
    assert res.exit_code == 0, res.output
    assert "governed, project alpha" in res.output and "ingested 1," in res.output
    assert "quarantined 0" in res.output  # the sidecar is metadata, not a file to ingest

    res = CliRunner().invoke(app, ["sql", "SELECT size, lines, project FROM files", "--format", "json"])
    assert res.exit_code == 0, res.output
    assert json.loads(res.output) == [{"size": len(body), "lines": 11, "project": "alpha"}]
    stored = [f for f in (home / "objects").rglob("*") if f.is_file()]
    assert stored and all(b"PLAINTEXT-MARKER" not in f.read_bytes() for f in stored)
    leaks = [str(f) for f in home.rglob("*") if f.is_file() and canary.encode() in f.read_bytes()]
    assert leaks == []

    res = CliRunner().invoke(app, ["watch", str(inbox), "--idle-exit", "2", "--settle", "0.1"], env=env)
    assert res.exit_code == 0, res.output
    assert "ingested 0, duplicates 1" in res.output  # a restart claims the same content once
