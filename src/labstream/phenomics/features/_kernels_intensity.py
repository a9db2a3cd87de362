"""Compiled per-cell intensity kernel: one walk over each cell's pixels gives, for every channel and
compartment (Nuclei, Cells, Cytoplasm), the sums behind mean/std/mass displacement, exact quantiles and
MAD, the cross-channel product sums of the correlation features and the radial-distribution bins.

Quantiles come from one sort per cell and channel of keys `2 * (value - min) + is_nucleus` (for
integer pixels a counting sort when the cell's range is narrow, the usual case, else an LSD radix
sort), so the nucleus and cytoplasm values fall out of the cell's sorted values already sorted.
Sums add in raster order, as the NumPy reference does.
"""

from __future__ import annotations

import math

import numpy as np

from labstream.phenomics._jit import njit

NUCLEI, CELLS, CYTOPLASM = 0, 1, 2  # compartment axis (features.COMPARTMENTS order)
S, S2, SY, SX = range(4)  # sums axis
Q50, Q25, Q75, QMIN, QMAX, MAD = range(6)  # quantile axis
RADIAL_BINS = 4


@njit
def _radix_sort(a: np.ndarray, tmp: np.ndarray, m: int, bits: int, count: np.ndarray) -> np.ndarray:
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
def _stats(v: np.ndarray, m: int, out: np.ndarray) -> None:
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
def _hist_stats(hist: np.ndarray, lo: int, nv: int, sel: int, m: int, out: np.ndarray) -> None:
    """`_stats` of the compartment's m values read off the key histogram instead of a sorted copy:
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


@njit
def cell_intensity(
    pix: np.ndarray,
    starts: np.ndarray,
    idx: np.ndarray,
    nucflat: np.ndarray,
    n: int,
    width: int,
    ncy: np.ndarray,
    ncx: np.ndarray,
    integral: bool,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Per (compartment, channel, cell): sums (S, S2, SY, SX) and quantiles (Q50..MAD); per cell and
    channel pair: product sums of Nuclei and Cells (for Pearson / overlap); radial counts and sums.

    `pix` (C, P) flat pixels; cell k's pixels are idx[starts[k]:starts[k+1]] (order_by_label);
    `nucflat` > 0 marks nucleus pixels (nuclei inside their own cell); (ncy, ncx) nucleus centres
    for the radial rings; `integral`: pixel values are integers (radix-sort path).

    Each cell's pixels are gathered once into per-channel rows; every sum then runs over a row into
    scalar accumulators, in raster order (the reference's order, so the same float results)."""
    nch = pix.shape[0]
    npairs = nch * (nch - 1) // 2
    sums = np.zeros((3, nch, n, 4))
    quant = np.full((3, nch, n, 6), np.nan)
    cross = np.zeros((2, npairs, n))
    rcnt = np.zeros((n, RADIAL_BINS))
    rsum = np.zeros((nch, n, RADIAL_BINS))
    mmax = 0
    for k in range(n):
        mmax = max(mmax, starts[k + 2] - starts[k + 1])
    keys = np.empty(mmax, np.int64)
    tmp = np.empty(mmax, np.int64)
    count = np.zeros(257, np.int64)
    hist = np.zeros(1, np.int32)  # counting-sort buckets, grown to the widest narrow range
    va = np.empty(mmax)
    vn = np.empty(mmax)
    vc = np.empty(mmax)
    dist = np.empty(mmax)
    row = np.empty((nch, mmax))  # the cell's values, one row per channel
    ys = np.empty(mmax)
    xs = np.empty(mmax)
    nucl = np.empty(mmax, np.bool_)
    ring = np.empty(mmax, np.int64)
    rs = np.zeros(RADIAL_BINS)
    for k in range(n):
        s, e = starts[k + 1], starts[k + 2]
        m = e - s
        if m == 0:
            continue
        dmax = 0.0
        mnuc = 0
        for i in range(m):
            p = idx[s + i]
            y, x = p // width, p % width
            d = math.hypot(y - ncy[k], x - ncx[k])
            dist[i] = d
            dmax = max(dmax, d)
            ys[i], xs[i] = float(y), float(x)
            nucl[i] = nucflat[p] > 0
            mnuc += 1 if nucl[i] else 0
            for c in range(nch):
                row[c, i] = np.float64(pix[c, p])
        for i in range(m):
            b = min(int(dist[i] / max(dmax, 1e-9) * RADIAL_BINS), RADIAL_BINS - 1)
            ring[i] = b
            rcnt[k, b] += 1
        for c in range(nch):
            v_ = row[c]
            cs = cs2 = csy = csx = 0.0
            ns = ns2 = nsy = nsx = 0.0
            ys_ = ys2 = ysy = ysx = 0.0
            rs[:] = 0.0
            for i in range(m):
                v = v_[i]
                rs[ring[i]] += v
                vv, vy, vx = v * v, v * ys[i], v * xs[i]
                cs += v
                cs2 += vv
                csy += vy
                csx += vx
                if nucl[i]:
                    ns += v
                    ns2 += vv
                    nsy += vy
                    nsx += vx
                else:
                    ys_ += v
                    ys2 += vv
                    ysy += vy
                    ysx += vx
            for b in range(RADIAL_BINS):
                rsum[c, k, b] = rs[b]
            out = sums[CELLS, c, k]
            out[S], out[S2], out[SY], out[SX] = cs, cs2, csy, csx
            out = sums[NUCLEI, c, k]
            out[S], out[S2], out[SY], out[SX] = ns, ns2, nsy, nsx
            out = sums[CYTOPLASM, c, k]
            out[S], out[S2], out[SY], out[SX] = ys_, ys2, ysy, ysx
        j = 0
        for a in range(nch):
            ra = row[a]
            for bb in range(a + 1, nch):
                rb = row[bb]
                tc = tn = 0.0
                for i in range(m):
                    prod = ra[i] * rb[i]
                    tc += prod
                    if nucl[i]:
                        tn += prod
                cross[0, j, k] = tc
                cross[1, j, k] = tn
                j += 1
        for c in range(nch):
            v_ = row[c]
            mn, nn, nc = 0, 0, 0
            if integral:
                lo = hi = int(v_[0])
                for i in range(m):
                    v = int(v_[i])
                    lo = min(lo, v)
                    hi = max(hi, v)
                span = (hi - lo) * 2 + 2
                if span <= 4 * m + 4096:  # narrow range: a counting sort, statistics off the counts
                    if hist.size < span:
                        hist = np.zeros(span, np.int32)
                    for i in range(m):
                        hist[(int(v_[i]) - lo) * 2 + (1 if nucl[i] else 0)] += 1
                    nv = hi - lo + 1
                    _hist_stats(hist, lo, nv, CELLS, m, quant[CELLS, c, k])
                    _hist_stats(hist, lo, nv, NUCLEI, mnuc, quant[NUCLEI, c, k])
                    _hist_stats(hist, lo, nv, CYTOPLASM, m - mnuc, quant[CYTOPLASM, c, k])
                    hist[:span] = 0
                    continue
                for i in range(m):
                    keys[i] = (int(v_[i]) - lo) * 2 + (1 if nucl[i] else 0)
                bits = 1
                while (1 << bits) <= (hi - lo) * 2 + 1:
                    bits += 1
                srt = _radix_sort(keys, tmp, m, bits, count)
                for i in range(m):
                    v = float((srt[i] >> 1) + lo)
                    va[i] = v
                    if srt[i] & 1:
                        vn[nn] = v
                        nn += 1
                    else:
                        vc[nc] = v
                        nc += 1
                mn = m
            else:
                for i in range(m):
                    v = v_[i]
                    va[i] = v
                    if nucl[i]:
                        vn[nn] = v
                        nn += 1
                    else:
                        vc[nc] = v
                        nc += 1
                va[:m] = np.sort(va[:m])
                vn[:nn] = np.sort(vn[:nn])
                vc[:nc] = np.sort(vc[:nc])
                mn = m
            _stats(va, mn, quant[CELLS, c, k])
            _stats(vn, nn, quant[NUCLEI, c, k])
            _stats(vc, nc, quant[CYTOPLASM, c, k])
    return sums, quant, cross, rcnt, rsum


@njit
def quantise(
    pix: np.ndarray, starts: np.ndarray, idx: np.ndarray, lo: np.ndarray, hi: np.ndarray, levels: int
) -> np.ndarray:
    """(C, P) uint8 grey levels 0..levels-1 of each object's pixels between its own (lo, hi) per
    channel and object (lo/hi (C, n)); background stays 0."""
    nch, npx = pix.shape
    n = starts.size - 2
    q = np.zeros((nch, npx), np.uint8)
    for c in range(nch):
        for k in range(n):
            mn = lo[c, k]
            den = max(hi[c, k] - mn, 1e-9)
            for i in range(starts[k + 1], starts[k + 2]):
                p = idx[i]
                g = int((np.float64(pix[c, p]) - mn) / den * levels)
                q[c, p] = min(max(g, 0), levels - 1)
    return q


@njit
def label_diff_sums(
    pos: np.ndarray, labs: np.ndarray, a: np.ndarray, b: np.ndarray, diff: bool, n: int
) -> np.ndarray:
    """`label_sums` of a - b (float32 differences, as NumPy makes them; `diff` False: of a alone)
    over the listed pixels only: `pos` the flat indices of the labelled pixels in raster order,
    `labs` their labels 1..n. Each label's values add in raster order, as `label_sums` adds them."""
    nch = a.shape[1]
    out = np.zeros((nch, n + 1))
    for i in range(pos.size):
        p, lab = pos[i], labs[i]
        for c in range(nch):
            out[c, lab] += (a[p, c] - b[p, c]) if diff else a[p, c]
    return out[:, 1:]
