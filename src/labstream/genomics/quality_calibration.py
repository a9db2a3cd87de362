"""Base qualities that overstate the error rate, measured from the reads and capped (BQSR at its simplest).

A caller weighs each base by its reported quality. When an instrument (or a simulator: Mason's defaults
report mismatches at Q30-40 while they occur at 0.2-1.2 %) reports qualities above the real error rate,
two matching errors at a site read like a heterozygous variant's evidence: the learned caller, trained on
calibrated reads, then calls them. GATK's BQSR re-estimates qualities from the mismatches at non-variant
sites. Here, one number per BAM: among bases reported at >= `HIGH_Q`, the share that disagree with the
reference (`pysam.count_coverage` over a window of the longest contig, positions where >= 20 % of them
disagree left out as variants) gives the Phred those bases really have. When it is more than `SLACK` below
`HIGH_Q`, every base quality is capped at it for calling (`capped_bam`); otherwise the reads are used as
they are. Reads simulated with calibrated qualities (labstream's sequencer, ART, dwgsim) are never capped.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pysam

from labstream.genomics.reference import Reference

HIGH_Q = 30
SLACK = 3.0  # Phred points of measurement noise and variant bases tolerated before capping
WINDOW = 300_000
MIN_BASES = 100_000  # fewer high-quality bases measured: no estimate
VARIANT_FRACTION = 0.2


@dataclass(frozen=True)
class Calibration:
    """`measured`: the Phred of bases reported at >= HIGH_Q (None: too few measured); `cap`: the quality
    every base is capped at for calling, or None (qualities kept)."""

    measured: float | None
    bases: int
    cap: int | None

    def header(self) -> str:
        measured = "unmeasured" if self.measured is None else f"{self.measured:.1f}"
        return f"reported>={HIGH_Q} measured Q{measured} over {self.bases} bases; cap={self.cap or 'none'}"


def measure(ref: Reference, bam: str | Path) -> Calibration:
    """The calibration of `bam`'s high-quality bases against `ref` (module docstring)."""
    with pysam.AlignmentFile(str(bam)) as fh, pysam.FastaFile(str(ref.path)) as fa:
        lengths = dict(zip(fh.references, fh.lengths, strict=True))
        contig = max(lengths, key=lambda c: lengths[c])
        stop = min(lengths[contig], WINDOW)
        counts = np.array(fh.count_coverage(contig, 0, stop, quality_threshold=HIGH_Q), dtype=np.int64)
        seq = np.frombuffer(fa.fetch(contig, 0, stop).upper().encode(), dtype=np.uint8)
    index = np.full(256, -1, dtype=np.int64)
    index[np.frombuffer(b"ACGT", dtype=np.uint8)] = np.arange(4)
    ref_idx = index[seq]
    known = ref_idx >= 0
    total = counts.sum(axis=0)
    matching = np.where(known, counts[np.maximum(ref_idx, 0), np.arange(len(seq))], 0)
    mismatching = total - matching
    keep = known & (total > 0) & (mismatching < VARIANT_FRACTION * np.maximum(total, 1))
    bases = int(total[keep].sum())
    if bases < MIN_BASES:
        return Calibration(None, bases, None)
    rate = max(int(mismatching[keep].sum()) / bases, 1e-6)
    measured = -10.0 * math.log10(rate)
    cap = math.floor(measured) if measured < HIGH_Q - SLACK else None
    return Calibration(round(measured, 2), bases, cap)


def capped_bam(bam: str | Path, cap: int, out: str | Path) -> Path:
    """A copy of `bam` with every base quality at most `cap`, indexed."""
    out = Path(out)
    with pysam.AlignmentFile(str(bam)) as src, pysam.AlignmentFile(str(out), "wb", template=src) as dst:
        for a in src.fetch(until_eof=True):
            q = a.query_qualities
            if q is not None:
                a.query_qualities = np.minimum(np.asarray(q, dtype=np.uint8), cap)
            dst.write(a)
    pysam.index(str(out))
    return out


def calibrated_reads(ref: Reference, bam: str | Path, scratch: str | Path) -> tuple[Path, Calibration]:
    """The reads the learned caller reads, for calling and for training alike: `bam` itself, or a capped
    copy under `scratch` when its qualities overstate the errors; and what was measured (for the header)."""
    calibration = measure(ref, bam)
    if calibration.cap is None:
        return Path(bam), calibration
    return capped_bam(bam, calibration.cap, Path(scratch) / f"capped-{abs(hash(str(bam)))}.bam"), calibration


__all__ = ["HIGH_Q", "SLACK", "Calibration", "calibrated_reads", "capped_bam", "measure"]
