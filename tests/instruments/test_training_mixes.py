"""Session 9b's training mixes: samples where true hets show 10-30 % ALT reads (training_sets.LOWDEPTH_MIX,
IMBALANCE_MIX; SimConfig.haplotype_share), measured on minimap2's alignments, not on what was planted."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pysam

from labstream.genomics.evaluate import load_genotypes
from labstream.instruments.sequencer import SimConfig, simulate_pairs
from labstream.instruments.training_sets import IMBALANCE_MIX, LOWDEPTH_MIX, synthetic_training_samples


def _het_alt_fractions(sample) -> list[float]:  # type: ignore[no-untyped-def]
    truth = load_genotypes(sample.truth_vcf, sample.reference)
    out = []
    with pysam.AlignmentFile(str(sample.bam)) as bam:
        for (contig, pos, ref, alt), gt in truth.items():
            if len(ref) != 1 or len(alt) != 1 or gt != "0/1":
                continue
            counts = bam.count_coverage(contig, pos - 1, pos, quality_threshold=0, read_callback="all")
            by_base = dict(zip("ACGT", (int(c[0]) for c in counts), strict=True))
            if by_base[alt] + by_base[ref] >= 10:
                out.append(by_base[alt] / (by_base[alt] + by_base[ref]))
    return out


def test_a_haplotype_share_puts_hets_at_that_alt_fraction(tmp_path: Path) -> None:
    [sample] = synthetic_training_samples([7], 1, tmp_path, length=12_000, threads=1, mix="imbalance")
    share = IMBALANCE_MIX[0][5]
    assert sample.lineage["haplotype_share"] == share and sample.lineage["coverage"] == IMBALANCE_MIX[0][0]
    fractions = np.array(_het_alt_fractions(sample))
    assert len(fractions) >= 20
    minor = np.minimum(fractions, 1 - fractions)  # a het on haplotype 1 shows 1 - share
    assert abs(np.median(minor) - share) < 0.08
    assert (minor <= 0.35).mean() > 0.7  # equal haplotypes would put most near 0.5


def test_equal_haplotypes_draw_as_before_and_the_mixes_hold_true_low_fraction_hets() -> None:
    haps = [{"c": "ACGT" * 2500}, {"c": "ACGT" * 2500}]

    def pairs(cfg: SimConfig) -> list[int]:
        names = [n for batch in simulate_pairs(haps, cfg, np.random.default_rng(1)) for n in batch[0]]
        return [sum(n.split(b":")[1] == str(h).encode() for n in names) for h in (0, 1)]

    assert pairs(SimConfig(coverage=30)) == [500, 500]  # None: 10,000 x 30 / 300 / 2 each, as before
    assert pairs(SimConfig(coverage=30, haplotype_share=0.2)) == [200, 800]
    assert all(cov <= 15 and systematic == 0 for cov, _q0, _q1, _sp, systematic in LOWDEPTH_MIX)
    assert all(0.2 <= share <= 0.3 and systematic == 0 for *_r, systematic, share in IMBALANCE_MIX)


def test_per_kb_plants_a_realistic_density_for_every_simulator(tmp_path: Path) -> None:
    """Genomes of realistic size (the bench's C. elegans chromosome) get variants per kb, not the dense
    mitochondrial sets' fixed 150 SNPs + 60 indels; wgsim gets the same rate as its mutation rate."""
    from labstream.instruments.synthetic_genome import write_synthetic_fasta
    from labstream.instruments.training_sets import reference_length, simulated_sample

    fa = write_synthetic_fasta(tmp_path / "g.fa", 40_000, 3)
    assert reference_length(fa) == 40_000
    for simulator in ("sequencer", "art", "wgsim"):
        s = simulated_sample(
            simulator, fa, tmp_path / simulator, seed=5, coverage=4.0, threads=1, per_kb=(1.0, 0.25)
        )
        truth = load_genotypes(s.truth_vcf, s.reference)
        snps = sum(1 for _c, _p, ref, alt in truth if len(ref) == len(alt) == 1)
        indels = len(truth) - snps
        assert s.lineage["per_kb"] == [1.0, 0.25]
        if simulator == "wgsim":  # wgsim draws its own mutations: 50 expected, 20 % indels
            assert 25 <= len(truth) <= 80 and indels < snps, (simulator, snps, indels)
        else:
            assert (snps, indels) == (40, 10), simulator


def _error_indel_reads(sample) -> int:  # type: ignore[no-untyped-def]
    """Reads whose CIGAR writes an indel more than 20 bases from every true indel: indel errors."""
    truth = load_genotypes(sample.truth_vcf, sample.reference)
    true_indels = np.array(sorted(p for (_c, p, ref, alt) in truth if len(ref) != len(alt)))
    n = 0
    with pysam.AlignmentFile(str(sample.bam)) as bam:
        for read in bam.fetch():
            pos = read.reference_start
            for op, length in read.cigartuples or []:
                if op in (1, 2) and (true_indels.size == 0 or np.abs(true_indels - pos).min() > 20):
                    n += 1
                    break
                if op in (0, 2, 3, 7, 8):
                    pos += length
    return n


def test_every_training_mix_carries_read_indel_errors_unless_told_not_to(tmp_path: Path) -> None:
    """Session 13: without indel errors in training reads, an indel one read's CIGAR writes is always a real
    variant there, and the model called single-read indel errors of Mason's reads at 6-9x as hets."""
    import inspect

    from labstream.cli.models import train
    from labstream.instruments.training_sets import READ_INDEL_ERROR_RATE, training_samples

    [noisy] = synthetic_training_samples([7], 1, tmp_path / "e", length=20_000, threads=1, mix="lowdepth")
    [clean] = synthetic_training_samples(
        [7], 1, tmp_path / "c", length=20_000, threads=1, mix="lowdepth", indel_error_rate=0.0
    )
    assert noisy.lineage["indel_error_rate"] == READ_INDEL_ERROR_RATE > 0
    assert "indel_error_rate" not in clean.lineage
    # 10x over 20 kb: ~1,300 reads of 150 bases, 1.5 % with an indel error
    assert _error_indel_reads(noisy) >= 8 and _error_indel_reads(clean) <= 2
    assert inspect.signature(training_samples).parameters["indel_error_rate"].default == READ_INDEL_ERROR_RATE
    assert inspect.signature(train).parameters["read_indel_errors"].default.default == READ_INDEL_ERROR_RATE
