"""Compiled whole-image helpers for QC and segmentation: exact percentiles by radix selection and
the Otsu histogram, each one or two passes over the pixels instead of a partition or a sort.

`percentiles` equals `np.percentile(x, q)` (linear method) to float rounding: the order statistics
are exact (selected on the bits of float32 / integer values), only the interpolation may round
differently. `otsu` equals `skimage.filters.threshold_otsu` exactly: the same float32 histogram
edges and bin arithmetic as `np.histogram`, then scikit-image's formula.
"""

from __future__ import annotations

from collections.abc import Callable

import cv2
import numpy as np

from labstream.phenomics._jit import njit


def _keys(x: np.ndarray) -> tuple[np.ndarray, int]:
    """Order-preserving uint32 keys of float32 or integer values (and the integer offset)."""
    if x.dtype == np.float32:
        bits = x.ravel().view(np.uint32)
        return np.where(bits >> 31 != 0, ~bits, bits | np.uint32(0x80000000)), 0
    lo = int(x.min())
    return (x.ravel() - lo).astype(np.uint32), lo


def _from_key(key: int, dtype: np.dtype, lo: int) -> float:
    if dtype == np.float32:
        b = key ^ 0x80000000 if key >> 31 else key ^ 0xFFFFFFFF
        return float(np.array([b], np.uint32).view(np.float32)[0])
    return float(key + lo)


@njit
def _order_stats(keys: np.ndarray, ks: np.ndarray) -> np.ndarray:
    """The ks-th smallest keys (0-based, ks ascending): a 65536-bucket histogram over the keys' own
    range finds each one's bucket; the few keys in those buckets are gathered and sorted."""
    kmin, kmax = keys[0], keys[0]
    for i in range(keys.size):
        kmin = min(kmin, keys[i])
        kmax = max(kmax, keys[i])
    span = np.int64(kmax) - np.int64(kmin)
    shift = 0
    while (span >> shift) >= 65536:
        shift += 1
    base = np.int64(kmin)
    hist = np.zeros(65536, np.int64)
    for i in range(keys.size):
        hist[(np.int64(keys[i]) - base) >> shift] += 1
    nk = ks.size
    bucket = np.empty(nk, np.int64)
    before = np.empty(nk, np.int64)
    acc, b = 0, 0
    for i in range(nk):
        while acc + hist[b] <= ks[i]:
            acc += hist[b]
            b += 1
        bucket[i], before[i] = b, acc
    if shift == 0:  # one key per bucket (8/16-bit images): the histogram already holds the answer
        out = np.empty(nk, np.uint32)
        for i in range(nk):
            out[i] = np.uint32(base + bucket[i])
        return out
    slot = np.empty(nk, np.int64)  # which gathered run holds each wanted bucket
    starts = np.zeros(nk + 1, np.int64)
    m = 0
    for i in range(nk):
        if i > 0 and bucket[i] == bucket[i - 1]:
            slot[i] = slot[i - 1]
            continue
        slot[i] = m
        starts[m + 1] = starts[m] + hist[bucket[i]]
        m += 1
    buf = np.empty(starts[m], np.uint32)
    pos = starts[:m].copy()
    for i in range(keys.size):
        bk = (np.int64(keys[i]) - base) >> shift
        for j in range(nk):  # nk is a handful
            if bucket[j] == bk:
                w = slot[j]
                buf[pos[w]] = keys[i]
                pos[w] += 1
                break
    for w in range(m):
        if shift > 0:
            buf[starts[w] : starts[w + 1]] = np.sort(buf[starts[w] : starts[w + 1]])
    out = np.empty(nk, np.uint32)
    for i in range(nk):
        out[i] = buf[starts[slot[i]] + ks[i] - before[i]]
    return out


def _virtual_index(n: int, p: float) -> float:
    q = p / 100
    return n * q + (1 + q * (1 - 1 - 1)) - 1  # NumPy's virtual index for the linear method


def _interpolated(
    n: int, q: list[float] | tuple[float, ...], kth: Callable[[list[int]], list[float]]
) -> np.ndarray:
    """`np.percentile`'s linear interpolation between order statistics: kth(ks) gives the ks-th
    smallest values (0-based, ascending ks)."""
    vis = [min(max(_virtual_index(n, p), 0.0), n - 1.0) for p in q]
    ks = sorted({k for vi in vis for k in (int(np.floor(vi)), min(int(np.floor(vi)) + 1, n - 1))})
    vals = dict(zip(ks, kth(ks), strict=True))
    out = np.empty(len(q))
    for i, vi in enumerate(vis):
        a = int(np.floor(vi))
        g = vi - a
        va, vb = vals[a], vals[min(a + 1, n - 1)]
        d = vb - va
        out[i] = va + d * g if g < 0.5 else vb - d * (1 - g)
    return out


@njit
def _counts(x: np.ndarray, bins: int) -> np.ndarray:
    """Histogram of 8/16-bit values, one count per value."""
    hist = np.zeros(bins, np.int64)
    for v in np.nditer(x):
        hist[v.item()] += 1
    return hist


def percentiles_of_histogram(hist: np.ndarray, q: list[float] | tuple[float, ...]) -> np.ndarray:
    """`np.percentile(x, q)` of integer values x given as their histogram (hist[v] = count of v)."""
    cum = np.cumsum(hist)
    n = int(cum[-1])
    return _interpolated(n, q, lambda ks: [float(v) for v in np.searchsorted(cum, ks, side="right")])


def percentiles(x: np.ndarray, q: list[float] | tuple[float, ...]) -> np.ndarray:
    """`np.percentile(x, q)` for float32 or integer arrays with a range below 2**32, by selection
    (two 16-bit histogram passes per order statistic) instead of a partition."""
    x = np.asarray(x)
    ok = x.dtype == np.float32 or (np.issubdtype(x.dtype, np.integer) and x.dtype.itemsize <= 4)
    if x.size == 0 or not ok or (x.dtype == np.float32 and not np.isfinite(x).all()):
        return np.percentile(x, q)
    if x.dtype in (np.uint8, np.uint16):  # one counting pass (strided views too), no key copies
        return percentiles_of_histogram(_counts(x, 1 << (8 * x.itemsize)), q)
    keys, lo = _keys(x)
    return _interpolated(
        x.size, q, lambda ks: [_from_key(int(k), x.dtype, lo) for k in _order_stats(keys, np.asarray(ks))]
    )


@njit
def _histogram(x: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """np.histogram's equal-bins counts (x in [edges[0], edges[-1]]): a bin estimate from one multiply
    (np.histogram divides), then np.histogram's own correction against the float32 edges. Any estimate
    within one bin of the right one ends in the bin whose edges hold the value, as np.histogram's
    does, so the counts are the same; the estimate is off by a few ulps at most. Four pixels at a time
    into four sub-histograms (a smooth image puts neighbours in one bin: one count array would chain
    each increment on the previous one's store), added at the end."""
    nb = edges.size - 1
    first = edges[0]
    scale = np.float32(nb) / (edges[nb] - first)
    c0 = np.zeros(nb, np.int64)
    c1 = np.zeros(nb, np.int64)
    c2 = np.zeros(nb, np.int64)
    c3 = np.zeros(nb, np.int64)
    flat = x.ravel()

    def bin_of(v: np.float32) -> int:  # an inner function: compiled inline
        i = min(max(int((v - first) * scale), 0), nb - 1)
        if v < edges[i]:
            i -= 1
        elif i != nb - 1 and v >= edges[i + 1]:
            i += 1
        return i

    m = flat.size - flat.size % 4
    for p in range(0, m, 4):
        c0[bin_of(flat[p])] += 1
        c1[bin_of(flat[p + 1])] += 1
        c2[bin_of(flat[p + 2])] += 1
        c3[bin_of(flat[p + 3])] += 1
    for p in range(m, flat.size):
        c0[bin_of(flat[p])] += 1
    return c0 + c1 + c2 + c3


@njit
def block_sums_mean(pixels: np.ndarray, factor: int) -> np.ndarray:
    """(C, H, W) integer pixels -> (C, H//f, W//f) float64 means of f x f blocks (edges cropped):
    integer block sums (exact) divided by f * f in one pass over the pixels."""
    c, h, w = pixels.shape
    hh, ww = h // factor, w // factor
    out = np.empty((c, hh, ww))
    acc = np.empty(ww, np.int64)
    area = float(factor * factor)
    for k in range(c):
        for bi in range(hh):
            acc[:] = 0
            for r in range(factor):
                row = pixels[k, bi * factor + r]
                for bj in range(ww):
                    t = np.int64(0)
                    for u in range(factor):
                        t += np.int64(row[bj * factor + u])
                    acc[bj] += t
            for bj in range(ww):
                out[k, bi, bj] = acc[bj] / area
    return out


def minmax(x: np.ndarray) -> tuple[np.float32, np.float32]:
    """(min, max) of a float32 image in one pass (OpenCV's vectorised minMaxLoc; NumPy's min and max
    are two passes)."""
    lo, hi, _, _ = cv2.minMaxLoc(np.ascontiguousarray(x, np.float32).reshape(x.shape[0], -1))
    return np.float32(lo), np.float32(hi)


def otsu(image: np.ndarray, nbins: int = 256, bounds: tuple[np.float32, np.float32] | None = None) -> float:
    """`skimage.filters.threshold_otsu` of a float32 image (the same histogram, the same formula);
    `bounds`: the image's (min, max) when the caller has them (`minmax`)."""
    x = np.ascontiguousarray(image, np.float32)
    lo, hi = bounds if bounds is not None else minmax(x)
    if lo == hi:
        return float(lo)
    edges = np.linspace(lo, hi, nbins + 1, endpoint=True, dtype=np.float32)
    counts = _histogram(x, edges)
    centers = (edges[:-1] + edges[1:]) / 2.0
    weight1 = np.cumsum(counts)
    weight2 = np.cumsum(counts[::-1])[::-1]
    mean1 = np.cumsum(counts * centers) / weight1
    mean2 = (np.cumsum((counts * centers)[::-1]) / weight2[::-1])[::-1]
    variance12 = weight1[:-1] * weight2[1:] * (mean1[:-1] - mean2[1:]) ** 2
    return float(centers[np.argmax(variance12)])


@njit
def _find(parent: np.ndarray, i: int) -> int:
    while parent[i] != i:
        parent[i] = parent[parent[i]]
        i = parent[i]
    return i


def peak_labels(dist: np.ndarray, dilated: np.ndarray, floor: float) -> np.ndarray:
    """`ndimage.label((dist == dilated) & (dist > floor))` (4-connectivity, ids in raster order of
    each plateau's first pixel): the peak test in NumPy (vectorised), then only the few peak pixels
    are joined and numbered (`label_listed`) instead of a connected-components pass over the image."""
    listed = np.flatnonzero((dist == dilated) & (dist > floor))
    return label_listed(listed, dist.shape[0], dist.shape[1])


@njit
def label_listed(pix: np.ndarray, h: int, w: int) -> np.ndarray:
    """4-connected labels of the pixels listed in raster order (flat indices): each joins its left
    and upper listed neighbours (union-find, the earlier pixel the root), then the roots are
    numbered in list order, as a raster scan numbers components."""
    out = np.zeros(h * w, np.int32)
    n = pix.size
    parent = np.arange(n)
    for i in range(n):
        p = pix[i]
        out[p] = i + 1
        for m in (out[p - 1] if p % w > 0 else 0, out[p - w] if p >= w else 0):
            if m > 0:
                a, b = _find(parent, m - 1), _find(parent, i)
                parent[max(a, b)] = min(a, b)
    ids = np.zeros(n, np.int32)
    count = 0
    for i in range(n):
        r = _find(parent, i)
        if r == i:
            count += 1
            ids[i] = count
        else:
            ids[i] = ids[r]
        out[pix[i]] = ids[i]
    return out.reshape(h, w)
