"""The learned caller's haplotype evidence: every candidate's reads realigned to REF and ALT haplotypes.

bcftools' numbers for a candidate come from the aligner's placement of each read; a read the aligner
soft-clipped at a long deletion, or wrote as mismatches at an indel next to a SNP, counts for REF or for
nothing. Here each read that reaches the candidate is aligned whole (soft clips included) to the local
reference and to the local reference with the candidate's allele applied (pair_hmm.read_likelihood), and
the difference d = log10 P(read | ALT) - log10 P(read | REF) becomes evidence: reads for ALT (d > 1), for
REF (d < -1), and the genotype likelihoods of 0/1 and 1/1 against 0/0 (a read's d capped at +-8 so one
odd read cannot decide). These are features, not a rule: the model learns what they mean from the
synthetic truth (learned_features.REALIGN_FEATURES).

Candidates (learned.py) are bcftools' plus freebayes' alleles that bcftools did not propose (SNPs and
indels; freebayes assembles haplotypes over a window, so it proposes long het deletions bcftools' gapped-read
count misses): `extra_candidates`. Their bcftools features are missing (NaN); `fb_qual` and `fb_only` say
where they came from.
"""

from __future__ import annotations

import bisect
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pysam

from labstream.genomics.learned_features import INFO_FIELDS, Candidate
from labstream.genomics.pair_hmm import encode, read_likelihood

Key = tuple[str, int, str, str]
SUPPORT = 1.0  # log10 units: a read supports an allele when it is 10x more likely under it
CAP = 8.0  # one read's log10 ratio is capped at this
MAX_READS = 24  # reads realigned per candidate (evenly spaced when more reach it)
PAD = 10  # haplotype bases beyond a read's ends (plus the allele's length)
FLANK = 40  # read bases realigned on each side of the allele
NEAR = 25  # candidates this close (bases between them) compete for, or share, a read
NEIGHBOURS = 3  # at most this many of them, nearest first
TIE = 0.3  # log10 units: a read two competing alleles explain this nearly equally fits either
# 3: a read two competing alleles explain equally goes to the one more reads' CIGARs write (session 13);
# 2: a "without" haplotype that spells a "with" one is left out (session 9); 1: as models before it were
# trained (VariantModel.realign_version keeps each model's, so a registered model calls as before)
REALIGN_VERSION = 3


def left_aligned_indel(seq: str, contig: str, at: int, deleted: int, inserted: str) -> Key:
    """A gap from a CIGAR (`at`: 0-based reference index of the first base after the gap's anchor; a
    deletion of `deleted` bases or an insertion of `inserted`) as a left-aligned VCF key, as bcftools norm
    writes it."""
    if deleted:
        while at > 1 and seq[at - 1] == seq[at + deleted - 1]:
            at -= 1
        return (contig, at, seq[at - 1 : at + deleted], seq[at - 1])
    while at > 1 and seq[at - 1] == inserted[-1]:
        inserted = inserted[-1] + inserted[:-1]
        at -= 1
    return (contig, at, seq[at - 1], seq[at - 1] + inserted)


@dataclass(frozen=True)
class Read:
    start: int  # 0-based first base of the read on the reference, soft clips included
    end: int  # exclusive
    bases: np.ndarray
    quals: np.ndarray


class ReadBank:
    """Primary, mapped, non-duplicate reads of a BAM per contig, sorted by their unclipped start."""

    def __init__(
        self, reads: dict[str, list[Read]], gaps: dict[tuple[str, int, int, str], int] | None = None
    ) -> None:
        self.reads = reads
        self.gaps = gaps or {}  # (contig, 0-based index after the anchor, deleted, inserted) -> reads
        self.starts = {c: [r.start for r in rs] for c, rs in reads.items()}
        self.longest = max((r.end - r.start for rs in reads.values() for r in rs), default=0)

    @classmethod
    def from_bam(cls, bam: str | Path) -> ReadBank:
        out: dict[str, list[Read]] = {}
        gaps: dict[tuple[str, int, int, str], int] = {}
        with pysam.AlignmentFile(str(bam)) as fh:
            for a in fh.fetch(until_eof=True):
                if a.is_unmapped or a.is_secondary or a.is_supplementary or a.is_duplicate or a.is_qcfail:
                    continue
                seq, cig = a.query_sequence, a.cigartuples
                if not seq or not cig:
                    continue
                _gaps(a.reference_name, a.reference_start, cig, seq, gaps)
                left = cig[0][1] if cig[0][0] == 4 else 0
                right = cig[-1][1] if cig[-1][0] == 4 else 0
                quals = (
                    np.asarray(a.query_qualities, dtype=np.uint8) if a.query_qualities is not None else None
                )
                out.setdefault(a.reference_name, []).append(
                    Read(
                        a.reference_start - left,
                        a.reference_end + right,
                        encode(seq),
                        quals if quals is not None else np.full(len(seq), 30, np.uint8),
                    )
                )
        for rs in out.values():
            rs.sort(key=lambda r: r.start)
        return cls(out, gaps)

    def gap_keys(self, sequences: dict[str, str]) -> dict[Key, int]:
        """Every indel some read's CIGAR writes, left-aligned, with how many reads write it."""
        out: dict[Key, int] = {}
        for (contig, at, deleted, inserted), n in self.gaps.items():
            seq = sequences.get(contig)
            if seq is None or at < 1 or at + deleted > len(seq):
                continue
            key = left_aligned_indel(seq, contig, at, deleted, inserted)
            out[key] = out.get(key, 0) + n
        return out

    def reaching(self, contig: str, lo: int, hi: int) -> list[Read]:
        """Reads whose unclipped span overlaps [lo, hi)."""
        rs = self.reads.get(contig, [])
        i = bisect.bisect_left(self.starts.get(contig, []), lo - self.longest)
        out = []
        for r in rs[i:]:
            if r.start >= hi:
                break
            if r.end > lo:
                out.append(r)
        return out


def _gaps(contig: str, ref_at: int, cigar: list[tuple[int, int]], seq: str, into: dict) -> None:  # type: ignore[type-arg]
    q = 0
    for op, n in cigar:
        if op in (0, 7, 8):
            ref_at, q = ref_at + n, q + n
        elif op == 2:
            into[(contig, ref_at, n, "")] = into.get((contig, ref_at, n, ""), 0) + 1
            ref_at += n
        elif op == 1:
            k = (contig, ref_at, 0, seq[q : q + n])
            into[k] = into.get(k, 0) + 1
            q += n
        elif op == 4:
            q += n
        elif op == 3:
            ref_at += n


def _evidence(d: np.ndarray, depth: int) -> list[float]:
    alt = float((d > SUPPORT).sum())
    ref = float((d < -SUPPORT).sum())
    het = float(np.sum(np.log10(0.5 * (10.0**d) + 0.5))) if d.size else 0.0
    return [float(depth), alt, ref, alt / (alt + ref) if alt + ref else math.nan, het, float(d.sum()) - het]


def _haplotype(seq: np.ndarray, a: int, b: int, alleles: list[tuple[int, int, np.ndarray]]) -> np.ndarray:
    """Reference [a, b) with the (lo, hi, ALT codes) alleles applied; sorted, not overlapping, inside."""
    parts, at = [], a
    for lo, hi, codes in alleles:
        parts += [seq[at:lo], codes]
        at = hi
    parts.append(seq[at:b])
    return np.concatenate(parts)


def _neighbours(keys: list[Key], r: int, by_contig: dict[str, list[tuple[int, int]]]) -> list[int]:
    """Up to NEIGHBOURS other candidates within NEAR bases of candidate r, nearest first."""
    contig, pos, ref, _alt = keys[r]
    lo, hi = pos - 1, pos - 1 + len(ref)
    near = by_contig[contig]
    i = bisect.bisect_left(near, (lo - NEAR - 64, -1))
    out = []
    for p, j in near[i:]:
        if p > hi + NEAR:
            break
        jlo, jhi = p, p + len(keys[j][2])
        gap = max(jlo - hi, lo - jhi, 0)
        if j != r and gap <= NEAR:
            out.append((gap, j))
    return [j for _g, j in sorted(out)[:NEIGHBOURS]]


def realign_features(
    keys: list[Key],
    reference: dict[str, np.ndarray],
    bank: ReadBank,
    version: int = REALIGN_VERSION,
    cigar_reads: dict[Key, int] | None = None,
) -> np.ndarray:
    """(n, 6): reads reaching the allele, reads for it, against it, their fraction, log10 GL(0/1)-GL(0/0),
    log10 GL(1/1)-GL(0/1); `reference`: contig -> encoded sequence (pair_hmm.encode).
    A read's evidence for candidate k is its best likelihood over the haplotypes carrying k (k alone, k with
    one nearby candidate j) minus its best over those without k (REF, j alone): so a read from another
    allele of the same locus (an 8-base deletion where a 3-base one is proposed too) does not count for k,
    and a read carrying k with a close variant in cis (two SNPs 2 bases apart) still counts. A haplotype
    without k that spells one with k (j = k plus a neighbour, as a freebayes complex allele writes them) is
    left out of the "without" group. Version 3: two overlapping alleles in a tandem repeat (TA>T and
    TAAGCCTA>T one repeat unit apart) can explain a read equally, and then each one's "without" group (the
    other alone) cancels it, so neither gets the read; such a tie (within TIE, both SUPPORT above REF) goes
    to the allele more reads' CIGARs write (`cigar_reads`: ReadBank.gap_keys) and is no evidence against it.
    Equal CIGAR counts leave the tie as version 2 had it."""
    cigar_reads = cigar_reads or {}
    rows = np.full((len(keys), 6), np.nan)
    by_contig: dict[str, list[tuple[int, int]]] = {}
    for j, (c, p, _r, _a) in enumerate(keys):
        by_contig.setdefault(c, []).append((p - 1, j))
    for v in by_contig.values():
        v.sort()
    span = [(p - 1, p - 1 + len(ref), encode(alt)) for _c, p, ref, alt in keys]
    for r, (contig, pos, ref, alt) in enumerate(keys):
        seq = reference.get(contig)
        if seq is None:
            continue
        lo, hi = pos - 1, pos - 1 + len(ref)
        reads = bank.reaching(contig, lo, hi + 1)
        used = (
            reads
            if len(reads) <= MAX_READS
            else [reads[i] for i in np.linspace(0, len(reads) - 1, MAX_READS).astype(int)]
        )
        others = _neighbours(keys, r, by_contig)
        far = max([abs(span[j][0] - lo) + len(keys[j][2]) + len(keys[j][3]) for j in others], default=0)
        pad = PAD + max(len(ref), len(alt)) + far
        # the alleles of the haplotypes with and without k (the same for every read)
        with_k, without_k, weaker = [[span[r]]], [[]], [False]
        for j in others:
            without_k.append([span[j]])
            if span[j][1] <= lo or span[j][0] >= hi:  # not overlapping k: both on one haplotype
                with_k.append(sorted([span[r], span[j]], key=lambda x: x[0]))
                weaker.append(False)
            else:  # another allele of the same bases; weaker: fewer reads' CIGARs write it (version 3)
                weaker.append(version >= 3 and cigar_reads.get(keys[r], 0) > cigar_reads.get(keys[j], 0))
        d = np.empty(len(used))
        for k, rd in enumerate(used):
            # the read's bases within FLANK of the allele (by its unclipped placement), like GATK's reads
            # clipped to the active region: the rest of the read is the same under every haplotype
            k0 = max(0, lo - FLANK - rd.start)
            k1 = min(len(rd.bases), hi + FLANK - rd.start)
            a, b = max(0, rd.start + k0 - pad), min(len(seq), rd.start + k1 + pad)
            a, b = min(a, lo, *(span[j][0] for j in others)), max(b, hi, *(span[j][1] for j in others))
            bases, quals = rd.bases[k0:k1], rd.quals[k0:k1]
            haps_with = [_haplotype(seq, a, b, h) for h in with_k]
            # a "without" haplotype that spells a "with" one (a freebayes complex allele containing k, or k
            # written with other anchor bases) is k: left in, it takes every read of k (d = 0)
            without = [
                (x, y) for x, y in zip((_haplotype(seq, a, b, h) for h in without_k), weaker, strict=True)
                if version < 2 or not any(np.array_equal(x, w) for w in haps_with)
            ]  # fmt: skip
            best = max(read_likelihood(bases, quals, x) for x in haps_with)
            lks = [read_likelihood(bases, quals, x) for x, _y in without]
            d[k] = best - max(lks, default=best)
            # version 3: a read k explains (over REF: lks[0]) as well as a weaker competitor does is k's
            if any(y for _x, y in without) and best - lks[0] > SUPPORT:
                d[k] = best - max(
                    lk for lk, (_x, y) in zip(lks, without, strict=True) if not (y and lk - best <= TIE)
                )
        rows[r] = _evidence(np.clip(d, -CAP, CAP), len(reads))
    return rows


def _bare(key: Key, hom: bool) -> Candidate:
    """A candidate without bcftools evidence (its features are NaN)."""
    nan = math.nan
    return Candidate(key, dict.fromkeys(INFO_FIELDS, nan) | {"qual": nan}, (nan, nan), nan, nan, nan,
                     (nan, nan, nan), nan, hom)  # fmt: skip


def extra_candidates(
    proposed: set[Key], haplotype_calls: list[tuple[Key, str]], gaps: dict[Key, int]
) -> tuple[list[Candidate], list[Candidate]]:
    """(freebayes' SNP and indel alleles bcftools did not propose, then indels some read's CIGAR writes
    that neither proposed): candidates without bcftools evidence. `haplotype_calls`: (key, genotype)."""
    fb, seen = [], set(proposed)
    for key, gt in haplotype_calls:
        if key in seen or (len(key[2]) == len(key[3]) and len(key[2]) > 1):
            continue
        seen.add(key)
        fb.append(_bare(key, gt == "1/1"))
    cigar = [_bare(k, False) for k in sorted(gaps) if k not in seen]
    return fb, cigar


__all__ = [
    "MAX_READS",
    "REALIGN_VERSION",
    "Read",
    "ReadBank",
    "extra_candidates",
    "left_aligned_indel",
    "realign_features",
]
