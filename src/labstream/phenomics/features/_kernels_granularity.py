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
def _value(lut: np.ndarray, a: np.ndarray, b: np.ndarray, p: int, c: int, diff: bool) -> np.float32:
    va = lut[c, a[p, c]]
    return (va - lut[c, b[p, c]]) if diff else va


@njit
def label_rank_diff_sums(
    pos: np.ndarray, labs: np.ndarray, a: np.ndarray, b: np.ndarray, lut: np.ndarray, diff: bool, n: int
) -> np.ndarray:
    """`label_diff_sums` of values given as uint16 ranks `a`, `b` (P, C) into `lut` (C, K) float32:
    the same float32 differences added in the same order, so the same sums. With five channels (Cell
    Painting) each label's five running sums stay in registers while its pixels run on (each row of
    a cell is one run) and go to memory when the label changes: the same additions, without a
    store-to-load round trip per pixel."""
    nch = a.shape[1]
    out = np.zeros((nch, n + 1))
    if nch != 5 or pos.size == 0:
        for i in range(pos.size):
            p, lab = pos[i], labs[i]
            for c in range(nch):
                out[c, lab] += _value(lut, a, b, p, c, diff)
        return out[:, 1:]
    cur = labs[0]
    s0 = s1 = s2 = s3 = s4 = 0.0
    for i in range(pos.size):
        p, lab = pos[i], labs[i]
        if lab != cur:
            out[0, cur], out[1, cur], out[2, cur], out[3, cur], out[4, cur] = s0, s1, s2, s3, s4
            cur = lab
            s0, s1, s2, s3, s4 = out[0, cur], out[1, cur], out[2, cur], out[3, cur], out[4, cur]
        s0 += _value(lut, a, b, p, 0, diff)
        s1 += _value(lut, a, b, p, 1, diff)
        s2 += _value(lut, a, b, p, 2, diff)
        s3 += _value(lut, a, b, p, 3, diff)
        s4 += _value(lut, a, b, p, 4, diff)
    out[0, cur], out[1, cur], out[2, cur], out[3, cur], out[4, cur] = s0, s1, s2, s3, s4
    return out[:, 1:]
