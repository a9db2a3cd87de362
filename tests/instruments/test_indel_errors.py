"""One-base indel errors in simulated reads: rate, kinds, read length kept, and what the aligner sees."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pysam

from labstream.instruments.indel_errors import add_indel_errors
from labstream.instruments.training_sets import simulated_sample

LAMBDA = "/usr/share/doc/bowtie2/examples/reference/lambda_virus.fa.gz"


def test_at_most_one_error_per_read_at_the_rate_asked() -> None:
    rng = np.random.default_rng(2)
    reads = np.frombuffer(b"ACGT" * 25, dtype=np.uint8)[None, :].repeat(20_000, axis=0)  # 100-base reads
    following = np.full(20_000, ord("A"), dtype=np.uint8)
    out = add_indel_errors(reads, following, 1e-3, rng)
    changed = (out != reads).any(axis=1)
    assert out.shape == reads.shape
    assert 0.08 < changed.mean() < 0.12  # 1e-3 x 100 bases, minus the few that change nothing visible
    row = out[np.flatnonzero(changed)[0]]
    i = int(np.flatnonzero(row != reads[0])[0])
    # either one base dropped (the rest shifted left) or one base added (the rest shifted right)
    assert (row[i:-1] == reads[0][i + 1 :]).all() or (row[i + 1 :] == reads[0][i:-1]).all()
    assert (add_indel_errors(reads, following, 0.0, rng) == reads).all()


def test_the_aligner_writes_single_read_indels_the_truth_does_not_have(tmp_path: Path) -> None:
    clean = simulated_sample("sequencer", LAMBDA, tmp_path / "a", seed=4, coverage=20, indel_error_rate=0.0)
    noisy = simulated_sample("sequencer", LAMBDA, tmp_path / "b", seed=4, coverage=20, indel_error_rate=2e-4)

    def indel_reads(bam: Path) -> int:
        with pysam.AlignmentFile(str(bam)) as fh:
            return sum(any(op in (1, 2) for op, _ in a.cigartuples or []) for a in fh.fetch(until_eof=True))

    truth_indels = sum(1 for r in pysam.VariantFile(str(clean.truth_vcf)) if len(r.ref) != len(r.alts[0]))
    # the clean reads' gaps come from the planted indels only; the noisy ones add about 2e-4 x 150 x reads
    assert indel_reads(noisy.bam) > indel_reads(clean.bam) + 100
    assert noisy.lineage["indel_error_rate"] == 2e-4 and truth_indels > 0
