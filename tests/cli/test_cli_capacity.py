"""`labstream capacity`: machine-readable rows for both shipped workloads, a table with its
assumptions, and one error line for a mistyped workload or a wrong --bench file."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from labstream.cli.main import app

DATA = Path(__file__).parents[1] / "ops" / "data"


def test_shipped_workloads_print_json_rows() -> None:
    for name in ("cell-painting-2m-wells", "clinical-500-genomes"):
        res = CliRunner().invoke(app, ["capacity", name, "--format", "json", "--region", "us-east-1"])
        assert res.exit_code == 0, res.output
        out = json.loads(res.output)
        rows = {(r["section"], r["quantity"]): r["value"] for r in out["rows"]}
        parts = [v for (s, q), v in rows.items() if s == "dollars per week" and q != "total"]
        assert rows[("dollars per week", "total")] == sum(parts) > 0
        assert rows[("compute", "nodes")] >= 1 and rows[("stream", "broker partitions")] >= 1
        assert any(a.startswith("prices: price book") for a in out["assumptions"])


def test_table_names_its_assumptions_and_a_bench_file_is_credited() -> None:
    bench = str(DATA / "bench-stream.json")
    res = CliRunner().invoke(app, ["capacity", "clinical-500-genomes", "--bench", bench])
    assert res.exit_code == 0, res.output
    assert "assumptions" in res.output and "broker partitions" in res.output
    assert "bench-stream.json" in res.output.replace("\n", "")


def test_mistakes_are_one_line() -> None:
    for args, says in (
        (["capacity", "clinical-500-genome"], "neither a shipped one"),
        (["capacity", "clinical-500-genomes", "--bench", "README.md"], "cannot be read as JSON"),
        (["capacity", "clinical-500-genomes", "--format", "yaml"], "unknown format"),
        (["capacity", "clinical-500-genomes", "--region", "mars-1"], "no region 'mars-1'"),
    ):
        res = CliRunner().invoke(app, args)
        assert res.exit_code == 2, res.output
        lines = [x for x in res.output.splitlines() if x.startswith("error: ")]
        assert len(lines) == 1 and says in res.output and "Traceback" not in res.output, res.output
