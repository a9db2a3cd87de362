"""Features of candidate variants for the learned caller: pure science over a candidate VCF and a reference.

Candidates are what a permissive bcftools run proposes (`mpileup -a AD,ADF,ADR,DP,SP | call -m -v -P 0.99`:
a mutation prior ~900x bcftools' default, so sites the default caller drops at low depth are still proposed),
normalised to one ALT per record. Each candidate becomes one row of numbers: bcftools' own evidence
(QUAL, PL, GQ, the per-strand allele depths, the bias Z-scores mpileup computes), the allele balance, the
depth relative to the sample's median (so one model serves several coverages), and the reference context
(homopolymer and tandem-repeat length around the site, GC, how many other candidates are near). A missing
value is NaN, which the gradient-boosting model handles natively.
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

INFO_FIELDS = (
    "DP",
    "MQ",
    "MQ0F",
    "VDB",
    "SGB",
    "RPBZ",
    "MQBZ",
    "BQBZ",
    "SCBZ",
    "NMBZ",
    "MQSBZ",
    "IDV",
    "IMF",
)
BASE_FEATURES: tuple[str, ...] = (
    "qual",
    *(f"info_{f.lower()}" for f in INFO_FIELDS),
    "ad_ref",
    "ad_alt",
    "alt_fraction",
    "adf_alt",
    "adr_alt",
    "alt_strand_balance",
    "sp",
    "pl_het",
    "pl_hom",
    "gq",
    "called_hom",
    "is_indel",
    "length_change",
    "depth_ratio",
    "alt_depth_ratio",
    "homopolymer",
    "repeat_units",
    "gc",
    "near_candidates",
    "nearest_candidate",
    "in_deletion_af",
    "nearest_indel",
)
# realignment evidence (learned_realign.py), freebayes' word on the allele (QUAL, 0 when it has no such
# record; genotype 0 none or 0/0, 1 het, 2 hom) and where a candidate bcftools did not propose came from
REALIGN_FEATURES: tuple[str, ...] = (
    "ra_depth",
    "ra_alt",
    "ra_ref",
    "ra_fraction",
    "ra_gl_het",
    "ra_gl_hom",
    "fb_qual",
    "fb_genotype",
    "fb_only",
    "cigar_only",
)
# the strand-specific error motif of Illumina reads (Nakamura et al. 2011; instruments/systematic_errors.py
# simulates it): the candidate's base follows GGC on the forward strand / precedes GCC (the reverse strand's
# GGC). Without it a model that saw such errors (several ALT reads, one strand) distrusts every low-fraction
# one-strand candidate, true heterozygous SNPs included.
CONTEXT_FEATURES: tuple[str, ...] = ("after_ggc", "before_gcc")
REALIGN_ONLY: tuple[str, ...] = BASE_FEATURES + REALIGN_FEATURES  # session 8's models
FEATURES: tuple[str, ...] = REALIGN_ONLY + CONTEXT_FEATURES
FEATURE_SETS: tuple[tuple[str, ...], ...] = (BASE_FEATURES, REALIGN_ONLY, FEATURES)  # every model's columns
CLASSES = ("none", "0/1", "1/1")  # model output: not a variant, heterozygous, homozygous ALT

Key = tuple[str, int, str, str]


@dataclass(frozen=True)
class Candidate:
    key: Key
    info: dict[str, float]
    ad: tuple[float, float]
    adf_alt: float
    adr_alt: float
    sp: float
    pl: tuple[float, float, float]
    gq: float
    called_hom: bool


def _num(value: object) -> float:
    if value is None:
        return math.nan
    if isinstance(value, tuple | list):
        return _num(value[0]) if value else math.nan
    try:
        return float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return math.nan


def _pair(value: object) -> tuple[float, float]:
    if isinstance(value, tuple | list) and len(value) >= 2:
        return _num(value[0]), _num(value[1])
    return math.nan, math.nan


def candidate_from_record(rec: object) -> Candidate:
    """One pysam VariantRecord (one ALT, one sample) as a Candidate."""
    info = {f: _num(rec.info.get(f)) for f in INFO_FIELDS}  # type: ignore[attr-defined]
    if "INDEL" in rec.info:  # type: ignore[attr-defined]
        info.setdefault("IDV", math.nan)
    sample = rec.samples[0]  # type: ignore[attr-defined]
    fmt = dict(sample.items())
    pl = fmt.get("PL") or ()
    gt = fmt.get("GT") or ()
    return Candidate(
        key=(rec.chrom, rec.pos, rec.ref, rec.alts[0]),  # type: ignore[attr-defined]
        info=info | {"qual": _num(rec.qual)},  # type: ignore[attr-defined]
        ad=_pair(fmt.get("AD")),
        adf_alt=_pair(fmt.get("ADF"))[1],
        adr_alt=_pair(fmt.get("ADR"))[1],
        sp=_num(fmt.get("SP")),
        pl=tuple(_num(pl[i]) if len(pl) > i else math.nan for i in range(3)),  # type: ignore[arg-type]
        gq=_num(fmt.get("GQ")),
        called_hom=bool(gt) and all(a == 1 for a in gt),
    )


def homopolymer(seq: str, i: int) -> int:
    """Length of the run of one base that touches 0-based position i's right side (where indels land)."""
    if not 0 <= i + 1 < len(seq):
        return 0
    base, j = seq[i + 1], i + 1
    while j < len(seq) and seq[j] == base:
        j += 1
    k = i + 1
    while k > 0 and seq[k - 1] == base:
        k -= 1
    return j - k


def repeat_units(seq: str, i: int, unit: str) -> int:
    """How many copies of `unit` follow 0-based position i in the reference (tandem repeat context)."""
    if not unit:
        return 0
    n, j = 0, i + 1
    while seq[j : j + len(unit)] == unit and n < 50:
        n += 1
        j += len(unit)
    return n


def _deletions(candidates: list[Candidate]) -> dict[str, list[tuple[int, int, float]]]:
    """Per contig, sorted (first deleted base, last deleted base, alt fraction) of deletion candidates."""
    out: dict[str, list[tuple[int, int, float]]] = {}
    for c in candidates:
        contig, pos, ref, alt = c.key
        total = c.ad[0] + c.ad[1]
        if len(ref) > len(alt):
            af = c.ad[1] / total if total else 0.0
            out.setdefault(contig, []).append((pos + len(alt), pos + len(ref) - 1, af))
    return {k: sorted(v) for k, v in out.items()}


def _in_deletion(dels: list[tuple[int, int, float]], pos: int) -> float:
    """The largest alt fraction of a deletion candidate that deletes base `pos` (0: none does): a SNP
    or an indel inside a well-supported deletion is most often an alignment artefact of its reads."""
    best = 0.0
    for start, end, af in dels[max(0, bisect.bisect_right(dels, (pos, 1 << 62, 0.0)) - 64) :]:
        if start > pos:
            break
        if end >= pos:
            best = max(best, af)
    return best


def motif_context(keys: list[Key], reference: dict[str, str]) -> np.ndarray:
    """(n, 2): CONTEXT_FEATURES of each candidate (1.0 or 0.0) at its first changed base (a SNP's base, an
    indel's base after the anchor)."""
    out = np.zeros((len(keys), 2))
    for j, (contig, pos, ref, alt) in enumerate(keys):
        seq = reference.get(contig, "")
        i = pos - 1 + (len(ref) != 1 or len(alt) != 1)  # 0-based first changed base
        out[j] = (seq[max(i - 3, 0) : i] == "GGC", seq[i + 1 : i + 4] == "GCC")
    return out


def featurize(candidates: list[Candidate], reference: dict[str, str]) -> np.ndarray:
    """The BASE_FEATURES matrix (rows in `candidates` order, columns in that order), float64; the
    REALIGN_FEATURES columns come from learned_realign.py (learned.candidate_matrix joins them)."""
    dels = _deletions(candidates)
    indels: dict[str, np.ndarray] = {}
    for contig in {c.key[0] for c in candidates}:
        indels[contig] = np.array(
            sorted(c.key[1] for c in candidates if c.key[0] == contig and len(c.key[2]) != len(c.key[3]))
        )
    depths = [c.info["DP"] for c in candidates if not math.isnan(c.info["DP"])]
    median_dp = float(np.median(depths)) if depths else 1.0
    by_contig: dict[str, np.ndarray] = {}
    for contig in {c.key[0] for c in candidates}:
        by_contig[contig] = np.array(sorted(c.key[1] for c in candidates if c.key[0] == contig))
    rows = np.full((len(candidates), len(BASE_FEATURES)), np.nan)
    for r, c in enumerate(candidates):
        contig, pos, ref, alt = c.key
        seq = reference.get(contig, "")
        i = pos - 1
        ad_ref, ad_alt = c.ad
        total = ad_ref + ad_alt
        change = len(alt) - len(ref)
        unit = alt[1:] if change > 0 else ref[1:]
        window = seq[max(0, i - 10) : i + 11]
        near = by_contig[contig]
        lo, hi = np.searchsorted(near, pos - 20), np.searchsorted(near, pos + 21)
        others = np.abs(near[max(0, lo - 1) : hi + 1] - pos)
        others = others[others > 0]
        values = [
            c.info["qual"],
            *(c.info[f] for f in INFO_FIELDS),
            ad_ref,
            ad_alt,
            ad_alt / total if total else math.nan,
            c.adf_alt,
            c.adr_alt,
            c.adf_alt / (c.adf_alt + c.adr_alt) if c.adf_alt + c.adr_alt else math.nan,
            c.sp,
            c.pl[1] - c.pl[0] if not math.isnan(c.pl[0]) else math.nan,
            c.pl[2] - c.pl[0] if not math.isnan(c.pl[0]) else math.nan,
            c.gq,
            float(c.called_hom),
            float(change != 0),
            float(change),
            c.info["DP"] / median_dp if median_dp else math.nan,
            ad_alt / median_dp if median_dp else math.nan,
            float(homopolymer(seq, i)),
            float(repeat_units(seq, i, unit) if change else 0),
            (window.count("G") + window.count("C")) / len(window) if window else math.nan,
            float(hi - lo - 1),
            float(others.min()) if others.size else 1000.0,
            _in_deletion(dels.get(contig, []), pos),
            _nearest(indels[contig], pos),
        ]
        rows[r] = values
    return rows


def _nearest(positions: np.ndarray, pos: int) -> float:
    """Distance to the nearest other indel candidate (1000 when none within that)."""
    if not positions.size:
        return 1000.0
    i = int(np.searchsorted(positions, pos))
    d = [abs(int(positions[j]) - pos) for j in (i - 1, i, i + 1) if 0 <= j < len(positions)]
    d = [x for x in d if x > 0]
    return float(min(min(d), 1000)) if d else 1000.0


def labels(
    candidates: Iterable[Candidate],
    truth: dict[Key, str],
    equivalent: set[Key] | frozenset[Key] = frozenset(),
) -> np.ndarray:
    """Class per candidate: 0 not in the truth, 1 heterozygous, 2 homozygous ALT. A candidate in
    `equivalent` (part of another representation of truth events: haplotype_match.py) keeps the genotype
    bcftools gave it, so the model learns to call what the haplotype-aware evaluation counts as true."""
    out = []
    for c in candidates:
        gt = truth.get(c.key)
        if gt is None and c.key in equivalent:
            gt = "1/1" if c.called_hom else "0/1"
        out.append(0 if gt is None else (2 if gt == "1/1" else 1))
    return np.array(out, dtype=np.int64)


__all__ = [
    "BASE_FEATURES",
    "CLASSES",
    "CONTEXT_FEATURES",
    "FEATURES",
    "FEATURE_SETS",
    "INFO_FIELDS",
    "REALIGN_FEATURES",
    "REALIGN_ONLY",
    "Candidate",
    "candidate_from_record",
    "featurize",
    "homopolymer",
    "labels",
    "motif_context",
    "repeat_units",
]
