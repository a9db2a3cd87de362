"""dwgsim (a training simulator beside the sequencer) and ART (evaluation only): each one's truth VCF is
what bcftools calls from its reads at high depth, and the reads carry that simulator's error model."""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np

from labstream.genomics.align import align_reads
from labstream.genomics.call import call_variants
from labstream.genomics.evaluate import evaluate
from labstream.genomics.reference import open_reference
from labstream.instruments.art_run import simulate_art
from labstream.instruments.dwgsim_run import mutations_vcf_to_variants, simulate_dwgsim

MT = "/usr/share/doc/minimap2/test/MT-human.fa.gz"


def test_mutation_rows_become_truth_variants() -> None:
    rows = ["##fileformat=VCFv4.1", "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO",
            "c\t33\t.\tG\tT\t100\tPASS\tAF=0.5;pl=2;mt=SUBSTITUTE",
            "c\t354\t.\tCT\tC\t100\tPASS\tAF=0.5;pl=1;mt=DELETE",
            "c\t387\t.\tT\tTG\t100\tPASS\tAF=1.0;pl=3;mt=INSERT"]  # fmt: skip
    got = [(v.pos, v.ref, v.alt, v.genotype) for v in mutations_vcf_to_variants(rows)]
    assert got == [(33, "G", "T", "0/1"), (354, "CT", "C", "0/1"), (387, "T", "TG", "1/1")]


def _bcftools_agrees(run, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    ref = open_reference(run.reference)
    bam = align_reads(ref, run.r1, run.r2, tmp_path / "S.bam", sample="S", threads=2, markdup=True).bam
    m = evaluate(ref, run.truth_vcf, call_variants(ref, bam, tmp_path / "c.vcf.gz", threads=2))
    assert m["SNP"].truth > 50 and m["INDEL"].truth > 10
    # an independent caller recovers the truth: positions, alleles and SNP genotypes line up
    assert m["SNP"].f1 > 0.97 and m["INDEL"].f1 > 0.85
    assert m["SNP"].genotype_concordance > 0.97


def test_dwgsim_truth_matches_what_bcftools_calls_at_high_depth(tmp_path: Path) -> None:
    run = simulate_dwgsim(MT, tmp_path, 40, 5, (35.0, 20.0))
    _bcftools_agrees(run, tmp_path)
    # dwgsim's error model: qualities fall along each read from about Q35 to about Q20
    with gzip.open(run.r1, "rt") as fh:
        quals = [np.frombuffer(q.strip().encode(), np.uint8) - 33 for q in list(fh)[3::4][:500]]
    q = np.vstack(quals).mean(axis=0)
    assert 32 < q[:10].mean() < 38 and 17 < q[-10:].mean() < 23


def test_art_reads_carry_the_planted_truth_and_hiseq_qualities(tmp_path: Path) -> None:
    run = simulate_art(MT, tmp_path, coverage=40, seed=5)
    _bcftools_agrees(run, tmp_path)
    with gzip.open(run.r1, "rt") as fh:
        names = list(fh)[0::4]
    # both haplotypes were sequenced, about half the pairs each
    share = sum("-h0" in n for n in names) / len(names)  # ART names a read <contig>-<-d tag><number>
    assert 0.4 < share < 0.6
