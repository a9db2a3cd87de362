"""QC metrics against an independent count, trimming against cutadapt's documented example."""

from __future__ import annotations

import numpy as np
import pysam

from labstream.genomics.fastq import ReadBatch, iter_pairs
from labstream.genomics.qc import ADAPTER, QCStats, adapter_trim_lengths, qc_and_trim, quality_trim_lengths


def test_quality_trim_matches_cutadapt_example() -> None:
    # cutadapt docs: qualities 42 40 26 27 8 7 11 4 2 3 with cutoff 10 keep the first 4 bases
    q = bytes(x + 33 for x in [42, 40, 26, 27, 8, 7, 11, 4, 2, 3])
    good = bytes([33 + 40] * 10)
    lens = quality_trim_lengths([q, good, q[:6]], min_quality=10)
    assert lens.tolist() == [4, 10, 4]


def test_adapter_trim() -> None:
    insert = b"ACGTTGCAACGTTGCA"
    seqs = [insert + ADAPTER + b"TTTT", insert + ADAPTER[:7], insert + b"GGGGGGG", insert + ADAPTER[:3]]
    assert adapter_trim_lengths(seqs).tolist() == [16, 16, 23, 19]  # partial >= 5 bases only


def test_metrics_match_independent_count(sim_run) -> None:  # type: ignore[no-untyped-def]
    stats = QCStats()
    out = b"".join(qc_and_trim(b1, b2, stats) for b1, b2 in iter_pairs(sim_run.r1, sim_run.r2, 4000))
    reads = bases = q30 = gc = 0
    for path in (sim_run.r1, sim_run.r2):
        with pysam.FastxFile(str(path)) as fh:
            for rec in fh:
                reads += 1
                bases += len(rec.sequence)
                q30 += int(np.count_nonzero(np.asarray(rec.get_quality_array()) >= 30))
                gc += rec.sequence.count("G") + rec.sequence.count("C")
    s = stats.summary()
    assert s["reads"] == reads == 2 * sim_run.pairs and s["bases"] == bases
    assert s["q30_fraction"] == q30 / bases and s["gc_fraction"] == gc / bases
    assert 0.4 < s["gc_fraction"] < 0.6  # lambda phage is ~50% GC
    assert s["duplication_fraction"] < 0.02
    assert out.count(b"\n+\n") == 2 * (sim_run.pairs - s["pairs_dropped"])


def test_short_pairs_are_dropped_together() -> None:
    names = [b"a", b"b"]
    b1 = ReadBatch(names, [b"ACGT" * 10, b"ACGT" * 10], [b"I" * 40, b"I" * 40], 1)
    b2 = ReadBatch(names, [b"ACGT" * 10, b"ACGT" * 10], [b"I" * 40, b"#" * 40], 1)  # b's mate is all Q2
    stats = QCStats()
    out = qc_and_trim(b1, b2, stats, min_length=30)
    assert stats.pairs_dropped == 1 and out.count(b"@a\n") == 2 and b"@b\n" not in out


def test_duplication_counts_exact_pairs_across_batches_and_lengths() -> None:
    """Duplicate digests are vectorised per batch; they must equal an exact count of identical pairs,
    whether a batch has equal read lengths (matrix path) or not (gather path)."""
    rng = np.random.default_rng(3)

    def seq(n: int) -> bytes:
        return bytes(rng.choice(list(b"ACGT"), n).astype(np.uint8))

    base = [(seq(int(rng.integers(31, 90))), seq(int(rng.integers(31, 90)))) for _ in range(300)]
    same_len = [(seq(60), seq(60)) for _ in range(300)]
    one_off = [(a[:-1] + (b"A" if a[-1:] != b"A" else b"C"), b) for a, b in base[:50]]  # one base differs
    batches = [base[:200] + base[:40], same_len + same_len[:25], base[150:] + one_off, same_len[:10]]
    stats = QCStats()
    first = 1
    for pairs in batches:
        names = [f"r{first + i}".encode() for i in range(len(pairs))]
        s1, s2 = [a for a, _ in pairs], [b for _, b in pairs]
        b1 = ReadBatch(names, s1, [b"I" * len(x) for x in s1], first)
        b2 = ReadBatch(names, s2, [b"I" * len(x) for x in s2], first)
        qc_and_trim(b1, b2, stats)
        first += len(pairs)
    every = [p for pairs in batches for p in pairs]
    assert stats.summary()["duplication_fraction"] == 1 - len(set(every)) / len(every)
