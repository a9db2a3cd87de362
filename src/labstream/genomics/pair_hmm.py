"""Read-versus-haplotype likelihoods: a Viterbi pair-HMM (pure science, compiled with numba).

A read is aligned whole (every base, soft-clipped ones included) to any part of a haplotype; matches and
mismatches are weighted by the read's base qualities (P(error) = 10^(-Q/10), an error is one of the
three other bases), gaps by an affine open/extend cost. The score is log10 P(read | haplotype) along the
best path: what GATK's HaplotypeCaller and DeepVariant's realigner compute (forward sum there, the best
path here: the two differ by far less than the haplotypes do). Bases are codes 0-3 (ACGT), 4 = N (every
base matches N at P = 1/4).
"""

from __future__ import annotations

import numpy as np
from numba import njit

GAP_OPEN = -4.0  # log10 P(open a gap): sequencers write ~1e-4 indel errors per base
GAP_EXTEND = -1.0  # log10 P(extend it)
CODES = np.full(256, 4, dtype=np.uint8)
for _i, _b in enumerate("ACGT"):
    CODES[ord(_b)] = CODES[ord(_b.lower())] = _i


def encode(seq: str) -> np.ndarray:
    """A DNA string as codes 0-4."""
    return CODES[np.frombuffer(seq.encode("ascii"), dtype=np.uint8)]


@njit(cache=True, nogil=True)
def read_likelihood(read: np.ndarray, quals: np.ndarray, hap: np.ndarray) -> float:  # pragma: no cover
    """log10 P(read | hap) of the best semi-global path (read global, haplotype local)."""
    n, m = read.shape[0], hap.shape[0]
    neg = -1e30
    prev_m = np.zeros(m + 1)  # row 0: the read may start anywhere on the haplotype
    prev_i = np.full(m + 1, neg)
    prev_d = np.full(m + 1, neg)
    cur_m = np.empty(m + 1)
    cur_i = np.empty(m + 1)
    cur_d = np.empty(m + 1)
    for i in range(1, n + 1):
        q = float(quals[i - 1])
        e = 10.0 ** (-q / 10.0) if q > 0 else 0.75
        good = np.log10(max(1.0 - e, 1e-10))
        bad = np.log10(max(e / 3.0, 1e-10))
        b = read[i - 1]
        cur_m[0] = neg
        cur_i[0] = max(prev_m[0] + GAP_OPEN, prev_i[0] + GAP_EXTEND)
        cur_d[0] = neg
        for j in range(1, m + 1):
            h = hap[j - 1]
            emit = -0.60206 if (b == 4 or h == 4) else (good if b == h else bad)
            cur_m[j] = emit + max(prev_m[j - 1], max(prev_i[j - 1], prev_d[j - 1]))
            cur_i[j] = max(prev_m[j] + GAP_OPEN, prev_i[j] + GAP_EXTEND)
            cur_d[j] = max(cur_m[j - 1] + GAP_OPEN, cur_d[j - 1] + GAP_EXTEND)
        prev_m, cur_m = cur_m, prev_m
        prev_i, cur_i = cur_i, prev_i
        prev_d, cur_d = cur_d, prev_d
    best = neg
    for j in range(m + 1):
        best = max(best, max(prev_m[j], prev_i[j]))
    return best


__all__ = ["CODES", "GAP_EXTEND", "GAP_OPEN", "encode", "read_likelihood"]
