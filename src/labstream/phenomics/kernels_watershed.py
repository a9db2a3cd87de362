"""Compiled marker watershed: `skimage.segmentation.watershed(image, markers, mask=mask)` exactly.

Why hand-written: the two watersheds were the largest single cost of a 512² site. scikit-image's call
pads and copies the image (as float64), mask and markers, crops the result, and sifts its heap by
swapping pointers; this kernel works in place and moves a hole instead (measured: see
tests/phenomics/test_phenomics_watershed.py for equality, the phenomics bench for speed). It is
the same algorithm step for step (scikit-image 0.2x `_watershed_cy.watershed_raveled`, plain case:
no compactness, no watershed lines, connectivity 1): markers pushed in raster order with age 0, the
same binary heap (ordered by value, then age; the same sift-up and sift-down), neighbours visited in
scikit-image's order (up, left, right, down), each pixel labelled when it is pushed, its priority
raised to at least that of the pixel that reached it (scikit-image 0.26's rule). So ties are
broken identically and the labels are identical, not just close (tests/phenomics compares them).
One saving keeps that: marker pixels that cannot grow (inside a nucleus: ~90% of the cell
watershed's markers) stay out of the heap whenever the growing markers' values are all distinct,
because then no two queued keys are equal and the pop order cannot depend on the heap's shape.
"""

from __future__ import annotations

import numpy as np

from labstream.phenomics._jit import njit


@njit
def watershed_flood(image: np.ndarray, markers: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Labels (int32, H x W) flooded from `markers` (!= 0) over `image` inside `mask` (4-connected).

    The heap is scikit-image's (parallel value / age / pixel arrays; sift-up and sift-down compare
    exactly as its `smaller`, moving a hole instead of swapping, which leaves the same arrangement)."""
    h, w = image.shape
    n = h * w
    img = image.ravel()
    msk = mask.ravel()
    out = np.zeros(n, np.int32)
    mk = markers.ravel()
    # One pass over the image: labels of the markers, heap capacity, and the markers (raster order)
    # with whether each can grow (a neighbour in the mask that is not a marker). If the growing
    # markers' values are pairwise distinct, every queued key (value, age) is distinct (other items
    # have distinct ages > 0), so the pops follow the keys' total order whatever else the heap holds:
    # markers that cannot grow (inside a nucleus), which push nothing when popped, are then left
    # out. With a tie among growing markers their order is the heap's, so every marker is queued, as
    # scikit-image does. The later loops visit the markers only, not the image.
    cap = 0
    nm = 0
    mpos = np.empty(n, np.int64)  # only the first nm entries are written
    for p in range(n):
        if msk[p]:
            cap += 1
            if mk[p] != 0:
                out[p] = mk[p]
                mpos[nm] = p
                nm += 1
    val = np.empty(cap + 1, np.float64)
    age = np.empty(cap + 1, np.int64)
    pos = np.empty(cap + 1, np.int64)
    grow = np.zeros(nm, np.bool_)
    gv = np.empty(nm, np.float64)
    ng = 0
    for j in range(nm):
        p = mpos[j]
        y, x = p // w, p % w
        if (
            (y > 0 and msk[p - w] and out[p - w] == 0)
            or (x > 0 and msk[p - 1] and out[p - 1] == 0)
            or (x < w - 1 and msk[p + 1] and out[p + 1] == 0)
            or (y < h - 1 and msk[p + w] and out[p + w] == 0)
        ):
            grow[j] = True
            gv[ng] = img[p]
            ng += 1
    gv = np.sort(gv[:ng])
    distinct = True
    for j in range(1, ng):
        if gv[j] == gv[j - 1]:
            distinct = False
            break
    items = 0
    count = 1
    for j in range(nm):  # markers in raster order, age 0
        if distinct and not grow[j]:
            continue
        p = mpos[j]
        v, a = np.float64(img[p]), 0
        child = items
        while child > 0:
            parent = (child + 1) // 2 - 1
            pv_, pa_ = val[parent], age[parent]
            if v < pv_ or (v == pv_ and a < pa_):
                val[child], age[child], pos[child] = pv_, pa_, pos[parent]
                child = parent
            else:
                break
        val[child], age[child], pos[child] = v, a, p
        items += 1
    while items > 0:
        p, pv = pos[0], val[0]
        items -= 1
        if items > 0:
            # the last item moves to the root and sifts down
            v, a, lp = val[items], age[items], pos[items]
            i = 0
            while True:
                lc = 2 * i + 1
                if lc >= items:
                    break
                sv, sa, s = v, a, i
                lv, la = val[lc], age[lc]
                if lv < sv or (lv == sv and la < sa):
                    sv, sa, s = lv, la, lc
                r = lc + 1
                if r < items:
                    rv, ra = val[r], age[r]
                    if rv < sv or (rv == sv and ra < sa):
                        sv, sa, s = rv, ra, r
                if s == i:
                    break
                val[i], age[i], pos[i] = sv, sa, pos[s]
                i = s
            val[i], age[i], pos[i] = v, a, lp
        y = p // w
        x = p - y * w
        lab = out[p]
        for k in range(4):  # scikit-image's raveled neighbour order: -W, -1, +1, +W
            if k == 0:
                if y == 0:
                    continue
                q = p - w
            elif k == 1:
                if x == 0:
                    continue
                q = p - 1
            elif k == 2:
                if x == w - 1:
                    continue
                q = p + 1
            else:
                if y == h - 1:
                    continue
                q = p + w
            if not msk[q] or out[q] != 0:
                continue
            count += 1
            out[q] = lab
            v = max(np.float64(img[q]), pv)  # never below the pixel that reached it
            a = count
            child = items
            while child > 0:
                parent = (child + 1) // 2 - 1
                pv_, pa_ = val[parent], age[parent]
                if v < pv_ or (v == pv_ and a < pa_):
                    val[child], age[child], pos[child] = pv_, pa_, pos[parent]
                    child = parent
                else:
                    break
            val[child], age[child], pos[child] = v, a, q
            items += 1
    return out.reshape(h, w)


def watershed(image: np.ndarray, markers: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """`skimage.segmentation.watershed(image, markers, mask=mask)` for 2-D images (labels int32)."""
    if image.ndim != 2 or markers.shape != image.shape or mask.shape != image.shape:
        raise ValueError(f"watershed needs 2-D image, markers and mask of one shape, got {image.shape}")
    m = np.ascontiguousarray(mask, np.bool_)
    return watershed_flood(np.ascontiguousarray(image), np.ascontiguousarray(markers, np.int32), m)
