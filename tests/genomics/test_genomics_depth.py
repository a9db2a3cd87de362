"""Binned depth without pysam's count_coverage: equal to it base for base, on awkward reads too."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pysam
import pytest

from labstream.genomics.bam import window_depth


def _count_coverage(fh: pysam.AlignmentFile, contig: str, start: int, end: int) -> np.ndarray:
    acgt = fh.count_coverage(contig, start, end, quality_threshold=0, read_callback="all")
    return np.sum(np.asarray(acgt, dtype=np.int64), axis=0)


@pytest.fixture(scope="module")
def awkward_bam(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Random reads with soft clips, insertions, deletions, skips, N and IUPAC bases, and every flag
    the depth must leave out (unmapped, secondary, QC-fail, duplicate)."""
    rng = np.random.default_rng(7)
    path = tmp_path_factory.mktemp("depth") / "awkward.bam"
    header = {"HD": {"VN": "1.6", "SO": "coordinate"}, "SQ": [{"SN": "chrT", "LN": 5000}]}
    reads = []
    for i in range(3000):
        ops = [(4, int(rng.integers(0, 6)))] if rng.random() < 0.3 else []  # soft clip
        ops.append((0, int(rng.integers(10, 60))))
        kind = rng.random()
        if kind < 0.2:
            ops.append((1, int(rng.integers(1, 4))))  # insertion
        elif kind < 0.4:
            ops.append((2, int(rng.integers(1, 4))))  # deletion
        elif kind < 0.45:
            ops.append((3, int(rng.integers(5, 50))))  # reference skip
        ops.append((int(rng.choice([0, 7, 8])), int(rng.integers(10, 60))))  # M, =, X
        ops = [(op, n) for op, n in ops if n > 0]
        qlen = sum(n for op, n in ops if op in (0, 1, 4, 7, 8))
        bases = np.array(list("ACGT"))[rng.integers(0, 4, qlen)]
        bases[rng.random(qlen) < 0.02] = "N"
        bases[rng.random(qlen) < 0.005] = "R"
        a = pysam.AlignedSegment()
        a.query_name = f"r{i}"
        a.query_sequence = "".join(bases)
        a.query_qualities = pysam.qualitystring_to_array("I" * qlen)
        a.reference_id = 0
        a.reference_start = int(rng.integers(0, 4800))
        a.cigartuples = ops
        a.mapping_quality = 60
        a.flag = int(rng.choice([0, 0, 0, 16, 0x100, 0x200, 0x400, 0x4 | 0x0]))
        reads.append(a)
    reads.sort(key=lambda r: r.reference_start)
    with pysam.AlignmentFile(str(path), "wb", header=header) as out:
        for r in reads:
            out.write(r)
    pysam.index(str(path))
    return path


@pytest.mark.parametrize("window", [(0, 5000), (0, 1), (1234, 3210), (4790, 5000)])
def test_window_depth_equals_count_coverage(awkward_bam: Path, window: tuple[int, int]) -> None:
    with pysam.AlignmentFile(str(awkward_bam)) as fh:
        got = window_depth(fh, "chrT", *window)
        want = _count_coverage(fh, "chrT", *window)
    assert got.shape == want.shape and np.array_equal(got, want)
    assert window[1] - window[0] == 1 or want.max() > 5  # the data cover the window


def test_window_depth_on_real_alignments(batch_result) -> None:  # type: ignore[no-untyped-def]
    with pysam.AlignmentFile(str(batch_result.bam)) as fh:
        contig, length = fh.references[0], fh.lengths[0]
        got = window_depth(fh, contig, 0, length)
        want = _count_coverage(fh, contig, 0, length)
    assert np.array_equal(got, want) and want.mean() > 10
