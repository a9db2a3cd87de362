"""Compiled co-occurrence counts and Haralick features for every object, channel and distance.

`haralick` walks each object's pixels once, counts for every distance, direction and channel the
grey-level pair with its same-object neighbour, and reduces the counts to Haralick's 13 features
right away (the counts of one object stay in cache). The matrices are those of the NumPy reference
(`texture.haralick_features`): each direction normalised on its own, symmetrised, averaged,
renormalised; the features follow `texture.haralick_from_glcm`.
"""

from __future__ import annotations

import math

import numpy as np

from labstream.phenomics._jit import njit

N_HARALICK = 13


@njit
def _entropy_term(p: float) -> float:
    return p * math.log2(p) if p > 0 else 0.0


@njit
def _features(p: np.ndarray, lv: int, out: np.ndarray) -> None:
    """Haralick's 13 features of one normalised symmetric matrix p (L, L) into out[:13]."""
    px = np.zeros(lv)
    for i in range(lv):
        for j in range(lv):
            px[i] += p[i, j]
    mu = 0.0
    for i in range(lv):
        mu += px[i] * i
    var = 0.0
    for i in range(lv):
        var += px[i] * (i - mu) ** 2
    psum = np.zeros(2 * lv - 1)
    pdiff = np.zeros(lv)
    asm = con = pij = idm = hxy = hxy1 = hxy2 = 0.0
    for i in range(lv):
        for j in range(lv):
            v = p[i, j]
            psum[i + j] += v
            pdiff[abs(i - j)] += v
            asm += v * v
            con += v * (i - j) ** 2
            pij += v * i * j
            idm += v / (1 + (i - j) ** 2)
            hxy -= _entropy_term(v)
            pp = px[i] * px[j]
            if pp > 0:
                hxy1 -= v * math.log2(pp)
            hxy2 -= _entropy_term(pp)
    sa = 0.0
    for k in range(2 * lv - 1):
        sa += psum[k] * k
    dm = 0.0
    for k in range(lv):
        dm += pdiff[k] * k
    sv = se = 0.0
    for k in range(2 * lv - 1):
        sv += psum[k] * (k - sa) ** 2
        se -= _entropy_term(psum[k])
    dv = de = 0.0
    for k in range(lv):
        dv += pdiff[k] * (k - dm) ** 2
        de -= _entropy_term(pdiff[k])
    hx = 0.0
    for i in range(lv):
        hx -= _entropy_term(px[i])
    out[0] = asm
    out[1] = con
    out[2] = (pij - mu**2) / max(var, 1e-12)
    out[3] = var
    out[4] = idm
    out[5] = sa
    out[6] = sv
    out[7] = se
    out[8] = hxy
    out[9] = dv
    out[10] = de
    out[11] = (hxy - hxy1) / max(hx, 1e-12)
    out[12] = math.sqrt(max(1 - math.exp(-2 * (hxy2 - hxy)), 0.0))


@njit
def haralick(
    labels: np.ndarray, starts: np.ndarray, idx: np.ndarray, q: np.ndarray, distances: np.ndarray, lv: int
) -> np.ndarray:
    """(D, 13, C, n) Haralick features; q (C, H*W) grey levels 0..lv-1; object k's pixels are
    idx[starts[k+1]:starts[k+2]] (`_kernels_shape.order_by_label`); directions (0, d), (d, 0), (d, d),
    (d, -d)."""
    h, w = labels.shape
    flat = labels.ravel()
    nch = q.shape[0]
    n = starts.size - 2
    nd = distances.size
    out = np.zeros((nd, N_HARALICK, nch, n))
    cnt = np.zeros((nd, 4, nch, lv, lv))
    p = np.zeros((lv, lv))
    feats = np.zeros(N_HARALICK)
    for k in range(n):
        lab = k + 1
        cnt[:] = 0.0
        for i in range(starts[k + 1], starts[k + 2]):
            a = idx[i]
            y, x = a // w, a % w
            for di in range(nd):
                d = distances[di]
                for r in range(4):
                    dy = 0 if r == 0 else d
                    dx = d if (r == 0 or r == 2) else (0 if r == 1 else -d)
                    y2, x2 = y + dy, x + dx
                    if y2 >= h or x2 < 0 or x2 >= w:
                        continue
                    b = y2 * w + x2
                    if flat[b] != lab:
                        continue
                    for c in range(nch):
                        cnt[di, r, c, q[c, a], q[c, b]] += 1
        for di in range(nd):
            for c in range(nch):
                p[:] = 0.0
                for r in range(4):
                    tot = max(cnt[di, r, c].sum(), 1.0)
                    for u in range(lv):
                        for v in range(lv):
                            p[u, v] += (cnt[di, r, c, u, v] / tot + cnt[di, r, c, v, u] / tot) / 2
                tot = max(p.sum(), 1e-12)
                for u in range(lv):
                    for v in range(lv):
                        p[u, v] /= tot
                _features(p, lv, feats)
                for f in range(N_HARALICK):
                    out[di, f, c, k] = feats[f]
    return out
