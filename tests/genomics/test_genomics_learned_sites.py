"""The two-allele rule: a per-allele model's calls at one site made a diploid genotype."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pysam

from labstream.genomics.learned import write_scored
from labstream.genomics.learned_sites import site_genotypes

HOM, HET, NONE = [0.01, 0.09, 0.9], [0.05, 0.9, 0.05], [0.9, 0.05, 0.05]


def test_two_called_alts_of_one_snp_site_become_1_2() -> None:
    keys = [("c", 10, "A", "C"), ("c", 10, "A", "T"), ("c", 50, "G", "T")]
    got = site_genotypes(keys, np.array([HOM, HET, HOM]), [(1, 0), (0, 1), (1, 1)])
    # each ALT alone looked homozygous (no reference reads); together they are one het each
    assert got == [(0, 1), (0, 1), (1, 1)]


def test_a_third_alt_is_dropped_keeping_the_two_surest() -> None:
    keys = [("c", 10, "A", "C"), ("c", 10, "A", "G"), ("c", 10, "A", "T")]
    proba = np.array([[0.2, 0.7, 0.1], [0.01, 0.5, 0.49], [0.05, 0.05, 0.9]])
    assert site_genotypes(keys, proba, [None, None, None]) == [None, (0, 1), (0, 1)]


def test_bcftools_pair_rescues_the_allele_the_model_missed() -> None:
    keys = [("c", 10, "A", "C"), ("c", 10, "A", "T")]
    proba = np.array([HOM, [0.6, 0.3, 0.1]])
    assert site_genotypes(keys, proba, [(1, 0), (0, 1)]) == [(0, 1), (0, 1)]
    # without bcftools' 1/2 (its second allele not genotyped), the model's single call stands
    assert site_genotypes(keys, proba, [(1, 1), (0, 0)]) == [(1, 1), None]
    assert site_genotypes(keys, proba, [(1, 0), (None, None)]) == [(1, 1), None]  # a missing genotype


def test_a_snp_and_an_indel_at_one_position_are_left_alone() -> None:
    keys = [("c", 10, "A", "C"), ("c", 10, "A", "AT")]
    # a homozygous SNP with a heterozygous insertion after it is a valid diploid genotype
    assert site_genotypes(keys, np.array([HOM, HET]), [(1, 1), (0, 1)]) == [(1, 1), (0, 1)]


def test_two_indel_lengths_in_a_repeat_become_1_2_and_lone_sites_keep_the_argmax() -> None:
    keys = [("c", 20, "TAA", "T"), ("c", 20, "T", "TA"), ("c", 30, "G", "C"), ("d", 30, "G", "C")]
    got = site_genotypes(keys, np.array([HOM, HOM, NONE, HET]), [(1, 0), (0, 1), (0, 1), (0, 1)])
    assert got == [(0, 1), (0, 1), None, (0, 1)]


def test_the_scored_vcf_writes_a_1_2_as_two_het_records(tmp_path: Path) -> None:
    """write_scored applies the rule: bcftools' split 1/2 candidates, which the model alone scored 1/1 and
    'none', come out as one het record per ALT (as `bcftools norm -m-any` writes a 1/2)."""
    cand = tmp_path / "cand.vcf"
    cand.write_text(
        "##fileformat=VCFv4.2\n##contig=<ID=c,length=100>\n"
        '##FORMAT=<ID=GT,Number=1,Type=String,Description="Genotype">\n'
        '##FORMAT=<ID=GQ,Number=1,Type=Integer,Description="GQ">\n'
        "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\tFORMAT\tS\n"
        "c\t10\t.\tA\tC\t60\t.\t.\tGT:GQ\t1/0:30\nc\t10\t.\tA\tT\t60\t.\t.\tGT:GQ\t0/1:30\n"
        "c\t40\t.\tG\tT\t60\t.\t.\tGT:GQ\t1/1:30\n"
    )
    out = write_scored(cand, np.array([HOM, [0.6, 0.3, 0.1], HOM]), tmp_path / "o.vcf.gz", None, None)
    with pysam.VariantFile(str(out)) as fh:
        got = [(r.pos, r.alts[0], r.samples[0]["GT"]) for r in fh]
    assert got == [(10, "C", (0, 1)), (10, "T", (0, 1)), (40, "T", (1, 1))]
