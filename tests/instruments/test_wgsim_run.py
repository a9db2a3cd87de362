"""wgsim as a second read simulator: its mutation list becomes a truth VCF that bcftools agrees with."""

from __future__ import annotations

import subprocess
from pathlib import Path

from labstream.genomics.evaluate import evaluate
from labstream.genomics.reference import open_reference
from labstream.instruments.wgsim_run import mutations_to_variants, simulate_wgsim

MT = "/usr/share/doc/minimap2/test/MT-orang.fa.gz"


def test_mutation_lines_become_vcf_variants() -> None:
    ref = {"c": "ACGTACGTAC"}
    lines = ["c\t2\tC\tY\t+", "c\t4\tT\tA\t-", "c\t5\t-\tGG\t+", "c\t7\tGT\t-\t-"]
    got = [(v.pos, v.ref, v.alt, v.genotype) for v in mutations_to_variants(lines, ref)]
    assert got == [(2, "C", "T", "0/1"), (4, "T", "A", "1/1"), (5, "A", "AGG", "0/1"), (6, "CGT", "C", "./1")]
    # a deletion of the contig's first bases is anchored on the base after it (there is none before)
    first = mutations_to_variants(["c\t1\tAC\t-\t-"], ref)
    assert [(v.pos, v.ref, v.alt) for v in first] == [(1, "ACG", "G")]


def test_wgsim_truth_matches_what_bcftools_calls_at_high_depth(tmp_path: Path) -> None:
    run = simulate_wgsim(MT, tmp_path, coverage=40, seed=5, mutation_rate=0.004)
    bam = tmp_path / "S.bam"
    subprocess.run(
        f"minimap2 -ax sr {run.reference} {run.r1} {run.r2} 2>/dev/null | samtools sort -o {bam} - "
        f"&& samtools index {bam} && bcftools mpileup -f {run.reference} {bam} 2>/dev/null "
        f"| bcftools call -mv -Oz -o {tmp_path}/c.vcf.gz 2>/dev/null",
        shell=True,
        check=True,
    )
    m = evaluate(open_reference(run.reference), run.truth_vcf, tmp_path / "c.vcf.gz")
    assert m["SNP"].truth > 30 and m["INDEL"].truth > 5
    # an independent caller recovers the converted truth: positions, alleles and SNP genotypes line up
    assert m["SNP"].f1 > 0.97 and m["INDEL"].f1 > 0.85
    assert m["SNP"].genotype_concordance > 0.97
