"""Overstated base qualities measured from the reads and capped; calibrated reads left as they are."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pysam
import pytest

from labstream.genomics.quality_calibration import calibrated_reads, capped_bam, measure
from labstream.genomics.reference import open_reference

LENGTH, READ, N_READS = 20_000, 150, 1200


def _sample(tmp: Path, error_rate: float, het_every: int = 0) -> tuple[Path, Path]:
    """Reads at Q37 whose bases are wrong at `error_rate`; `het_every` > 0 plants a het SNP (half the reads
    carry it) every that many bases, which the measurement must not count as errors."""
    rng = np.random.default_rng(7)
    seq = rng.choice(list("ACGT"), size=LENGTH)
    ref = tmp / "ref.fa"
    ref.write_text(">c\n" + "".join(seq) + "\n")
    pysam.faidx(str(ref))
    alt = (
        {p: "ACGT"[("ACGT".index(seq[p]) + 1) % 4] for p in range(100, LENGTH, het_every)}
        if het_every
        else {}
    )
    header = pysam.AlignmentHeader.from_dict({"HD": {"SO": "coordinate"}, "SQ": [{"SN": "c", "LN": LENGTH}]})
    bam = tmp / "s.bam"
    with pysam.AlignmentFile(str(bam), "wb", header=header) as fh:
        for i, start in enumerate(sorted(rng.integers(0, LENGTH - READ, N_READS).tolist())):
            bases = list(seq[start : start + READ])
            for j in range(READ):
                if i % 2 and start + j in alt:
                    bases[j] = alt[start + j]
                elif rng.random() < error_rate:
                    bases[j] = "ACGT"[("ACGT".index(bases[j]) + int(rng.integers(1, 4))) % 4]
            a = pysam.AlignedSegment(header)
            a.query_name, a.reference_id, a.reference_start = f"r{i}", 0, start
            a.query_sequence, a.cigarstring, a.mapping_quality = "".join(bases), f"{READ}M", 60
            a.query_qualities = pysam.qualitystring_to_array("F" * READ)  # Q37
            fh.write(a)
    pysam.index(str(bam))
    return ref, bam


@pytest.mark.parametrize("rate,capped", [(0.01, 20), (0.004, 24), (0.0002, None)])
def test_measured_quality_and_cap(tmp_path: Path, rate: float, capped: int | None) -> None:
    ref, bam = _sample(tmp_path, rate, het_every=500)
    c = measure(open_reference(ref), bam)
    assert c.bases > 100_000 and c.measured is not None
    assert abs(c.measured - (-10 * np.log10(rate))) < 1.5  # the hets (a 50 % ALT column each) left out
    assert c.cap == capped


def test_capped_bam_lowers_every_quality_above_the_cap(tmp_path: Path) -> None:
    _ref, bam = _sample(tmp_path, 0.01)
    out = capped_bam(bam, 20, tmp_path / "capped.bam")
    with pysam.AlignmentFile(str(bam)) as a, pysam.AlignmentFile(str(out)) as b:
        pairs = list(zip(a.fetch(until_eof=True), b.fetch(until_eof=True), strict=True))
    assert len(pairs) == N_READS
    assert all(x.query_sequence == y.query_sequence and max(y.query_qualities) == 20 for x, y in pairs)


def test_too_few_high_quality_bases_is_no_estimate_and_no_cap(tmp_path: Path) -> None:
    ref, bam = _sample(tmp_path, 0.01)
    low = tmp_path / "low.bam"
    with pysam.AlignmentFile(str(bam)) as src, pysam.AlignmentFile(str(low), "wb", template=src) as dst:
        for a in src.fetch(until_eof=True):
            a.query_qualities = pysam.qualitystring_to_array("5" * READ)  # Q20: below the measured band
            dst.write(a)
    pysam.index(str(low))
    c = measure(open_reference(ref), low)
    assert c.measured is None and c.cap is None and "unmeasured" in c.header()


def test_calibrated_reads_are_the_bam_itself_or_a_capped_copy(tmp_path: Path) -> None:
    """One read-preparation step for calling and training: calibrated reads pass through untouched."""
    for rate, same in ((0.0002, True), (0.01, False)):
        d = tmp_path / str(rate)
        d.mkdir()
        ref, bam = _sample(d, rate)
        reads, c = calibrated_reads(open_reference(ref), bam, d)
        assert (reads == bam) is same and (c.cap is None) is same
        with pysam.AlignmentFile(str(reads)) as fh:
            assert max(max(a.query_qualities) for a in fh) == (37 if same else c.cap)
