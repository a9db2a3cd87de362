"""MinKNOW's basecalling to BAM (bam_pass/ unaligned BAM batches) and its sample sheet (issue 12).

The same simulated reads are written twice by the MinKNOW simulator: one run folder as fastq_pass/ FASTQ
batches without a sheet, one as bam_pass/ unaligned BAM batches (reads with MM/ML 5mC tags) with MinKNOW's
sample sheet naming barcode01 `patient_A`, listing barcode05 that has no reads and leaving out barcode02
that has some. One `watch` takes both. Shown:
- bam_pass = fastq_pass: the two final VCFs have the same records, equal to `genomics call-nanopore` on the
  BAM batches; the variant rows are the same apart from run and sample name; the aligned BAM of the
  bam_pass run keeps the reads' MM/ML tags (pysam reads the modified bases), the fastq_pass one has none.
- The sheet: the alias names the sample in rows, VCF column, objects and summary, and the lineage of its
  rows reaches the sheet file; barcode02's files are quarantined as not in the sheet, barcode05 as missing;
  unclassified reads are not quarantined but counted as ignored in `ont_runs`, which `status` shows.
"""

from __future__ import annotations

import json
from pathlib import Path

import pysam
import pytest
from typer.testing import CliRunner

from labstream.catalog import Catalog
from labstream.cli.main import app
from labstream.core.settings import Settings
from labstream.instruments.nanopore import NanoporeConfig, simulate_nanopore, write_minknow_run
from labstream.lake import open_lake
from labstream.lake.sql import LakeSQL

LAMBDA = Path("/usr/share/doc/bowtie2/examples/reference/lambda_virus.fa.gz")
RUNS = {"fastq": "20261206_1200_MN00000_FLO12345_a1b2c3d4", "bam": "20261206_1300_MN00000_FLO12345_b1b2c3d4"}
NAMES = {"fastq": "barcode01", "bam": "patient_A"}


def _tagged(bam: Path) -> tuple[int, int]:
    """(primary reads, primary reads with MM and ML tags whose modified bases pysam can read)."""
    n = tagged = 0
    with pysam.AlignmentFile(str(bam)) as fh:
        for read in fh:
            if read.is_secondary or read.is_supplementary:
                continue
            n += 1
            tagged += read.has_tag("MM") and read.has_tag("ML") and bool(read.modified_bases)
    return n, tagged


@pytest.mark.slow
def test_bam_pass_and_sample_sheet(
    home: Path,
    tmp_path: Path,
    watch_cli,  # type: ignore[no-untyped-def]
    vcf_records,  # type: ignore[no-untyped-def]
) -> None:
    sim = simulate_nanopore(LAMBDA, tmp_path / "sim", NanoporeConfig(coverage=16, seed=31, sample="S"))
    stray = simulate_nanopore(LAMBDA, tmp_path / "stray", NanoporeConfig(coverage=2, seed=32, sample="X"))
    config = tmp_path / "cfg" / "nanopore.toml"
    config.parent.mkdir()
    (config.parent / "ref.fa").write_bytes(sim.reference.read_bytes())
    config.write_text('reference = "ref.fa"\nrefresh_growth = 5\n')
    watched = tmp_path / "watched"
    written = {
        "fastq": write_minknow_run(
            watched / RUNS["fastq"], {"barcode01": sim.fastq}, reads_per_batch=100, run_id="a1b2c3d4e5f6"
        )["barcode01"],
        "bam": write_minknow_run(
            watched / RUNS["bam"],
            {"barcode01": sim.fastq, "barcode02": stray.fastq},
            reads_per_batch=100,
            output="bam",
            run_id="b1b2c3d4e5f6",
            sheet={"barcode01": "patient_A", "barcode05": "patient_B"},
        )["barcode01"],
    }
    assert all(p.suffix == ".bam" and p.parent.parent.name == "bam_pass" for p in written["bam"])
    assert len(written["bam"]) == len(written["fastq"]) >= 2

    watch_cli(watched, "--pipeline", "nanopore", "--config", str(config))

    objects = home / "objects"
    found = {k: list(objects.rglob(f"genomics/{RUNS[k]}/{n}/{n}.vcf.gz")) for k, n in NAMES.items()}
    assert all(len(v) == 1 for v in found.values()), found
    vcfs = {k: v[0] for k, v in found.items()}
    fastq_calls, bam_calls = vcf_records(vcfs["fastq"]), vcf_records(vcfs["bam"])
    assert len(fastq_calls) > 20 and bam_calls == fastq_calls
    with pysam.VariantFile(str(vcfs["bam"])) as fh:
        assert list(fh.header.samples) == ["patient_A"]

    sql = LakeSQL(open_lake(Settings().lake_url))
    rows = sql.query(
        "SELECT run, sample, contig, start, ref, alt, gt, dp, qual FROM variants ORDER BY run, contig, start"
    ).to_pylist()
    by_run = {
        k: [tuple(r.values())[2:] for r in rows if r["run"] == RUNS[k] and r["sample"] == n]
        for k, n in NAMES.items()
    }
    assert len(by_run["bam"]) == len(fastq_calls) == len(rows) // 2 and by_run["bam"] == by_run["fastq"]
    summary = json.loads(next(objects.rglob("patient_A/patient_A.summary.json")).read_text())
    assert (summary["sample"], summary["barcode"]) == ("patient_A", "barcode01")

    bams = {k: next(objects.rglob(f"genomics/{RUNS[k]}/{n}/{n}.bam")) for k, n in NAMES.items()}
    reads, tagged = _tagged(bams["bam"])
    assert reads > 100 and tagged > 0.95 * reads, (reads, tagged)  # a read without any CpG has no tags
    assert _tagged(bams["fastq"])[1] == 0

    lid = sql.query("SELECT lineage_id FROM variants WHERE sample = 'patient_A' LIMIT 1").to_pylist()[0]
    shown = CliRunner().invoke(app, ["lineage", lid["lineage_id"], "--json"])
    assert shown.exit_code == 0, shown.output
    walked = {i["uri"].rsplit("/", 1)[-1] for rec in json.loads(shown.output) for i in rec["inputs"]}
    assert {p.name for p in written["bam"]} <= walked, walked
    assert any(w.startswith("sample_sheet_FLO12345_") for w in walked), walked

    out = tmp_path / "batch"
    args = [a for p in written["bam"] for a in ("--reads", str(p))]
    res = CliRunner().invoke(
        app,
        [
            "genomics",
            "call-nanopore",
            "--reference",
            str(sim.reference),
            *args,
            "--sample",
            "b1",
            "--out",
            str(out),
        ],
    )
    assert res.exit_code == 0, res.output
    assert vcf_records(out / "b1.vcf.gz") == bam_calls

    problems = [(q.source, q.problem) for q in Catalog(Settings().catalog_url).list_quarantine()]
    text = "\n".join(f"{s}: {p}" for s, p in problems)
    assert problems and all("barcode02" in s or "barcode05" in s for s, _ in problems), text
    assert any("bam_pass/barcode02/" in s and "not in the run's sample sheet" in p for s, p in problems), text
    assert any("barcode05" in s and "patient_B" in p and "no passed reads" in p for s, p in problems), text
    runs = sql.query("SELECT * FROM ont_runs ORDER BY run").to_pylist()
    assert [
        (r["samples"], r["not_in_sheet"], r["missing"], r["unclassified_files_ignored"]) for r in runs
    ] == [
        ("barcode01=barcode01", "", "", 1),
        ("barcode01=patient_A", "barcode02", "barcode05", 1),
    ], runs
    status = CliRunner().invoke(app, ["status"], terminal_width=250)
    assert status.exit_code == 0 and "unclassified and failed reads are ignored" in status.output, (
        status.output
    )
