"""The truth set both sequencer simulators plant: which variants, where, and on which haplotype.

`PlantSpec` holds the planting settings; the short-read (`SimConfig`) and long-read (`NanoporeConfig`)
configurations extend it, so `plant_variants(reference, cfg, rng)` takes either. Variants stay
`end_margin()` bases away from each contig end: a short read's length plus the longest indel.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

SHORT_READ = 150  # the read length the default end margin keeps free (SimConfig's default read_length)


@dataclass(frozen=True)
class PlantedVariant:
    """A truth variant in VCF terms: 1-based `pos`, anchor base included for indels."""

    contig: str
    pos: int
    ref: str
    alt: str
    genotype: str  # "0/1" or "1/1"
    haplotype: int | None = None  # the haplotype (0 or 1) carrying a het; None: drawn at random

    @property
    def kind(self) -> str:
        return "SNP" if len(self.ref) == len(self.alt) == 1 else "INDEL"


@dataclass(frozen=True, kw_only=True)
class PlantSpec:
    """How many SNPs and indels to plant, the share of them heterozygous, and how far apart."""

    snps: int = 60
    indels: int = 20
    het_fraction: float = 0.6
    max_indel: int = 8
    spacing: int = 40  # minimum distance between planted variants (keeps truth unambiguous)
    # share of sites planted with two different ALTs, one per haplotype (genotype 1/2: a tri-allelic SNP,
    # two indels); 0 draws nothing more from the generator, so other settings plant what they always did
    multiallelic: float = 0.0

    def end_margin(self) -> int:
        """Bases kept free of variants at each contig end (158 with the defaults)."""
        return SHORT_READ + self.max_indel


def plant_variants(
    reference: dict[str, str], cfg: PlantSpec, rng: np.random.Generator
) -> list[PlantedVariant]:
    """Choose well-spaced positions away from contig ends and make SNPs and indels there."""
    out: list[PlantedVariant] = []
    total = cfg.snps + cfg.indels
    lengths = np.array([len(s) for s in reference.values()], dtype=float)
    names = list(reference)
    per_contig = rng.multinomial(total, lengths / lengths.sum())
    kinds = np.array(["SNP"] * cfg.snps + ["INDEL"] * cfg.indels)
    rng.shuffle(kinds)
    k = 0
    for name, n in zip(names, per_contig, strict=True):
        seq = reference[name]
        margin = cfg.end_margin()
        lo, hi = margin, len(seq) - margin
        if n == 0 or hi - lo < n * cfg.spacing:
            continue
        # well-spaced positions: sorted sample of slots, then jitter inside each slot
        slots = np.sort(rng.choice((hi - lo) // cfg.spacing, size=n, replace=False))
        positions = lo + slots * cfg.spacing + rng.integers(0, cfg.spacing // 2, size=n)
        for p0 in positions.tolist():
            ref_base = seq[p0]
            if ref_base not in "ACGT":
                k += 1
                continue
            gt = "0/1" if rng.random() < cfg.het_fraction else "1/1"
            if cfg.multiallelic > 0 and rng.random() < cfg.multiallelic:
                out += _two_alleles(name, seq, p0, str(kinds[k]), cfg.max_indel, rng)
            elif kinds[k] == "SNP":
                alt = str(rng.choice([b for b in "ACGT" if b != ref_base]))
                out.append(PlantedVariant(name, p0 + 1, ref_base, alt, gt))
            else:
                size = int(rng.integers(1, cfg.max_indel + 1))
                if rng.random() < 0.5:  # insertion
                    ins = "".join(rng.choice(list("ACGT"), size=size).tolist())
                    out.append(PlantedVariant(name, p0 + 1, ref_base, ref_base + ins, gt))
                else:
                    out.append(PlantedVariant(name, p0 + 1, seq[p0 : p0 + 1 + size], ref_base, gt))
            k += 1
    return out


def _two_alleles(
    contig: str, seq: str, p0: int, kind: str, max_indel: int, rng: np.random.Generator
) -> list[PlantedVariant]:
    """A 1/2 site at 0-based p0: two different SNP ALTs, or two indels (two deletion lengths, or an
    insertion and a deletion: what a tandem repeat's two alleles look like), one on each haplotype."""
    base = seq[p0]
    if kind == "SNP":
        a, b = rng.choice([x for x in "ACGT" if x != base], size=2, replace=False).tolist()
        return [
            PlantedVariant(contig, p0 + 1, base, a, "0/1", 0),
            PlantedVariant(contig, p0 + 1, base, b, "0/1", 1),
        ]
    short, long = sorted(rng.choice(np.arange(1, max_indel + 1), size=2, replace=False).tolist())
    first = PlantedVariant(contig, p0 + 1, seq[p0 : p0 + 1 + long], base, "0/1", 0)
    if rng.random() < 0.5:
        second = PlantedVariant(contig, p0 + 1, seq[p0 : p0 + 1 + short], base, "0/1", 1)
    else:
        ins = "".join(rng.choice(list("ACGT"), size=short).tolist())
        second = PlantedVariant(contig, p0 + 1, base, base + ins, "0/1", 1)
    return [first, second]


def haplotypes(
    reference: dict[str, str], variants: list[PlantedVariant], rng: np.random.Generator
) -> list[dict[str, str]]:
    """Two haplotypes: hom variants on both, het ones on a randomly chosen one."""
    haps = [dict(reference), dict(reference)]
    for v in sorted(variants, key=lambda v: (v.contig, v.pos), reverse=True):
        if v.genotype == "1/1":
            carriers: tuple[int, ...] = (0, 1)
        else:
            carriers = (v.haplotype,) if v.haplotype is not None else (int(rng.integers(0, 2)),)
        for h in carriers:
            s = haps[h][v.contig]
            i = v.pos - 1
            haps[h][v.contig] = s[:i] + v.alt + s[i + len(v.ref) :]
    return haps


__all__ = ["PlantSpec", "PlantedVariant", "haplotypes", "plant_variants"]
