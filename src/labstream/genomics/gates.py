"""Sanity gates: checks a sample must pass before any result of it may be presented.

Why: a sample whose data cannot support a call set (R1 given as both mates, pairs that do not pair,
low base quality, too little coverage) still yields a VCF, and an empty VCF reads as "no variants found"
-- a false negative in a clinical report. Each gate is a pure function of numbers the chain measured
anyway; a failed gate fails the sample with its reason. The batch chain then exits non-zero naming the
gate (or, with `allow_qc_fail`, marks the outputs QC FAILED), and the streaming stage quarantines the
sample instead of writing variant rows.

    mate_gates(r1, r2)                         identical or swapped mates, before alignment
    sample_gates(qc_row, mean_depth, ...)      properly paired, Q30, coverage, 0 variants at depth
    gate_summary(results)                      {"qc_status", "failed_gates", "gates"} for QC JSON / report
"""

from __future__ import annotations

import gzip
import hashlib
import itertools
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from labstream.core.errors import QCFailed

MATE_SAMPLE = 1000  # records compared between mates: enough to tell a duplicated file, read in ~ms


@dataclass(frozen=True)
class GateThresholds:
    """Defaults fit a germline DNA-seq sample; an assay may set its own."""

    min_properly_paired: float = 0.5  # share of reads in proper pairs (paired runs only)
    min_q30: float = 0.6  # share of bases at Q30 or better
    min_mean_depth: float = 5.0  # mean depth over the reference (germline calls need a few reads)
    variants_expected_depth: float = 15.0  # at this mean depth, 0 variants is a failure, not a result


@dataclass(frozen=True)
class GateResult:
    name: str
    passed: bool
    value: float | str
    threshold: float | str
    reason: str = ""


def _head(path: Path, n: int) -> list[tuple[bytes, bytes]]:
    """(header, sequence) of the first `n` records; the reader validates the file later."""
    out: list[tuple[bytes, bytes]] = []
    try:
        with open(path, "rb") as raw:
            gz = raw.read(2) == b"\x1f\x8b"
        with gzip.open(path, "rb") if gz else open(path, "rb") as fh:
            for header, seq, _, _ in itertools.islice(zip(fh, fh, fh, fh, strict=False), n):
                out.append((header.rstrip(), seq.rstrip()))
    except (OSError, EOFError, ValueError):
        pass  # a damaged file is the FASTQ reader's to name, with its record
    return out


def _mate_number(header: bytes) -> str:
    """'1' or '2' from `@name/1` or Casava's `@name 1:N:0:ACGT`; '' when the header does not say."""
    parts = header.split()
    if len(parts) > 1 and parts[1][:2] in (b"1:", b"2:"):
        return parts[1][:1].decode()
    if parts and parts[0][-2:] in (b"/1", b"/2"):
        return parts[0][-1:].decode()
    return ""


def _digest(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def mate_gates(r1: str | Path, r2: str | Path | None) -> list[GateResult]:
    """Identical mates (the same file, equal bytes, or equal sequences) and swapped mates (R1 file
    holding read 2 by its headers). Single-end reads pass both."""
    p1, p2 = Path(r1), Path(r2 or "")
    if r2 is None or not p1.is_file() or not p2.is_file():
        return []  # single-end, or a missing file the reader names
    h1, h2 = _head(p1, MATE_SAMPLE), _head(p2, MATE_SAMPLE)
    same = p1.resolve() == p2.resolve() or (
        p1.stat().st_size == p2.stat().st_size and _digest(p1) == _digest(p2)
    )
    if not same and h1 and len(h1) == len(h2):
        same = all(a[1] == b[1] for a, b in zip(h1, h2, strict=True))
    identical = GateResult(
        "mates_identical",
        not same,
        "identical" if same else "distinct",
        "distinct",
        f"{p2.name} holds the same reads as {p1.name}: R1 was given as both mates" if same else "",
    )
    m1 = {_mate_number(h) for h, _ in h1} - {""}
    m2 = {_mate_number(h) for h, _ in h2} - {""}
    swapped = not same and m1 == {"2"} and m2 == {"1"}
    swap = GateResult(
        "mates_swapped",
        not swapped,
        "swapped" if swapped else "in order",
        "in order",
        f"{p1.name} holds read 2 and {p2.name} read 1 by their headers: the mates are swapped"
        if swapped
        else "",
    )
    return [identical, swap]


def mean_depth(bins: Iterable[Any]) -> float:
    """Length-weighted mean depth of coverage bins (objects with start, end, mean_depth)."""
    total = length = 0.0
    for b in bins:
        total += b.mean_depth * (b.end - b.start)
        length += b.end - b.start
    return total / length if length else 0.0


def sample_gates(
    qc: dict[str, Any],
    depth: float,
    variants: int,
    *,
    paired: bool,
    thresholds: GateThresholds | None = None,
) -> list[GateResult]:
    """Gates on the measured sample: `qc` is its reads_qc row, `depth` its mean depth."""
    t = thresholds or GateThresholds()
    out: list[GateResult] = []
    if paired:
        pp = float(qc.get("properly_paired_fraction") or 0.0)
        out.append(
            GateResult(
                "properly_paired",
                pp >= t.min_properly_paired,
                round(pp, 4),
                t.min_properly_paired,
                f"only {pp:.1%} of reads are in proper pairs (minimum {t.min_properly_paired:.0%}): "
                "mates from different libraries, a duplicated or swapped file, or the wrong reference",
            )
        )
    q30 = float(qc.get("q30_fraction") or 0.0)
    out.append(
        GateResult(
            "q30",
            q30 >= t.min_q30,
            round(q30, 4),
            t.min_q30,
            f"only {q30:.1%} of bases are Q30 or better (minimum {t.min_q30:.0%})",
        )
    )
    out.append(
        GateResult(
            "coverage",
            depth >= t.min_mean_depth,
            round(depth, 2),
            t.min_mean_depth,
            f"mean depth {depth:.1f}x is below the minimum {t.min_mean_depth:g}x",
        )
    )
    silent = variants == 0 and depth >= t.variants_expected_depth
    out.append(
        GateResult(
            "variants_at_depth",
            not silent,
            variants,
            f">0 at {t.variants_expected_depth:g}x",
            f"0 variants at {depth:.1f}x mean depth: a sample this well covered always differs from "
            "the reference somewhere, so the calls are suspect rather than negative",
        )
    )
    return out


def failed(results: Iterable[GateResult]) -> list[GateResult]:
    return [r for r in results if not r.passed]


def gate_summary(results: list[GateResult]) -> dict[str, Any]:
    """What the QC JSON, the SampleResult and the report carry: `qc_status` PASS | QC FAILED."""
    bad = failed(results)
    return {
        "qc_status": "QC FAILED" if bad else "PASS",
        "failed_gates": [r.name for r in bad],
        "gates": [{**asdict(r), "reason": r.reason if not r.passed else ""} for r in results],
    }


def raise_failed(results: list[GateResult], source: str) -> None:
    """QCFailed naming every failed gate and its reason (no-op when all passed)."""
    bad = failed(results)
    if bad:
        raise QCFailed(source, [r.name for r in bad], "; ".join(r.reason for r in bad))


__all__ = [
    "GateResult",
    "GateThresholds",
    "failed",
    "gate_summary",
    "mate_gates",
    "mean_depth",
    "raise_failed",
    "sample_gates",
]
