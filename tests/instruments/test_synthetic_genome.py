"""Synthetic training genomes: deterministic, and they hold the hard contexts they promise."""

from __future__ import annotations

import re
from pathlib import Path

from labstream.genomics.reference import open_reference
from labstream.instruments.synthetic_genome import synthetic_genome, write_synthetic_fasta

_COMP = str.maketrans("ACGT", "TGCA")


def test_deterministic_and_seed_dependent() -> None:
    a = synthetic_genome(20_000, 7)
    assert a == synthetic_genome(20_000, 7) and a != synthetic_genome(20_000, 8)
    assert len(a) == 20_000 and set(a) == set("ACGT")


def test_contexts_are_present() -> None:
    g = synthetic_genome(200_000, 3)
    assert len(re.findall(r"A{8,}|C{8,}|G{8,}|T{8,}", g)) >= 20  # long homopolymers
    # tandem repeats: a 2-6 base unit (not one base repeated) in >= 6 consecutive copies
    strs = [m.group(0) for m in re.finditer(r"([ACGT]{2,6})\1{5,}", g) if len(set(m.group(1))) > 1]
    assert len(strs) >= 20
    gc = [(w.count("G") + w.count("C")) / len(w) for w in (g[i : i + 2000] for i in range(0, len(g), 2000))]
    assert max(gc) - min(gc) > 0.25  # GC drifts between regions
    # segmental duplications: an exact 100-mer seen twice (forward or reverse-complement); no other
    # block (tandem repeats <= 90 bases, two-letter stretches of random order) repeats that long
    seen: set[str] = set()
    repeated = 0
    for i in range(0, len(g) - 100, 5):
        k = g[i : i + 100]
        if len(set(k)) < 3:
            continue
        repeated += k in seen or k.translate(_COMP)[::-1] in seen
        seen.add(k)
    assert repeated >= 5


def test_fasta_is_a_reference(tmp_path: Path) -> None:
    ref = open_reference(write_synthetic_fasta(tmp_path / "syn.fa", 5_000, 11))
    assert ref.contigs == {"syn11": 5_000}
