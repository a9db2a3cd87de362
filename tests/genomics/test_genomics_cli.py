"""`labstream genomics call` end to end through the CLI, and its bad-input exit."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from labstream.cli.genomics import app


def test_call_writes_every_output(sim_run, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    out = tmp_path / "out"
    res = CliRunner().invoke(
        app,
        [
            "call",
            "--reference",
            str(sim_run.reference),
            "--reads",
            str(sim_run.r1),
            "--reads",
            str(sim_run.r2),
            "--sample",
            "CLI1",
            "--out",
            str(out),
            "--lake",
            str(tmp_path / "lake"),
            "--threads",
            "2",
        ],
    )
    assert res.exit_code == 0, res.output
    for name in (
        "CLI1.bam",
        "CLI1.bam.bai",
        "CLI1.vcf.gz",
        "CLI1.vcf.gz.tbi",
        "CLI1.qc.json",
        "CLI1.report.html",
    ):
        assert (out / name).stat().st_size > 0, name
    assert not [p.name for p in out.iterdir() if p.name.startswith(".")]  # no temporaries left
    assert (tmp_path / "lake" / "variants").exists()
    for step in ("qc_align_sort", "merge_markdup", "call", "annotate", "report", "lake"):  # progress bars
        assert step in res.output, res.output
    assert res.output.count("100%") >= 6


def test_call_with_mismatched_pair_exits_2(sim_run, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    res = CliRunner().invoke(
        app,
        [
            "call",
            "--reference",
            str(sim_run.reference),
            "--reads",
            str(sim_run.r1),
            "--reads",
            str(sim_run.r1.with_name("missing_R2.fastq.gz")),
            "--sample",
            "X",
            "--out",
            str(tmp_path / "o"),
            "--no-lake",
        ],
    )
    assert res.exit_code == 2 and "missing_R2.fastq.gz" in res.output
