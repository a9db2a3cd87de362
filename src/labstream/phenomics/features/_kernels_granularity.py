"""Compiled helpers of the integer granularity path (`texture.granularity_features` on 8/16-bit sites).

Flat grey erosions and dilations only pick values, so they commute with any order-preserving map:
the openings run on each channel's *ranks* (the position of a value among the distinct values the
channel holds) in uint16, where OpenCV's filters are ~3x faster than in float32, and the values come
back through a per-channel table. The top-hat of 2x2 half-resolution means of integer pixels holds
multiples of 1/4 (exact in float32), coded as 4x the value where that fits in uint16 and as ranks
otherwise, so every opening and every per-cell sum equal the float32 route's bit for bit. A channel
with more than 65536 distinct values gets no codes (the caller falls back to float32).
"""

from __future__ import annotations

import numpy as np

from labstream.phenomics._jit import njit

MAX_RANKS = 65536


@njit
def half_means_hwc(pixels: np.ndarray) -> np.ndarray:
    """(C, H, W) integer pixels with even H, W -> (H/2, W/2, C) float32 means of 2x2 blocks in one
    pass: the block sums of 8/16-bit values are exact in float32 and so is the quarter, so these are
    the numbers of OpenCV's area resize (or any order of adding)."""
    c, h, w = pixels.shape
    out = np.empty((h // 2, w // 2, c), np.float32)
    row = np.empty(w // 2, np.float32)
    q = np.float32(0.25)
    for i in range(h // 2):
        for k in range(c):  # a row of one plane at a time (vectorises), then spread channels-last
            r0, r1 = pixels[k, 2 * i], pixels[k, 2 * i + 1]
            for j in range(w // 2):
                s = np.int32(r0[2 * j]) + np.int32(r0[2 * j + 1])
                s += np.int32(r1[2 * j]) + np.int32(r1[2 * j + 1])
                row[j] = np.float32(s) * q
            for j in range(w // 2):
                out[i, j, k] = row[j]
    return out


@njit
def quarter_ranks(x: np.ndarray) -> tuple[np.ndarray, np.ndarray, bool]:
    """(H, W, C) float32 multiples of 1/4, >= 0 -> (uint16 codes, (C, K) float32 table code -> value, ok).

    A channel whose largest value times 4 fits in uint16 is coded as 4x its values; a larger one by
    rank among the distinct values it holds. ok False: some channel holds more than 65536 distinct
    values (the codes are then not filled)."""
    h, w, c = x.shape
    four = np.float32(4)
    vmax = np.zeros(c, np.int64)
    for i in range(h):
        for j in range(w):
            for k in range(c):
                vmax[k] = max(vmax[k], np.int64(x[i, j, k] * four))
    out = np.empty((h, w, c), np.uint16)
    size = 1
    for k in range(c):
        size = max(size, min(vmax[k] + 1, MAX_RANKS))
    lut = np.zeros((c, size), np.float32)
    for k in range(c):
        if vmax[k] < MAX_RANKS:  # 4x the value is its code
            for q in range(vmax[k] + 1):
                lut[k, q] = np.float32(q) / four
            for i in range(h):
                for j in range(w):
                    out[i, j, k] = np.uint16(x[i, j, k] * four)
            continue
        rank = np.zeros(vmax[k] + 1, np.int32)
        for i in range(h):
            for j in range(w):
                rank[np.int64(x[i, j, k] * four)] = 1
        r = 0
        for q in range(vmax[k] + 1):
            if rank[q]:
                if r == MAX_RANKS:
                    return out, lut, False
                rank[q] = r
                lut[k, r] = np.float32(q) / four
                r += 1
        for i in range(h):
            for j in range(w):
                out[i, j, k] = rank[np.int64(x[i, j, k] * four)]
    return out, lut, True


@njit
def label_rank_diff_sums(
    pos: np.ndarray, labs: np.ndarray, a: np.ndarray, b: np.ndarray, lut: np.ndarray, diff: bool, n: int
) -> np.ndarray:
    """`label_diff_sums` of values given as uint16 ranks `a`, `b` (P, C) into `lut` (C, K) float32:
    the same float32 differences added in the same order, so the same sums."""
    nch = a.shape[1]
    out = np.zeros((nch, n + 1))
    for i in range(pos.size):
        p, lab = pos[i], labs[i]
        for c in range(nch):
            va = lut[c, a[p, c]]
            out[c, lab] += (va - lut[c, b[p, c]]) if diff else va
    return out[:, 1:]
