"""Haplotype-aware matching of a call set to a truth set: pure science over normalised alleles.

Normalising (left-align, split) makes one variant written two ways match, but not an event written as
different variants: a read-through insertion + deletion that the aligner wrote as a run of SNPs, an
insertion next to a SNP written as a shifted insertion and another SNP. hap.py and RTG vcfeval compare
the haplotype sequences the variants make; this module does the same at its simplest, the same way for
every caller:

1 truth and call variants of one contig are grouped into clusters: a variant joins the cluster when it
  starts within `GAP` bases of the cluster's end;
2 a cluster whose truth and call keys are the same set is left to key matching (nothing to reconcile);
3 otherwise both sides' diploid haplotype pairs are enumerated over the reference segment the cluster
  spans (1/1 on both haplotypes, 0/1 on either, ./1 unknown zygosity: either), phasings in which two
  variants on one haplotype overlap are impossible; the cluster *matches at the allele level* when some
  truth phasing and some call phasing give the same set of non-reference haplotypes, and *at the
  genotype level* when they give the same pair. A matched cluster makes every truth variant and every
  call variant in it a true positive (counted on each side, like vcfeval's TP-baseline and TP-call);
  an unmatched one falls back to key matching. Clusters with more than `MAX_VARIANTS` variants on a side
  (or `MAX_PHASINGS` phasings) fall back to key matching too. An indel is applied without its anchor
  base, so a SNP of that base and an insertion after it can share a haplotype.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable
from dataclasses import dataclass, field

Key = tuple[str, int, str, str]
GAP = 10
MAX_VARIANTS = 16
MAX_PHASINGS = 1 << 14


@dataclass
class Cluster:
    contig: str
    start: int  # 1-based, inclusive
    end: int
    truth: list[Key] = field(default_factory=list)
    calls: list[Key] = field(default_factory=list)


@dataclass(frozen=True)
class ClusterVerdict:
    allele_match: bool
    genotype_match: bool


def clusters(truth: Iterable[Key], calls: Iterable[Key], gap: int = GAP) -> list[Cluster]:
    items = sorted([(k, True) for k in truth] + [(k, False) for k in calls], key=lambda x: (x[0][0], x[0][1]))
    out: list[Cluster] = []
    for key, is_truth in items:
        contig, pos, ref, _ = key
        end = pos + len(ref) - 1
        cur = out[-1] if out else None
        if cur is None or cur.contig != contig or pos > cur.end + gap:
            cur = Cluster(contig, pos, end)
            out.append(cur)
        cur.end = max(cur.end, end)
        (cur.truth if is_truth else cur.calls).append(key)
    return out


def _placements(gt: str) -> list[tuple[int, int]]:
    if gt == "1/1":
        return [(1, 1)]
    if gt.startswith("."):  # ./1: present, zygosity unknown
        return [(1, 1), (1, 0), (0, 1)]
    return [(1, 0), (0, 1)]


def _edit(key: Key) -> tuple[int, str, str]:
    """(1-based start, replaced bases, new bases) without the shared anchor base of an indel, so an
    insertion after a base and a SNP of that base are two edits that do not overlap."""
    _, pos, ref, alt = key
    if len(ref) != len(alt) and ref[:1] == alt[:1]:
        return pos + 1, ref[1:], alt[1:]
    return pos, ref, alt


def _apply(segment: str, start: int, edits: list[tuple[int, str, str]]) -> str | None:
    """The haplotype with `edits` (sorted) applied; None if two overlap or a REF differs."""
    parts, at = [], start
    for pos, ref, alt in edits:
        if pos < at or segment[pos - start : pos - start + len(ref)] != ref:
            return None
        parts += [segment[at - start : pos - start], alt]
        at = pos + len(ref)
    parts.append(segment[at - start :])
    return "".join(parts)


def haplotype_pairs(
    keys: list[Key], genotypes: dict[Key, str], segment: str, start: int
) -> set[tuple[str, str]] | None:
    """Every possible (sorted) pair of haplotype sequences; None when there are too many phasings."""
    keys = sorted(keys, key=lambda k: (_edit(k)[0], len(_edit(k)[1])))
    edits = [_edit(k) for k in keys]
    options = [_placements(genotypes[k]) for k in keys]
    first_het = next((i for i, o in enumerate(options) if o == [(1, 0), (0, 1)]), None)
    if first_het is not None:  # the pair is unordered: one phase of the first het is enough
        options[first_het] = [(1, 0)]
    n = 1
    for o in options:
        n *= len(o)
    if n > MAX_PHASINGS:
        return None
    out: set[tuple[str, str]] = set()
    for combo in itertools.product(*options):
        h1 = _apply(segment, start, [e for e, (a, _) in zip(edits, combo, strict=True) if a])
        h2 = _apply(segment, start, [e for e, (_, b) in zip(edits, combo, strict=True) if b])
        if h1 is not None and h2 is not None:
            out.add((h1, h2) if h1 <= h2 else (h2, h1))
    return out


def compare_cluster(
    c: Cluster, truth: dict[Key, str], calls: dict[Key, str], sequence: str
) -> ClusterVerdict | None:
    """The verdict for a cluster whose key sets differ; None = fall back to key matching."""
    if not c.truth or not c.calls or max(len(c.truth), len(c.calls)) > MAX_VARIANTS:
        return None
    segment = sequence[c.start - 1 : c.end]
    t = haplotype_pairs(c.truth, truth, segment, c.start)
    k = haplotype_pairs(c.calls, calls, segment, c.start)
    if not t or not k:
        return None
    if t & k:
        return ClusterVerdict(True, True)
    alleles_t = {frozenset(p) - {segment} for p in t}
    alleles_k = {frozenset(p) - {segment} for p in k}
    if alleles_t & alleles_k:
        return ClusterVerdict(True, False)
    return None


@dataclass
class Matching:
    """Which truth and call keys are true positives, and which truth TPs have a concordant genotype."""

    tp_truth: set[Key]
    tp_calls: set[Key]
    genotype_ok: set[Key]  # truth keys
    genotype_known: set[Key]  # truth TPs whose truth genotype is known (not ./1)


def match(truth: dict[Key, str], calls: dict[Key, str], sequences: dict[str, str]) -> Matching:
    m = Matching(set(), set(), set(), set())
    for c in clusters(truth, calls):
        verdict = None
        if set(c.truth) != set(c.calls):
            verdict = compare_cluster(c, truth, calls, sequences.get(c.contig, ""))
        if verdict is None:  # key matching
            shared = set(c.truth) & set(c.calls)
            m.tp_truth |= shared
            m.tp_calls |= shared
            m.genotype_ok |= {k for k in shared if truth[k] == calls[k]}
            m.genotype_known |= {k for k in shared if not truth[k].startswith(".")}
            continue
        m.tp_truth |= set(c.truth)
        m.tp_calls |= set(c.calls)
        known = {k for k in c.truth if not truth[k].startswith(".")}
        m.genotype_known |= known
        if verdict.genotype_match:
            m.genotype_ok |= known
    return m


__all__ = [
    "GAP",
    "Cluster",
    "ClusterVerdict",
    "Matching",
    "clusters",
    "compare_cluster",
    "haplotype_pairs",
    "match",
]
