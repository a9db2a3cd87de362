"""One-base insertion and deletion errors in simulated short reads.

Illumina reads carry indel errors at about 1e-5 to 1e-4 per base (ART's HiSeq 2500 profile: ~1e-4; Mason's
defaults: 5e-5 insertions + 5e-5 deletions per base). labstream's sequencer drew only substitutions, so a
model trained on it saw an indel written by one read's CIGAR only where a real (low-depth) het put it, and
learned to call such single-read indels. With `rate` > 0, each read gets at most one indel error with
probability `rate` x read length, at a uniform position: a deletion drops the base (the read then ends one
base further on the genome), an insertion adds a random base (and drops the last). Reads keep their length.
"""

from __future__ import annotations

import numpy as np

BASES = np.frombuffer(b"ACGT", dtype=np.uint8)


def add_indel_errors(
    reads: np.ndarray, following: np.ndarray, rate: float, rng: np.random.Generator
) -> np.ndarray:
    """`reads` (n, length) ASCII bases in read orientation; `following` (n,) the genome base after each read's
    end in that orientation (what a deletion pulls in). Returns a copy with the errors."""
    n, length = reads.shape
    hit = np.flatnonzero(rng.random(n) < min(1.0, rate * length))
    out = reads.copy()
    if hit.size == 0:
        return out
    where = rng.integers(0, length, size=hit.size)
    insertion = rng.random(hit.size) < 0.5
    base = BASES[rng.integers(0, 4, size=hit.size)]
    for r, i, ins, b in zip(hit.tolist(), where.tolist(), insertion.tolist(), base.tolist(), strict=True):
        row = out[r]
        if ins:
            row[i + 1 :] = reads[r, i:-1]
            row[i] = b
        else:
            row[i:-1] = reads[r, i + 1 :]
            row[-1] = following[r]
    return out


__all__ = ["add_indel_errors"]
