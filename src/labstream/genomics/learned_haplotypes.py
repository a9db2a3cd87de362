"""Clustered events re-represented by a haplotype-based caller before the learned calls are final.

The learned caller decides over bcftools' candidates, and bcftools proposes alleles one site at a time from
the aligner's gaps: two events a few bases apart (a hom insertion and a het insertion four bases on, an
insertion + deletion that minimap2 writes as a run of mismatches, a SNP on the base before an insertion)
come out as alleles that no genotype of them explains, and the model can only keep or drop them. freebayes
calls haplotypes over a window (its alleles are whole local haplotypes), which is what DeepVariant's
realigner and GATK's local assembly do before calling. So, after the model, the calls are compared with
freebayes' calls of the same BAM in clusters of variants within `GAP` bases (haplotype_match.clusters):
a cluster where the two sets differ, where freebayes' side has an indel or a complex allele, and where
every freebayes record in it has QUAL >= `min_qual`, takes freebayes' representation (its records, marked
INFO/HAPREP); every other cluster keeps the model's calls. SNP-only clusters stay the model's. `min_qual`
is chosen on the validation genomes (bench/genomics_learned.py), not on evaluation sets; the caller's
default is off (DEFAULT_MIN_QUAL), validation's pick since session 11.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pysam

from labstream.genomics.haplotype_match import clusters

Key = tuple[str, int, str, str]
GAP = 10
MIN_QUAL = 20.0  # the threshold when it is on (session 8's validation pick; 5 and 10 one event behind)
# The learned caller's default is off: validation (bench/genomics_learned.py) picked "off" over 5/10/20 in
# session 11's runs on seeds 8000 and 9000, and on eight C. elegans 30x exploration samples (session 12: ART,
# wgsim, the sequencer, Mason) re-representation at 20 made 4 indel and 2 SNP errors and fixed none
DEFAULT_MIN_QUAL: float | None = None


@dataclass(frozen=True)
class HapCall:
    key: Key
    genotype: str  # "0/1" or "1/1" ("0/0": seen, not called; read_haplotype_calls(uncalled=True))
    qual: float


def read_haplotype_calls(vcf: str | Path, *, uncalled: bool = False) -> list[HapCall]:
    """Records of a normalised (split) freebayes VCF that carry their ALT (`uncalled`: also those whose
    genotype lacks it, as genotype "0/0": alleles freebayes saw but did not call)."""
    out = []
    with pysam.VariantFile(str(vcf)) as fh:
        for rec in fh:
            gt = rec.samples[0]["GT"] if rec.samples else (1, 1)
            if not rec.alts:
                continue
            called = bool(gt) and 1 in gt
            if not (called or uncalled):
                continue
            genotype = ("1/1" if all(a == 1 for a in gt) else "0/1") if called else "0/0"
            out.append(HapCall((rec.chrom, rec.pos, rec.ref, rec.alts[0]), genotype, rec.qual or 0))
    return out


def _complex(key: Key) -> bool:
    return len(key[2]) != len(key[3]) or len(key[2]) > 1


def arbitrate(
    called: set[Key], haplotype: list[HapCall], *, min_qual: float = MIN_QUAL, gap: int = GAP
) -> tuple[set[Key], list[HapCall]]:
    """(model calls to drop, freebayes calls to add) under the rule in the module docstring."""
    by_key = {h.key: h for h in haplotype if h.genotype != "0/0"}
    drop: set[Key] = set()
    add: list[HapCall] = []
    for c in clusters(called, by_key, gap):
        theirs = [by_key[k] for k in c.calls]
        if set(c.truth) == set(c.calls) or not theirs:
            continue
        if any(_complex(h.key) for h in theirs) and min(h.qual for h in theirs) >= min_qual:
            drop |= set(c.truth)  # shared keys too: they come back with freebayes' genotype
            add += theirs
    return drop, add


__all__ = ["DEFAULT_MIN_QUAL", "GAP", "MIN_QUAL", "HapCall", "arbitrate", "read_haplotype_calls"]
