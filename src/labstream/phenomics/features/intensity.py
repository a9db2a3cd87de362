"""Per-object intensity statistics in NumPy: the reference (and fallback) for the compiled kernel.

Every reduction is a `np.bincount` over the foreground pixels of all objects at once. The compiled
path (`_kernels_intensity`) must agree with these to float rounding; tests hold it to that.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from labstream.phenomics.model import CHANNELS

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
    area = o.sum().astype(np.float64)
    nch, n = o.vals.shape[0], o.n
    key = (np.arange(nch)[:, None] * (n + 1) + o.lab[None, :]).ravel()

    def per_channel(w: np.ndarray) -> np.ndarray:  # (C, n) sums, every channel in one bincount
        return np.bincount(key, w.ravel(), minlength=nch * (n + 1)).reshape(nch, n + 1)[:, 1:]

    sums, sums2 = per_channel(o.vals), per_channel(o.vals * o.vals)
    sums_y, sums_x = per_channel(o.vals * o.y), per_channel(o.vals * o.x)
    qs, mads = [], []
    for c in range(nch):
        if quantiles is not None:
            q, mad = quantiles[c]
        else:
            x = o.vals[c]
            q = _sorted_quantiles(o.lab, x, o.n, QUANTILES)
            med = np.concatenate([[0.0], np.nan_to_num(q[0])])[o.lab]
            mad = _sorted_quantiles(o.lab, np.abs(x - med), o.n, (0.5,))[0]
        qs.append(q)
        mads.append(mad)
    return intensity_columns(comp, area, sums, sums2, sums_y, sums_x, np.stack(qs), np.stack(mads), cy, cx)


def intensity_columns(
    comp: str,
    area: np.ndarray,
    s: np.ndarray,
    s2: np.ndarray,
    sy: np.ndarray,
    sx: np.ndarray,
    q: np.ndarray,
    mad: np.ndarray,
    cy: np.ndarray,
    cx: np.ndarray,
) -> dict[str, np.ndarray]:
    """Intensity columns of one compartment from per-channel sums (C, n) of v, v^2, v*y, v*x,
    quantiles (C, 5, n) in QUANTILES order and MAD (C, n); (cy, cx) is the compartment's centre."""
    out: dict[str, np.ndarray] = {}
    safe = np.maximum(area, 1)
    for c, ch in enumerate(CHANNELS):
        mean = s[c] / safe
        std = np.sqrt(np.maximum(s2[c] / safe - mean**2, 0))
        qc = q[c]
        vals = (s[c], mean, std, qc[3], qc[4], qc[0], qc[1], qc[2], mad[c])
        for stat, v in zip(INTENSITY_STATS, vals, strict=True):
            out[f"{comp}_Intensity_{stat}_{ch}"] = np.where(area > 0, v, np.nan)
        sw = np.maximum(s[c], 1e-12)
        wy, wx = sy[c] / sw, sx[c] / sw
        out[f"{comp}_Intensity_MassDisplacement_{ch}"] = np.where(
            area > 0, np.hypot(wy - cy, wx - cx), np.nan
        )
    return out
