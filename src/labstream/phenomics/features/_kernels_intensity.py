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
from labstream.phenomics.features._kernels_stats import (  # noqa: F401 (the quantile axis, read as KI.MAD, ...)
    MAD,
    Q25,
    Q50,
    Q75,
    QMAX,
    QMIN,
    hist_stats,
    radix_sort,
    sorted_stats,
)

NUCLEI, CELLS, CYTOPLASM = 0, 1, 2  # compartment axis (features.COMPARTMENTS order)
S, S2, SY, SX = range(4)  # sums axis
RADIAL_BINS = 4


@njit
def _integer_sums(
    row: np.ndarray,
    inuc: np.ndarray,
    iy: np.ndarray,
    ix: np.ndarray,
    ring: np.ndarray,
    m: int,
    k: int,
    sums: np.ndarray,
    cross: np.ndarray,
    rsum: np.ndarray,
) -> None:
    """Cell k's sums of 8/16-bit pixels in int64: every term (v, v*v, v*y, v*x, products of two
    channels) is an integer and, below ~2 million pixels per cell, every partial sum of the float64
    chain stays under 2**53, so that chain was exact and these are its numbers (beyond, these are the
    exact ones); the cytoplasm is cell minus nucleus exactly, and the loops vectorise (the
    RADIAL_BINS = 4 rings unrolled)."""
    nch = row.shape[0]
    for c in range(nch):
        v_ = row[c]
        s = s2 = sy = sx = n1 = n2 = ny = nx = np.int64(0)
        r0 = r1 = r2 = r3 = np.int64(0)
        for i in range(m):
            v = np.int64(v_[i])
            w, b = inuc[i], ring[i]
            vv, vy, vx = v * v, v * iy[i], v * ix[i]
            s += v
            s2 += vv
            sy += vy
            sx += vx
            n1 += v * w
            n2 += vv * w
            ny += vy * w
            nx += vx * w
            r0 += v if b == 0 else 0
            r1 += v if b == 1 else 0
            r2 += v if b == 2 else 0
            r3 += v if b == 3 else 0
        rsum[c, k, 0], rsum[c, k, 1], rsum[c, k, 2], rsum[c, k, 3] = r0, r1, r2, r3
        out = sums[CELLS, c, k]
        out[S], out[S2], out[SY], out[SX] = s, s2, sy, sx
        out = sums[NUCLEI, c, k]
        out[S], out[S2], out[SY], out[SX] = n1, n2, ny, nx
        out = sums[CYTOPLASM, c, k]
        out[S], out[S2], out[SY], out[SX] = s - n1, s2 - n2, sy - ny, sx - nx
    j = 0
    for a in range(nch):
        for bb in range(a + 1, nch):
            ra, rb = row[a], row[bb]
            tc = tn = np.int64(0)
            for i in range(m):
                prod = np.int64(ra[i]) * np.int64(rb[i])
                tc += prod
                tn += prod * inuc[i]
            cross[0, j, k], cross[1, j, k] = tc, tn
            j += 1


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
    inuc = np.empty(mmax, np.int64)
    iy = np.empty(mmax, np.int64)
    ix = np.empty(mmax, np.int64)
    narrow = integral and pix.itemsize <= 2  # 8/16-bit: the sums in int64 (`_integer_sums`)
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
            iy[i], ix[i] = y, x
            nucl[i] = nucflat[p] > 0
            inuc[i] = 1 if nucl[i] else 0
            mnuc += inuc[i]
            for c in range(nch):
                row[c, i] = np.float64(pix[c, p])
        for i in range(m):
            b = min(int(dist[i] / max(dmax, 1e-9) * RADIAL_BINS), RADIAL_BINS - 1)
            ring[i] = b
            rcnt[k, b] += 1
        if narrow:
            _integer_sums(row, inuc, iy, ix, ring, m, k, sums, cross, rsum)
        for c in range(0 if narrow else nch):
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
        for a in range(0 if narrow else nch):
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
                    hist_stats(hist, lo, nv, CELLS, m, quant[CELLS, c, k])
                    hist_stats(hist, lo, nv, NUCLEI, mnuc, quant[NUCLEI, c, k])
                    hist_stats(hist, lo, nv, CYTOPLASM, m - mnuc, quant[CYTOPLASM, c, k])
                    hist[:span] = 0
                    continue
                for i in range(m):
                    keys[i] = (int(v_[i]) - lo) * 2 + (1 if nucl[i] else 0)
                bits = 1
                while (1 << bits) <= (hi - lo) * 2 + 1:
                    bits += 1
                srt = radix_sort(keys, tmp, m, bits, count)
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
            sorted_stats(va, mn, quant[CELLS, c, k])
            sorted_stats(vn, nn, quant[NUCLEI, c, k])
            sorted_stats(vc, nc, quant[CYTOPLASM, c, k])
    return sums, quant, cross, rcnt, rsum


@njit
def quantise(
    pix: np.ndarray, starts: np.ndarray, idx: np.ndarray, lo: np.ndarray, hi: np.ndarray, levels: int
) -> np.ndarray:
    """(C, P) uint8 grey levels 0..levels-1 of each object's pixels between its own (lo, hi) per
    channel and object (lo/hi (C, n)). Only the objects' pixels are written (the co-occurrence
    counts read no other): the background holds whatever the allocation held."""
    nch, npx = pix.shape
    n = starts.size - 2
    q = np.empty((nch, npx), np.uint8)
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
