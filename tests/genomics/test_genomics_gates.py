"""Sanity gates: a sample that cannot support a call set fails with its reason, never reads negative."""

from __future__ import annotations

import gzip
import json
import shutil
import subprocess
from pathlib import Path

import pytest
from typer.testing import CliRunner

from labstream.cli.main import app
from labstream.core.errors import QCFailed
from labstream.core.hashing import sha256_file
from labstream.genomics.gates import GateThresholds, gate_summary, mate_gates, raise_failed, sample_gates


def _fq(path: Path, heads: list[str], seqs: list[str]) -> Path:
    with gzip.open(path, "wt") as fh:
        for h, s in zip(heads, seqs, strict=True):
            fh.write(f"@{h}\n{s}\n+\n{'I' * len(s)}\n")
    return path


def test_mate_gates_identical_and_swapped(tmp_path: Path) -> None:
    seqs = ["ACGTACGTAC", "TTTTGGGGCC"]
    r1 = _fq(tmp_path / "a_R1.fq.gz", ["r1 1:N:0:A", "r2 1:N:0:A"], seqs)
    r2 = _fq(tmp_path / "a_R2.fq.gz", ["r1 2:N:0:A", "r2 2:N:0:A"], ["GGGGGGGGGG", "CCCCCCCCCC"])
    assert all(g.passed for g in mate_gates(r1, r2))
    assert mate_gates(r1, None) == []
    same = {g.name: g for g in mate_gates(r1, r1)}
    assert (
        not same["mates_identical"].passed and "R1 was given as both mates" in same["mates_identical"].reason
    )
    copy = shutil.copy(r1, tmp_path / "a_copy.fq.gz")
    assert not {g.name: g for g in mate_gates(r1, copy)}["mates_identical"].passed
    swapped = {g.name: g for g in mate_gates(r2, r1)}
    assert swapped["mates_identical"].passed and not swapped["mates_swapped"].passed
    with pytest.raises(QCFailed, match="mates_swapped") as err:
        raise_failed(list(swapped.values()), str(r2))
    assert err.value.gates == ["mates_swapped"] and "check the reads" in str(err.value)


def test_sample_gates_name_each_failure() -> None:
    good = {"properly_paired_fraction": 0.97, "q30_fraction": 0.8}
    assert all(g.passed for g in sample_gates(good, 25.0, 70, paired=True))
    bad = sample_gates({"properly_paired_fraction": 0.0, "q30_fraction": 0.2}, 2.0, 0, paired=True)
    assert {g.name for g in bad if not g.passed} == {"properly_paired", "q30", "coverage"}
    silent = gate_summary(sample_gates(good, 38.0, 0, paired=True))
    assert silent["qc_status"] == "QC FAILED" and silent["failed_gates"] == ["variants_at_depth"]
    # single-end: no pairing gate; an assay may set its own minimum
    loose = sample_gates(
        {"q30_fraction": 0.8}, 3.0, 5, paired=False, thresholds=GateThresholds(min_mean_depth=2)
    )
    assert [g.name for g in loose] == ["q30", "coverage", "variants_at_depth"] and all(
        g.passed for g in loose
    )


def _call(sim_run, out: Path, r1: Path, r2: Path, *extra: str):  # type: ignore[no-untyped-def]
    args = ["genomics", "call", "--reference", str(sim_run.reference), "--reads", str(r1), "--reads", str(r2)]
    return CliRunner().invoke(app, [*args, "--sample", "S1", "--out", str(out), *extra])


def test_r1_twice_fails_naming_the_gate(sim_run, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """Issue 12: R1 given twice reported "0 variants" at 38x with exit 0 (a silent false negative)."""
    res = _call(sim_run, tmp_path / "out", sim_run.r1, sim_run.r1)
    assert res.exit_code == 3, res.output
    assert "QC FAILED" in res.output and "mates_identical" in res.output
    assert not (tmp_path / "out" / "S1.vcf.gz").exists()

    allowed = tmp_path / "allowed"
    res = _call(sim_run, allowed, sim_run.r1, sim_run.r1, "--allow-qc-fail", "--no-lake")
    assert res.exit_code == 3, res.output
    qc = json.loads((allowed / "S1.qc.json").read_text())
    assert qc["qc_status"] == "QC FAILED"
    assert {"mates_identical", "properly_paired"} <= set(qc["failed_gates"])
    assert "QC FAILED" in (allowed / "S1.report.html").read_text()


def test_duplication_fraction_equals_samtools_flagstat(sim_run, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """Issue 12: duplication_fraction said 1.0 where samtools flagstat found 0 duplicates."""
    mates = []
    for n, src in ((1, sim_run.r1), (2, sim_run.r2)):
        lines = gzip.open(src, "rt").read().splitlines(True)
        again = [line.replace("@LAM1:", "@DUP:", 1) for line in lines[:1200]]  # 300 pairs twice
        mates.append(tmp_path / f"D_R{n}.fastq.gz")
        with gzip.open(mates[-1], "wt") as fh:
            fh.write("".join(lines + again))
    res = _call(sim_run, tmp_path / "out", *mates, "--no-lake")
    assert res.exit_code == 0, res.output
    qc = json.loads((tmp_path / "out" / "S1.qc.json").read_text())["qc"]
    text = subprocess.run(
        ["samtools", "flagstat", str(tmp_path / "out" / "S1.bam")], capture_output=True, text=True, check=True
    ).stdout
    counts = {line.split(" + ")[1].split(" ", 1)[1]: int(line.split(" + ")[0]) for line in text.splitlines()}
    assert counts["primary duplicates"] >= 600
    assert qc["duplication_fraction"] == counts["primary duplicates"] / counts["primary"]


def test_genomics_call_lineage_walks_to_the_bundle(sim_run, home: Path, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """Issue 12: the lineage id `genomics call` printed was unknown to `labstream lineage`."""
    res = _call(
        sim_run, tmp_path / "out", sim_run.r1, sim_run.r2,
        "--annotation", str(sim_run.gff3), "--known", str(sim_run.known_vcf), "--no-lake",
    )  # fmt: skip
    assert res.exit_code == 0, res.output
    lineage_id = res.output.split("lineage ", 1)[1].split()[0]
    shown = CliRunner().invoke(app, ["lineage", lineage_id, "--json"])
    assert shown.exit_code == 0, shown.output
    rec = json.loads(shown.output)[0]
    inputs = {Path(i["uri"].removeprefix("file://")).name: i["sha256"] for i in rec["inputs"]}
    for path in (sim_run.reference, sim_run.gff3, sim_run.known_vcf, sim_run.r1, sim_run.r2):
        assert inputs[Path(path).name] == sha256_file(path)[0]
    assert {Path(o["uri"]).name for o in rec["outputs"]} >= {"S1.bam", "S1.vcf.gz", "S1.qc.json"}


def test_low_coverage_fails_without_a_vcf_or_rows(sim_run, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    mates = []
    for n, src in ((1, sim_run.r1), (2, sim_run.r2)):
        lines = gzip.open(src, "rt").read().splitlines(True)[: 4 * 300]  # ~2x of lambda
        mates.append(tmp_path / f"L_R{n}.fastq.gz")
        with gzip.open(mates[-1], "wt") as fh:
            fh.write("".join(lines))
    res = _call(sim_run, tmp_path / "out", *mates, "--lake", str(tmp_path / "lake"))
    assert res.exit_code == 3, res.output
    assert "coverage" in res.output and "below the minimum 5x" in res.output
    assert not (tmp_path / "out" / "S1.vcf.gz").exists() and not (tmp_path / "lake").exists()
    qc = json.loads((tmp_path / "out" / "S1.qc.json").read_text())
    assert (qc["complete"], qc["qc_status"], qc["failed_gates"]) == (False, "QC FAILED", ["coverage"])
