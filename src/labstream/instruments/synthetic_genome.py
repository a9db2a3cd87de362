"""Synthetic genomes to train the learned caller on: random sequence with hard-to-call contexts.

Training on one real genome (lambda phage) shows the model few homopolymers, short tandem repeats or
repeated segments; training on the other real references here would leak the evaluation genomes. A
synthetic genome is built block by block from a seeded generator:

- background sequence whose GC content drifts between isochore-like regions (25-70 %);
- homopolymer runs (4-16 bases, geometric lengths);
- short tandem repeats (unit 2-6 bases, 3-15 copies, sometimes one impure copy);
- low-complexity stretches (a two-letter alphabet, 30-200 bases);
- segmental duplications: an earlier 150-1,200 base segment copied again with 0.5-4 % divergence, now and
  then reverse-complemented, so some reads map ambiguously (low MAPQ) as in real genomes.

The same seed gives the same genome. The sequence is pure (a str); `write_synthetic_fasta` writes it.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

_COMP = str.maketrans("ACGT", "TGCA")


def _background(rng: np.random.Generator, n: int, gc: float) -> str:
    p = np.array([(1 - gc) / 2, gc / 2, gc / 2, (1 - gc) / 2])
    return "".join(np.array(list("ACGT"))[rng.choice(4, size=n, p=p)].tolist())


def _tandem(rng: np.random.Generator, gc: float) -> str:
    unit = _background(rng, int(rng.integers(2, 7)), gc)
    copies = [unit] * int(rng.integers(3, 16))
    if rng.random() < 0.3:  # one impure copy
        i, j = int(rng.integers(len(copies))), int(rng.integers(len(unit)))
        copies[i] = unit[:j] + "ACGT"[(("ACGT".index(unit[j])) + 1) % 4] + unit[j + 1 :]
    return "".join(copies)


def _diverged(rng: np.random.Generator, segment: str, rate: float) -> str:
    s = list(segment)
    for i in np.flatnonzero(rng.random(len(s)) < rate).tolist():
        s[i] = "ACGT"[("ACGT".index(s[i]) + int(rng.integers(1, 4))) % 4]
    out = "".join(s)
    return out.translate(_COMP)[::-1] if rng.random() < 0.3 else out


def synthetic_genome(length: int, seed: int) -> str:
    """A `length`-base genome (upper-case ACGT) with the contexts listed in the module docstring."""
    rng = np.random.default_rng(seed)
    parts: list[str] = []
    n, gc, region_end = 0, 0.45, 0
    while n < length:
        if n >= region_end:  # a new isochore-like region
            gc, region_end = float(rng.uniform(0.25, 0.7)), n + int(rng.integers(1500, 6000))
        r = rng.random()
        if r < 0.62:
            block = _background(rng, int(rng.integers(80, 500)), gc)
        elif r < 0.77:
            block = "ACGT"[int(rng.integers(4))] * int(min(16, 3 + rng.geometric(0.25)))
        elif r < 0.91:
            block = _tandem(rng, gc)
        elif r < 0.96:
            a, b = rng.choice(list("ACGT"), size=2, replace=False).tolist()
            block = "".join(rng.choice([a, b], size=int(rng.integers(30, 200))).tolist())
        else:
            done = "".join(parts)
            size = int(rng.integers(150, 1200))
            if len(done) < size + 500:
                continue
            start = int(rng.integers(0, len(done) - size))
            block = _diverged(rng, done[start : start + size], float(rng.uniform(0.005, 0.04)))
        parts.append(block)
        n += len(block)
    return "".join(parts)[:length]


def write_synthetic_fasta(path: str | Path, length: int, seed: int, *, name: str | None = None) -> Path:
    """`path` holding one contig `syn<seed>` (or `name`) of `synthetic_genome(length, seed)`."""
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    seq = synthetic_genome(length, seed)
    lines = [f">{name or f'syn{seed}'}"] + [seq[i : i + 80] for i in range(0, len(seq), 80)]
    out.write_text("\n".join(lines) + "\n")
    return out


__all__ = ["synthetic_genome", "write_synthetic_fasta"]
