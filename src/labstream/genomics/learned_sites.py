"""Two ALT alleles at one site: the diploid genotype 1/2 the per-allele model cannot express.

The model scores each candidate allele alone (none, 0/1, 1/1), from features of that ALT against the
reference. At a site where the sample carries two different ALTs (tri-allelic SNPs, two indel lengths in a
repeat), each allele on its own looks homozygous — no reads show the reference — so the model says 1/1 for
one or both, a genotype no diploid sample can have twice. DeepVariant meets the same problem by scoring
allele subsets; bcftools (`call -m`) by genotyping all alleles of a site together. Here, per position:

- when the model calls two or more ALTs of one kind (two SNPs, or two indels), the two it is surest of
  (lowest P(no variant)) are the genotype 1/2 and any further one is dropped (a diploid has two alleles);
- when it calls one ALT and bcftools' multi-allelic genotype put that ALT and another of the same kind and
  position together (its 1/2, split by `norm -m-any` into 1/0 and 0/1), the pair is the genotype 1/2:
  bcftools saw the second allele's reads beside the first's and no reference reads.

A SNP and an indel at one position are left as the model calls them (a homozygous SNP with a heterozygous
insertion after it is a valid diploid genotype; bcftools calls the two kinds in separate records too).
A 1/2 is written as the pipeline writes every multi-allelic call (call.py: `bcftools norm -m-any`): one
record per ALT, each with the ALT on one haplotype (GT 0/1, unphased).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence

import numpy as np

Key = tuple[str, int, str, str]
Genotype = tuple[int, int]


def site_genotypes(
    keys: Sequence[Key], proba: np.ndarray, proposed: Sequence[Genotype | None]
) -> list[Genotype | None]:
    """Per candidate, the genotype to write (None: not called): the model's argmax class (0/1, 1/1), then
    the two-allele rule of the module docstring. `proposed`: bcftools' genotype of each candidate as
    split (None for candidates bcftools did not propose)."""
    cls = np.argmax(proba, axis=1) if len(keys) else np.zeros(0, dtype=int)
    out: list[Genotype | None] = [None if c == 0 else ((0, 1) if c == 1 else (1, 1)) for c in cls]
    by_site: dict[tuple[str, int, bool], list[int]] = defaultdict(list)
    for i, k in enumerate(keys):
        by_site[(k[0], k[1], len(k[2]) == len(k[3]) == 1)].append(i)
    for members in by_site.values():
        if len(members) < 2:
            continue
        called = [i for i in members if out[i] is not None]
        if len(called) == 1:
            partner = [i for i in members if i != called[0] and _split_pair(proposed[i], proposed[called[0]])]
            if partner:
                called.append(min(partner, key=lambda i: proba[i][0]))
        if len(called) < 2:
            continue
        called.sort(key=lambda i: (proba[i][0], i))
        for i in called[2:]:
            out[i] = None
        for i in called[:2]:
            out[i] = (0, 1)
    return out


def _split_pair(a: Genotype | None, b: Genotype | None) -> bool:
    """Two split records of one bcftools 1/2: each carries its ALT on one haplotype only (1/0, 0/1)."""
    return all(g is not None and len(g) == 2 and set(g) == {0, 1} for g in (a, b))


__all__ = ["site_genotypes"]
