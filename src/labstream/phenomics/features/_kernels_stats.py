"""Order statistics of one object's values for the intensity walk (`_kernels_intensity`): quantiles
(NumPy's linear method) and MAD of sorted values, the same read straight off a counting sort's key
histogram, and the LSD radix sort for wide integer ranges.
"""

from __future__ import annotations

import math

import numpy as np

from labstream.phenomics._jit import njit

Q50, Q25, Q75, QMIN, QMAX, MAD = range(6)  # quantile axis


@njit
def radix_sort(a: np.ndarray, tmp: np.ndarray, m: int, bits: int, count: np.ndarray) -> np.ndarray:
    """Sort a[:m] (non-negative int64 keys below 2**bits) with 8-bit LSD passes; returns the buffer
    holding the result (a or tmp)."""
    src, dst = a, tmp
    shift = 0
    while shift < bits:
        count[:] = 0
        for i in range(m):
            count[((src[i] >> shift) & 255) + 1] += 1
        for j in range(1, 257):
            count[j] += count[j - 1]
        for i in range(m):
            b = (src[i] >> shift) & 255
            dst[count[b]] = src[i]
            count[b] += 1
        src, dst = dst, src
        shift += 8
    return src


@njit
def _quantile(v: np.ndarray, m: int, q: float) -> float:
    pos = q * (m - 1)
    a = int(math.floor(pos))
    b = min(a + 1, m - 1)
    frac = pos - math.floor(pos)
    return v[a] * (1 - frac) + v[b] * frac


@njit
def _mad(v: np.ndarray, m: int, med: float) -> float:
    """Median of |v - med| for sorted v[:m], by merging the two sorted runs of deviations."""
    pos = 0.5 * (m - 1)
    ja = int(math.floor(pos))
    jb = min(ja + 1, m - 1)
    frac = pos - ja
    r = 0
    while r < m and v[r] < med:
        r += 1
    lft = r - 1
    da = db = 0.0
    for t in range(jb + 1):
        if lft >= 0 and (r >= m or med - v[lft] <= v[r] - med):
            d = med - v[lft]
            lft -= 1
        else:
            d = v[r] - med
            r += 1
        if t == ja:
            da = d
        if t == jb:
            db = d
    return da * (1 - frac) + db * frac


@njit
def sorted_stats(v: np.ndarray, m: int, out: np.ndarray) -> None:
    if m == 0:
        out[:] = np.nan
        return
    out[Q50] = _quantile(v, m, 0.5)
    out[Q25] = _quantile(v, m, 0.25)
    out[Q75] = _quantile(v, m, 0.75)
    out[QMIN] = v[0]
    out[QMAX] = v[m - 1]
    out[MAD] = _mad(v, m, out[Q50])


@njit
def _count(hist: np.ndarray, j: int, sel: int) -> int:
    """How many of value index j the compartment holds: hist counts keys 2 * j + is_nucleus;
    sel 0 the nucleus (odd keys), 1 the whole cell, 2 the cytoplasm (even keys)."""
    if sel == 0:
        return hist[2 * j + 1]
    if sel == 2:
        return hist[2 * j]
    return hist[2 * j] + hist[2 * j + 1]


@njit
def hist_stats(hist: np.ndarray, lo: int, nv: int, sel: int, m: int, out: np.ndarray) -> None:
    """`sorted_stats` of the compartment's m values read off the key histogram instead of a sorted copy:
    the order statistics the quantiles interpolate between, then MAD by walking outward from the
    median over the values (the same merge as `_mad`, a value's whole count at a time), so the
    same numbers."""
    if m == 0:
        out[:] = np.nan
        return
    ranks = np.empty(8, np.int64)  # min, then (a, b) of Q25, Q50, Q75, then max: ascending
    for i, q in enumerate((0.25, 0.5, 0.75)):
        a = int(math.floor(q * (m - 1)))
        ranks[1 + 2 * i], ranks[2 + 2 * i] = a, min(a + 1, m - 1)
    ranks[0], ranks[7] = 0, m - 1
    vals = np.empty(8)
    t, cum = 0, 0
    for j in range(nv):
        cum += _count(hist, j, sel)
        while t < 8 and ranks[t] < cum:
            vals[t] = float(j + lo)
            t += 1
        if t == 8:
            break
    for i, q in enumerate((0.25, 0.5, 0.75)):
        pos = q * (m - 1)
        frac = pos - math.floor(pos)
        out[(Q25, Q50, Q75)[i]] = vals[1 + 2 * i] * (1 - frac) + vals[2 + 2 * i] * frac
    out[QMIN], out[QMAX] = vals[0], vals[7]
    med = out[Q50]
    pos = 0.5 * (m - 1)
    ja = int(math.floor(pos))
    jb = min(ja + 1, m - 1)
    frac = pos - ja
    r = 0  # first value index >= med (values are j + lo)
    while r < nv and float(r + lo) < med:
        r += 1
    lft = r - 1
    da = db = 0.0
    t = 0
    while t <= jb:
        while lft >= 0 and _count(hist, lft, sel) == 0:
            lft -= 1
        while r < nv and _count(hist, r, sel) == 0:
            r += 1
        if lft >= 0 and (r >= nv or med - float(lft + lo) <= float(r + lo) - med):
            d, cnt = med - float(lft + lo), _count(hist, lft, sel)
            lft -= 1
        else:
            d, cnt = float(r + lo) - med, _count(hist, r, sel)
            r += 1
        if t <= ja < t + cnt:
            da = d
        if t <= jb < t + cnt:
            db = d
        t += cnt
    out[MAD] = da * (1 - frac) + db * frac
