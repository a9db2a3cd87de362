"""Reference confidence from the real caller: `bcftools call --gvcf` blocks go into the cohort, and the
cohort's AC/AN equal bcftools merge --gvcf + fill-tags on the same files (low coverage: real gaps)."""

from __future__ import annotations

from pathlib import Path

import pyarrow.compute as pc
import pysam
import pytest

from labstream.cohort import CohortStore, allele_stats, read_gvcf
from labstream.cohort.bcftools import bcftools_allele_counts
from labstream.core.errors import InputError
from labstream.genomics.align import align_reads
from labstream.genomics.bam import index_bam
from labstream.genomics.refconf import call_gvcf
from labstream.genomics.reference import open_reference
from labstream.instruments.sequencer import SimConfig, simulate_run
from labstream.lake import open_lake

LAMBDA = Path("/usr/share/doc/bowtie2/examples/reference/lambda_virus.fa.gz")


def test_gvcf_blocks_and_cohort_counts_match_bcftools_merge(tmp_path: Path) -> None:
    gvcfs = []
    for i, cov in enumerate((3, 4, 6)):
        out = tmp_path / f"s{i}"
        out.mkdir()
        run = simulate_run(
            LAMBDA, out, SimConfig(coverage=cov, seed=40 + i, sample=f"L{i}", snps=30, indels=6)
        )
        ref = open_reference(run.reference)
        bam = align_reads(ref, run.r1, run.r2, out / "x.bam", sample=f"L{i}", threads=1).bam
        index_bam(bam)
        gvcfs.append(call_gvcf(ref, bam, out / f"L{i}.g.vcf.gz", bands=(0, 5, 10)))
    rows = read_gvcf(gvcfs[0], max_block=1000)
    blocks = rows.filter(pc.equal(rows["kind"], "ref"))
    assert (
        blocks.num_rows > 10
        and max(e - s for s, e in zip(blocks["start"].to_pylist(), blocks["end"].to_pylist(), strict=True))
        <= 1000
    )
    covered = sum(e - s for s, e in zip(blocks["start"].to_pylist(), blocks["end"].to_pylist(), strict=True))
    assert 0 < covered < open_reference(run.reference).contigs[rows["contig"][0].as_py()]  # 3x leaves gaps
    with pysam.VariantFile(str(gvcfs[0])) as fh:
        assert "MinDP" in fh.header.info
    store = CohortStore(open_lake(tmp_path / "lake"), max_block=1000)
    for p in gvcfs:
        store.add_gvcf(p)
    got = {
        (r["contig"], r["start"], r["ref"], r["alt"]): (r["ac"], r["an"])
        for r in allele_stats(store).to_pylist()
    }
    expected = bcftools_allele_counts(gvcfs, run.reference)
    assert len(got) > 40 and got == expected
    assert any(an < 6 for _, an in got.values())  # some sites are not covered in every sample


def test_call_gvcf_refuses_bad_bands(tmp_path: Path) -> None:
    ref_fa = tmp_path / "r.fa"
    ref_fa.write_text(">c\nACGT\n")
    pysam.faidx(str(ref_fa))
    (tmp_path / "x.bam").write_bytes(b"")
    with pytest.raises(InputError, match="bands"):
        call_gvcf(open_reference(ref_fa), tmp_path / "x.bam", tmp_path / "o.g.vcf.gz", bands=(5, 0))
