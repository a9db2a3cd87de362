"""Per-cell features, vectorised over all cells of a site at once.

Every reduction is a `np.bincount` or an `ndimage` label-indexed reduction over the whole image (no
Python loop over cells), so the cost grows with pixels, not cells. Column names follow CellProfiler
(`Cells_AreaShape_Area`, `Nuclei_Intensity_MeanIntensity_DNA`, `Cells_Texture_Contrast_ER_3`, ...).
Compartments: Nuclei, Cells and Cytoplasm (cell minus nucleus), sharing label ids.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import pandas as pd
from scipy import ndimage as ndi

from labstream.phenomics.model import CHANNELS
from labstream.phenomics.segmentation import Segmentation
from labstream.phenomics.texture import (
    correlation_features,
    granularity_features,
    haralick_features,
    radial_features,
)

COMPARTMENTS = ("Nuclei", "Cells", "Cytoplasm")
INTENSITY_STATS = (
    "IntegratedIntensity",
    "MeanIntensity",
    "StdIntensity",
    "MinIntensity",
    "MaxIntensity",
    "MedianIntensity",
    "LowerQuartileIntensity",
    "UpperQuartileIntensity",
    "MADIntensity",
)
MOMENTS = ((2, 0), (1, 1), (0, 2), (3, 0), (2, 1), (1, 2), (0, 3))


@dataclass
class Objects:
    """Foreground pixels of one compartment as flat vectors: every reduction below touches only these."""

    lab: np.ndarray  # label of each foreground pixel (1..n)
    y: np.ndarray
    x: np.ndarray
    vals: np.ndarray  # (C, P) pixel values of every channel
    n: int

    @classmethod
    def of(cls, labels: np.ndarray, flat_pixels: np.ndarray, n: int) -> Objects:
        idx = np.flatnonzero(labels)
        y, x = np.divmod(idx, labels.shape[1])
        vals = flat_pixels[:, idx].astype(np.float64)
        return cls(labels.ravel()[idx], y.astype(np.float64), x.astype(np.float64), vals, n)

    def subset(self, keep: np.ndarray) -> Objects:
        """The pixels where `keep` holds (same order), e.g. a cell's nucleus or cytoplasm."""
        return Objects(self.lab[keep], self.y[keep], self.x[keep], self.vals[:, keep], self.n)

    def sum(self, w: np.ndarray | None = None) -> np.ndarray:
        return np.bincount(self.lab, w, minlength=self.n + 1)[1:]


def _quantiles_of_sorted(sv: np.ndarray, counts: np.ndarray, qs: tuple[float, ...]) -> np.ndarray:
    """Linear-interpolated per-object quantiles (len(qs), n) of values `sv` sorted by (object, value)."""
    out = np.full((len(qs), counts.size), np.nan)
    if sv.size == 0:
        return out
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
    has = counts > 0
    last = starts + np.maximum(counts - 1, 0)
    for i, q in enumerate(qs):
        pos = starts + q * np.maximum(counts - 1, 0)
        a = np.minimum(np.floor(pos).astype(np.int64), sv.size - 1)
        b = np.minimum(np.minimum(a + 1, last), sv.size - 1)
        frac = pos - np.floor(pos)
        out[i, has] = (sv[a] * (1 - frac) + sv[b] * frac)[has]
    return out


def _sorted_quantiles(lab: np.ndarray, val: np.ndarray, n: int, qs: tuple[float, ...]) -> np.ndarray:
    """Per-label quantiles (len(qs), n) by one argsort of label + value scaled into [0, 1)."""
    if val.size == 0:
        return np.full((len(qs), n), np.nan)
    lo, hi = float(val.min()), float(val.max())
    order = np.argsort(lab + (val - lo) * (0.999 / max(hi - lo, 1e-12)))
    return _quantiles_of_sorted(val[order], np.bincount(lab, minlength=n + 1)[1:], qs)


QUANTILES = (0.5, 0.25, 0.75, 0.0, 1.0)
_VBITS = 16  # integer pixel values below 2**16 take the sort-free-of-floats path


def _mad_of_sorted(groups: list[tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]]) -> list[np.ndarray]:
    """Median absolute deviation per object for several groups of integer values sorted by (object, value).

    Each group is (labels, values, counts per object, median per object). The k-th smallest |v - med|
    of an object is found by bisection on the distance t, counting its values in [med - t, med + t]
    with two `searchsorted` calls on the sorted (group, object, 2v) keys: no second sort, and every
    object of every group is bisected in the same vector ops. Distances are doubled so half-integer
    medians stay integral.
    """
    n = groups[0][2].size
    big = 1 << (_VBITS + 2)
    keys = np.concatenate(
        [
            (g * (n + 1) + lab.astype(np.int64)) * big + 2 * v.astype(np.int64)
            for g, (lab, v, _, _) in enumerate(groups)
        ]
    )
    counts = np.concatenate([grp[2] for grp in groups])
    m2 = np.rint(2 * np.nan_to_num(np.concatenate([grp[3] for grp in groups]))).astype(np.int64)
    ids = np.arange(len(groups) * n, dtype=np.int64)
    base = (ids // n * (n + 1) + ids % n + 1) * big
    pos = 0.5 * np.maximum(counts - 1, 0)
    ja = np.floor(pos).astype(np.int64)
    jb = np.minimum(ja + 1, np.maximum(counts - 1, 0))
    frac = pos - ja
    j, base2, m22 = np.concatenate([ja, jb]), np.concatenate([base, base]), np.concatenate([m2, m2])
    lo, hi = np.zeros(j.size, np.int64), np.full(j.size, big - 1, np.int64)
    while (lo < hi).any():
        mid = (lo + hi) // 2
        upper = base2 + np.minimum(m22 + mid, big - 1)
        lower = base2 + np.maximum(m22 - mid, 0)
        ok = np.searchsorted(keys, upper, "right") - np.searchsorted(keys, lower, "left") >= j + 1
        hi = np.where(ok, mid, hi)
        lo = np.where(ok, lo, mid + 1)
    d = lo.astype(np.float64)
    mad = np.where(counts > 0, (d[: ids.size] * (1 - frac) + d[ids.size :] * frac) / 2, np.nan)
    return [mad[g * n : (g + 1) * n] for g in range(len(groups))]


def fast_quantile_stats(
    oc: Objects, nuc_flat_of_cells: np.ndarray
) -> dict[str, list[tuple[np.ndarray, np.ndarray]]] | None:
    """Quantiles + MAD of every channel for Cells, Nuclei and Cytoplasm from ONE sort per channel.

    Needs integer pixels below 2**16 and nuclei inside their own cell (the classic segmenter's
    contract); returns None otherwise and the caller falls back to per-compartment argsorts. The sort
    key packs (cell, value, is-nucleus) into one integer, so the nucleus and cytoplasm subsets of the
    sorted cell pixels are already sorted by (object, value).
    """
    n = oc.n
    if n == 0 or oc.vals.size == 0 or oc.vals.min() < 0 or oc.vals.max() >= (1 << _VBITS):
        return None
    if not np.array_equal(np.rint(oc.vals), oc.vals):
        return None
    shift = _VBITS + 1
    dtype = np.uint32 if n < (1 << (32 - shift)) else np.uint64
    head = (oc.lab.astype(dtype) << dtype(shift)) | (nuc_flat_of_cells > 0).astype(dtype)
    labs, vals, names = [], [], []
    for c in range(oc.vals.shape[0]):
        sk = np.sort(head | (oc.vals[c].astype(dtype) << dtype(1)))
        lab = (sk >> dtype(shift)).astype(np.int64)
        v = ((sk >> dtype(1)) & dtype((1 << _VBITS) - 1)).astype(np.float64)
        nucbit = (sk & dtype(1)).astype(bool)
        for comp, sel in (("Cells", None), ("Nuclei", nucbit), ("Cytoplasm", ~nucbit)):
            labs.append(lab if sel is None else lab[sel])
            vals.append(v if sel is None else v[sel])
            names.append(comp)
    # every (channel, compartment) group's quantiles in one pass over the concatenated sorted values
    counts = [np.bincount(lab_c, minlength=n + 1)[1:] for lab_c in labs]
    q_all = _quantiles_of_sorted(np.concatenate(vals), np.concatenate(counts), QUANTILES)
    quants = [q_all[:, g * n : (g + 1) * n] for g in range(len(names))]
    groups = [(lab_c, v_c, cnt, q[0]) for lab_c, v_c, cnt, q in zip(labs, vals, counts, quants, strict=True)]
    out: dict[str, list[tuple[np.ndarray, np.ndarray]]] = {comp: [] for comp in COMPARTMENTS}
    for comp, q, mad in zip(names, quants, _mad_of_sorted(groups), strict=True):
        out[comp].append((q, mad))
    return out


def intensity_features(
    o: Objects,
    comp: str,
    cy: np.ndarray,
    cx: np.ndarray,
    quantiles: list[tuple[np.ndarray, np.ndarray]] | None = None,
) -> dict[str, np.ndarray]:
    """Nine intensity statistics and mass displacement per channel for one compartment."""
    out: dict[str, np.ndarray] = {}
    area = o.sum().astype(np.float64)
    safe = np.maximum(area, 1)
    nch, n = o.vals.shape[0], o.n
    key = (np.arange(nch)[:, None] * (n + 1) + o.lab[None, :]).ravel()

    def per_channel(w: np.ndarray) -> np.ndarray:  # (C, n) sums, every channel in one bincount
        return np.bincount(key, w.ravel(), minlength=nch * (n + 1)).reshape(nch, n + 1)[:, 1:]

    sums, sums2 = per_channel(o.vals), per_channel(o.vals * o.vals)
    sums_y, sums_x = per_channel(o.vals * o.y), per_channel(o.vals * o.x)
    for c, ch in enumerate(CHANNELS):
        x = o.vals[c]
        s, s2 = sums[c], sums2[c]
        mean = s / safe
        std = np.sqrt(np.maximum(s2 / safe - mean**2, 0))
        if quantiles is not None:
            q, mad = quantiles[c]
        else:
            q = _sorted_quantiles(o.lab, x, o.n, QUANTILES)
            med = np.concatenate([[0.0], np.nan_to_num(q[0])])[o.lab]
            mad = _sorted_quantiles(o.lab, np.abs(x - med), o.n, (0.5,))[0]
        vals = (s, mean, std, q[3], q[4], q[0], q[1], q[2], mad)
        for stat, v in zip(INTENSITY_STATS, vals, strict=True):
            out[f"{comp}_Intensity_{stat}_{ch}"] = np.where(area > 0, v, np.nan)
        sw = np.maximum(s, 1e-12)
        wy, wx = sums_y[c] / sw, sums_x[c] / sw
        out[f"{comp}_Intensity_MassDisplacement_{ch}"] = np.where(
            area > 0, np.hypot(wy - cy, wx - cx), np.nan
        )
    return out


def shape_features(
    labels: np.ndarray, o: Objects, comp: str
) -> tuple[dict[str, np.ndarray], np.ndarray, np.ndarray]:
    """Area, axes, eccentricity, moments (vectorised) + perimeter, solidity, Euler (regionprops)."""
    n = o.n
    area = np.concatenate([[0.0], o.sum().astype(np.float64)])
    safe = np.maximum(area, 1)
    cy = np.concatenate([[0.0], o.sum(o.y)]) / safe
    cx = np.concatenate([[0.0], o.sum(o.x)]) / safe
    dy, dx = o.y - cy[o.lab], o.x - cx[o.lab]
    dy2, dx2 = dy * dy, dx * dx
    terms = {(2, 0): dy2, (1, 1): dy * dx, (0, 2): dx2, (3, 0): dy2 * dy}
    terms.update({(2, 1): dy2 * dx, (1, 2): dx2 * dy, (0, 3): dx2 * dx})
    mu = {pq: np.concatenate([[0.0], o.sum(terms[pq])]) for pq in MOMENTS}
    # normalized central moments nu_pq = mu_pq / area^(1 + (p+q)/2)
    nu = {pq: mu[pq] / safe ** (1 + sum(pq) / 2) for pq in MOMENTS}
    a, b, c = mu[(2, 0)] / safe, mu[(1, 1)] / safe, mu[(0, 2)] / safe
    root = np.sqrt(np.maximum((a - c) ** 2 + 4 * b**2, 0))
    l1, l2 = (a + c + root) / 2, np.maximum((a + c - root) / 2, 0)
    major, minor = 4 * np.sqrt(l1), 4 * np.sqrt(l2)
    ecc = np.sqrt(np.clip(1 - l2 / np.maximum(l1, 1e-12), 0, 1))
    orient = 0.5 * np.arctan2(-2 * b, c - a)
    hu = _hu(nu)
    per, sol, eul, ext = (np.full(n + 1, np.nan) for _ in range(4))
    per[1:], eul[1:] = _perimeter_euler(labels, n)
    sol[1:] = area[1:] / np.maximum(_hull_areas(labels, n), 1)
    boxes = ndi.find_objects(labels, max_label=n)
    bbox_area = np.array([(b[0].stop - b[0].start) * (b[1].stop - b[1].start) if b else 0 for b in boxes])
    ext[1:] = area[1:] / np.maximum(bbox_area, 1)
    f: dict[str, np.ndarray] = {
        "Area": area,
        "Perimeter": per,
        "FormFactor": 4 * np.pi * area / np.maximum(per, 1e-6) ** 2,
        "Eccentricity": ecc,
        "Solidity": sol,
        "Extent": ext,
        "EulerNumber": eul,
        "MajorAxisLength": major,
        "MinorAxisLength": minor,
        "Orientation": np.degrees(orient),
        "EquivalentDiameter": np.sqrt(4 * area / np.pi),
        "Compactness": (mu[(2, 0)] + mu[(0, 2)]) / safe * 2 * np.pi / safe,
    }
    for i in range(7):
        f[f"HuMoment_{i}"] = hu[i]
    for pq in MOMENTS:
        f[f"NormalizedMoment_{pq[0]}_{pq[1]}"] = nu[pq]
    out = {f"{comp}_AreaShape_{k}": np.where(area > 0, v, np.nan)[1:] for k, v in f.items()}
    return out, cy[1:], cx[1:]


def _lower_hull_integral(lab: np.ndarray, u: np.ndarray, v: np.ndarray, n: int) -> np.ndarray:
    """Integral over u of the lower convex hull of points (u, v), per object.

    Points are sorted by (object, u, v). Every pass drops, for all objects at once, each interior point
    lying on or above the chord of its neighbours (such a point is no hull vertex, so dropping many
    at once is safe); when nothing drops, each chain is its lower hull, integrated by trapezoids.
    """
    while True:
        same = (lab[1:-1] == lab[:-2]) & (lab[1:-1] == lab[2:])
        ua, va, ub, vb = u[:-2], v[:-2], u[2:], v[2:]
        cross = (u[1:-1] - ua) * (vb - va) - (v[1:-1] - va) * (ub - ua)
        drop = same & (cross <= 0)
        if not drop.any():
            break
        keep = np.concatenate([[True], ~drop, [True]])
        lab, u, v = lab[keep], u[keep], v[keep]
    seg = lab[1:] == lab[:-1]
    trap = np.where(seg, (u[1:] - u[:-1]) * (v[1:] + v[:-1]) / 2, 0.0)
    return np.bincount(lab[1:], trap, minlength=n + 1)[1:]


def _hull_areas(labels: np.ndarray, n: int) -> np.ndarray:
    """Convex hull area of each object's pixel squares, for all objects at once.

    The hull of an object's pixel squares is the hull of the outer corners of each row's leftmost and
    rightmost pixel; it is the region between the lower hull of the left corners and the upper hull
    of the right corners (in the (row, column) plane), so its area is the difference of two integrals.
    Equals Qhull on every boundary pixel corner (the previous implementation) to float rounding.
    """
    h, w = labels.shape
    pad = np.pad(labels, ((0, 0), (1, 1)))
    inner = pad[:, 1:-1]
    starts = (inner > 0) & (pad[:, :-2] != inner)
    ends = (inner > 0) & (pad[:, 2:] != inner)
    out = []
    for mask, sign in ((starts, 1.0), (ends, -1.0)):
        ys, xs = np.nonzero(mask)
        key = labels[ys, xs].astype(np.int64) * h + ys
        # leftmost start (first in raster order) / rightmost end (last) of each object row
        if sign > 0:
            uk, first = np.unique(key, return_index=True)
        else:
            uk, rev = np.unique(key[::-1], return_index=True)
            first = key.size - 1 - rev
        lab, y = uk // h, (uk % h).astype(np.float64)
        x = xs[first].astype(np.float64) - sign * 0.5  # outer corner column
        lab2 = np.repeat(lab, 2)
        u = np.stack([y - 0.5, y + 0.5], axis=1).ravel()
        vv = np.repeat(sign * x, 2)  # the right side's upper hull is the lower hull of -x
        out.append(sign * _lower_hull_integral(lab2, u, vv, n))
    return out[1] - out[0]


_PERIM_W = np.zeros(50)
_PERIM_W[[5, 7, 15, 17, 25, 27]] = 1
_PERIM_W[[21, 33]] = np.sqrt(2)
_PERIM_W[[13, 23]] = (1 + np.sqrt(2)) / 2
_EULER8 = np.array([0, 0, 0, 0, 0, 0, -1, 0, 1, 0, 0, 0, 0, 0, -1, 0], np.float64)


def _perimeter_euler(labels: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    """scikit-image's regionprops perimeter (4-neighbourhood) and Euler number (8-connectivity) of
    every object from whole-image shifts, without cropping each region.

    Perimeter: border pixels (some 4-neighbour is another label) weighted by the configuration of
    same-object border neighbours (Benkrid & Crookes, skimage's weights). Euler: bit-quad counts over
    every 2x2 window, per object present in the window (skimage's 8-connectivity coefficients).
    """
    p = np.pad(labels, 1)
    c = p[1:-1, 1:-1]
    nb4 = [p[:-2, 1:-1], p[2:, 1:-1], p[1:-1, :-2], p[1:-1, 2:]]
    interior = (c > 0) & (nb4[0] == c) & (nb4[1] == c) & (nb4[2] == c) & (nb4[3] == c)
    border = np.pad(np.where(interior, 0, c), 1)
    ys, xs = np.nonzero(border)  # padded coordinates of border pixels only
    bl = border[ys, xs]
    code = np.ones(ys.size, np.int64)
    for dy in (-1, 0, 1):
        for dx in (-1, 0, 1):
            if dy or dx:
                code += (10 if dy and dx else 2) * (border[ys + dy, xs + dx] == bl)
    per = np.bincount(bl, _PERIM_W[np.minimum(code, 49)], minlength=n + 1)[1:]
    a, b, cc, d = p[1:, 1:], p[:-1, 1:], p[1:, :-1], p[:-1, :-1]
    mixed = ~((a == b) & (a == cc) & (a == d))
    a, b, cc, d = a[mixed], b[mixed], cc[mixed], d[mixed]
    eul = np.zeros(n + 1)
    for lab, first in (
        (a, True),
        (b, b != a),
        (cc, (cc != a) & (cc != b)),
        (d, (d != a) & (d != b) & (d != cc)),
    ):
        sel = first & (lab > 0)
        L = lab[sel]
        cfg = (a[sel] == L) * 1 + (b[sel] == L) * 2 + (cc[sel] == L) * 4 + (d[sel] == L) * 8
        eul += np.bincount(L, _EULER8[cfg], minlength=n + 1)
    return per, eul[1:]


def _hu(nu: dict[tuple[int, int], np.ndarray]) -> list[np.ndarray]:
    n20, n11, n02 = nu[(2, 0)], nu[(1, 1)], nu[(0, 2)]
    n30, n21, n12, n03 = nu[(3, 0)], nu[(2, 1)], nu[(1, 2)], nu[(0, 3)]
    t1, t2 = n30 + n12, n21 + n03
    return [
        n20 + n02,
        (n20 - n02) ** 2 + 4 * n11**2,
        (n30 - 3 * n12) ** 2 + (3 * n21 - n03) ** 2,
        t1**2 + t2**2,
        (n30 - 3 * n12) * t1 * (t1**2 - 3 * t2**2) + (3 * n21 - n03) * t2 * (3 * t1**2 - t2**2),
        (n20 - n02) * (t1**2 - t2**2) + 4 * n11 * t1 * t2,
        (3 * n21 - n03) * t1 * (t1**2 - 3 * t2**2) - (n30 - 3 * n12) * t2 * (3 * t1**2 - t2**2),
    ]


def cell_feature_block(
    pixels: np.ndarray,
    seg: Segmentation,
    *,
    texture_distances: tuple[int, ...] = (1, 3),
    granularity_scales: int = 6,
) -> tuple[list[str], np.ndarray]:
    """Column names and a (cells, columns) float64 block: `Metadata_Object`, centre coordinates and
    >= 300 features per cell (the array form of `cell_features`, without pandas overhead)."""
    n = seg.count
    nuc, cells = seg.nuclei, seg.cells
    flat = pixels.reshape(pixels.shape[0], -1)
    oc = Objects.of(cells, flat, n)
    nuc_of_cells = nuc.ravel()[np.flatnonzero(cells)]
    same = bool(np.array_equal(cells[nuc > 0], nuc[nuc > 0]))  # every nucleus inside its own cell
    if same:  # nuclei and cytoplasm are subsets of the cell pixels: no second pass over the image
        on, oy = oc.subset(nuc_of_cells > 0), oc.subset(nuc_of_cells == 0)
    else:
        on, oy = Objects.of(nuc, flat, n), Objects.of(np.where(nuc > 0, 0, cells), flat, n)
    cols: dict[str, np.ndarray] = {"Metadata_Object": np.arange(1, n + 1)}
    shape_n, ny, nx = shape_features(nuc, on, "Nuclei")
    shape_c, cy, cx = shape_features(cells, oc, "Cells")
    cols["Metadata_Cell_Y"], cols["Metadata_Cell_X"] = cy, cx
    cols.update(shape_n)
    cols.update(shape_c)
    cols["Cytoplasm_AreaShape_Area"] = oy.sum().astype(np.float64)
    quant = (
        fast_quantile_stats(oc, nuc_of_cells) if same and np.issubdtype(pixels.dtype, np.integer) else None
    )
    for comp, o, (yc, xc) in (("Nuclei", on, (ny, nx)), ("Cells", oc, (cy, cx)), ("Cytoplasm", oy, (cy, cx))):
        cols.update(intensity_features(o, comp, yc, xc, quant[comp] if quant else None))
    rng = {k: [(q[3], q[4]) for q, _ in quant[k]] for k in ("Cells", "Nuclei")} if quant else {}
    cols.update(haralick_features(cells, pixels, n, "Cells", texture_distances, rng.get("Cells")))
    cols.update(haralick_features(nuc, pixels, n, "Nuclei", texture_distances[:1], rng.get("Nuclei")))
    cols.update(granularity_features(cells, pixels, n, "Cells", granularity_scales))
    cols.update(correlation_features(oc.lab, oc.vals, n, "Cells"))
    cols.update(correlation_features(on.lab, on.vals, n, "Nuclei"))
    cols.update(radial_features(cells, nuc, pixels, n, "Cells", ny, nx))
    names = list(cols)
    block = np.empty((n, len(names)), np.float64)
    for j, k in enumerate(names):
        block[:, j] = cols[k]
    return names, block


def cell_features(
    pixels: np.ndarray,
    seg: Segmentation,
    *,
    texture_distances: tuple[int, ...] = (1, 3),
    granularity_scales: int = 6,
) -> pd.DataFrame:
    """One row per cell with >= 300 features plus `Metadata_Object`, centre coordinates."""
    names, block = cell_feature_block(
        pixels, seg, texture_distances=texture_distances, granularity_scales=granularity_scales
    )
    df = pd.DataFrame(block, columns=names)
    df["Metadata_Object"] = df["Metadata_Object"].astype(np.int64)
    return df


def feature_columns(df: pd.DataFrame) -> list[str]:
    """Feature columns: every column that is not metadata (pycytominer's convention)."""
    return [c for c in df.columns if not c.startswith("Metadata_")]


def illumination_scaled(columns: list[str]) -> dict[str, int]:
    """Intensity features that scale with illumination -> channel index (for deferred correction)."""
    out = {}
    for c in columns:
        parts = c.split("_")
        if len(parts) == 4 and parts[1] == "Intensity" and parts[2] in INTENSITY_STATS:
            out[c] = CHANNELS.index(parts[3])
    return out


@lru_cache(maxsize=1)
def cell_feature_names() -> tuple[str, ...]:
    """Every column `cell_features` produces, in order (measured on a tiny synthetic site once)."""
    yy, xx = np.mgrid[0:48, 0:48]
    nuclei = (((yy - 24) ** 2 + (xx - 24) ** 2) < 36).astype(np.int32)
    cells = (((yy - 24) ** 2 + (xx - 24) ** 2) < 144).astype(np.int32)
    pixels = np.stack([(cells * (c + 1) * 100 + yy * xx % 7).astype(np.uint16) for c in range(len(CHANNELS))])
    return tuple(cell_features(pixels, Segmentation(nuclei, cells)).columns)
