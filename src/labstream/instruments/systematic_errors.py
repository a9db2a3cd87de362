"""Systematic, strand-specific sequencing errors for simulated reads: what independent errors never make.

Illumina errors are not all independent draws: after a GGC motif a base is misread on one strand far more
often than on the other (Nakamura et al. 2011, Nucleic Acids Res 39:e90), so several reads, all from one
strand and with lower base qualities, show the same wrong base. A model trained only on independent errors
takes such a site for a heterozygous SNP (seen on real NA12878 reads: 8 ALT reads of 34, all reverse
strand, after a G run). `motif_sites` marks a random subset of the bases that follow GGC in read direction
(forward strand: after GGC; reverse strand: before GCC) with a per-site error rate and a fixed wrong base;
`strand_errors` applies them to a batch of reads of one strand. Pure numpy; the simulator calls it only
when `SimConfig.systematic_rate` > 0, so default simulations draw the same random numbers as before.
"""

from __future__ import annotations

import re

import numpy as np

BASES = np.frombuffer(b"ACGT", dtype=np.uint8)
MOTIFS = ((b"GGC", 3), (b"GCC", -1))  # (motif, offset of the error-prone base): forward, reverse strand


def motif_sites(
    genome: np.ndarray, rng: np.random.Generator, max_rate: float, keep: float = 0.25
) -> list[tuple[np.ndarray, np.ndarray]]:
    """Per strand (forward, reverse): per-position error rate (0 = not prone) and wrong-base shift (1-3)."""
    seq = genome.tobytes()
    out = []
    for motif, offset in MOTIFS:
        rates, shifts = np.zeros(len(seq)), np.zeros(len(seq), dtype=np.int64)
        pos = np.array([m.start() + offset for m in re.finditer(b"(?=" + motif + b")", seq)], dtype=np.int64)
        pos = pos[(pos >= 0) & (pos < len(seq))]
        pos = pos[rng.random(len(pos)) < keep]
        rates[pos] = rng.uniform(0.05, max_rate, len(pos))
        shifts[pos] = rng.integers(1, 4, len(pos))
        out.append((rates, shifts))
    return out


def strand_errors(
    seqs: np.ndarray,
    quals: np.ndarray,
    site: tuple[np.ndarray, np.ndarray],
    where: np.ndarray,
    rng: np.random.Generator,
) -> tuple[np.ndarray, np.ndarray]:
    """Reads (n, length) of one strand whose base j lies at genome position where[:, j]: at prone sites,
    with the site's rate, the base becomes the site's wrong base and its quality drops to 8-21."""
    rates, shifts = site
    hit = rng.random(where.shape) < rates[where]
    if hit.any():
        codes = np.searchsorted(BASES, seqs[hit]) % 4
        seqs[hit] = BASES[(codes + shifts[where][hit]) % 4]
        quals[hit] = rng.integers(8, 22, int(hit.sum()))
    return seqs, quals


__all__ = ["MOTIFS", "motif_sites", "strand_errors"]
