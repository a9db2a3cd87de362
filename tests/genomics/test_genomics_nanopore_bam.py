"""MinKNOW's basecalling to BAM (bam_pass/ unaligned BAM batches) streams like fastq_pass/ (issue 12).

The same simulated reads are written twice by the MinKNOW simulator: one run folder as fastq_pass/ FASTQ
batches, one as bam_pass/ unaligned BAM batches whose reads carry MM/ML 5mC tags. One `watch` takes both.
Shown: the two final VCFs have the same records (and equal `genomics call-nanopore` on the BAM batches);
the variant rows are the same apart from the run; the aligned BAM of the bam_pass run keeps every read's
MM/ML tags (parseable by pysam) and the fastq_pass one has none; unclassified BAM reads are quarantined
with the reason.
"""

from __future__ import annotations

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
def test_bam_pass_batches_call_as_the_same_reads_in_fastq_pass(
    home: Path,
    tmp_path: Path,
    watch_cli,  # type: ignore[no-untyped-def]
    vcf_records,  # type: ignore[no-untyped-def]
) -> None:
    sim = simulate_nanopore(LAMBDA, tmp_path / "sim", NanoporeConfig(coverage=16, seed=31, sample="S"))
    config = tmp_path / "cfg" / "nanopore.toml"
    config.parent.mkdir()
    (config.parent / "ref.fa").write_bytes(sim.reference.read_bytes())
    config.write_text('reference = "ref.fa"\nrefresh_growth = 5\n')
    watched = tmp_path / "watched"
    runs = {
        "fastq": "20261206_1200_MN00000_FLO12345_a1b2c3d4",
        "bam": "20261206_1300_MN00000_FLO12345_b1b2c3d4",
    }
    written = {
        kind: write_minknow_run(
            watched / name,
            {"barcode01": sim.fastq},
            reads_per_batch=100,
            output=kind,
            run_id=f"{name[-8:]}e5f6",
        )["barcode01"]
        for kind, name in runs.items()
    }
    assert all(p.suffix == ".bam" and p.parent.parent.name == "bam_pass" for p in written["bam"])
    assert len(written["bam"]) == len(written["fastq"]) >= 2

    watch_cli(watched, "--pipeline", "nanopore", "--config", str(config))

    objects = home / "objects"
    vcfs = {
        kind: list(objects.rglob(f"genomics/{name}/barcode01/barcode01.vcf.gz"))
        for kind, name in runs.items()
    }
    assert all(len(v) == 1 for v in vcfs.values()), vcfs
    fastq_calls, bam_calls = vcf_records(vcfs["fastq"][0]), vcf_records(vcfs["bam"][0])
    assert len(fastq_calls) > 20 and bam_calls == fastq_calls

    sql = LakeSQL(open_lake(Settings().lake_url))
    rows = sql.query(
        "SELECT run, contig, start, ref, alt, gt, dp, qual FROM variants ORDER BY run, contig, start"
    ).to_pylist()
    by_run = {
        run: [tuple(v for k, v in r.items() if k != "run") for r in rows if r["run"] == run]
        for run in runs.values()
    }
    assert by_run[runs["bam"]] == by_run[runs["fastq"]] and len(by_run[runs["bam"]]) == len(fastq_calls)

    bams = {
        kind: next(objects.rglob(f"genomics/{name}/barcode01/barcode01.bam")) for kind, name in runs.items()
    }
    reads, tagged = _tagged(bams["bam"])
    assert reads > 100 and tagged > 0.95 * reads, (reads, tagged)  # a read without any CpG has no tags
    assert _tagged(bams["fastq"])[1] == 0

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
            "barcode01",
            "--out",
            str(out),
        ],
    )
    assert res.exit_code == 0, res.output
    assert vcf_records(out / "barcode01.vcf.gz") == bam_calls

    problems = [(q.source, q.problem) for q in Catalog(Settings().catalog_url).list_quarantine()]
    assert any("bam_pass/unclassified" in s and "no barcode" in p for s, p in problems), problems
