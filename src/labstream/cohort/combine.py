"""Add a small per-site table into a large sorted one without sorting the large one again (pure).

Whole-cohort and sub-cohort answers are "stored summary (≈ every site) + the few samples added since":
a group-by and sort over the 4 string keys of ~1 M sites cost seconds, while matching the small table's
sites to the large one by position (binary search) and comparing ref/alt only there costs milliseconds.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

__all__ = ["add_sites"]

KEYS = ["contig", "start", "ref", "alt"]
SUMS = ["ac", "n_het", "n_homalt"]


def _glob(t: pa.Table, rank: dict[str, int]) -> np.ndarray:
    """rank(contig) << 40 | start: one sortable integer per row (contigs in string order)."""
    c = t["contig"].combine_chunks()
    d = c.dictionary if pa.types.is_dictionary(c.type) else pc.unique(c)
    lut = np.array([rank[v] for v in d.to_pylist()], np.int64)
    ids = c.indices.to_numpy() if pa.types.is_dictionary(c.type) else pc.index_in(c, d).to_numpy()
    return (lut[ids] << 40) | t["start"].to_numpy().astype(np.int64)


_MAX_NEW = 20_000  # sites of `small` not in `big` placed one by one; more: the caller sorts instead


def add_sites(big: pa.Table, small: pa.Table) -> tuple[pa.Table, np.ndarray] | None:
    """`big` + `small` (site tables: contig, start, ref, alt, ac, n_het, n_homalt; each sorted by the keys
    with unique keys): sums at shared sites, `small`'s other sites inserted in key order; with, per row
    of the result, its row in `big` (-1: a site only in `small`). None when `small` is not small (the
    caller groups and sorts instead)."""
    if small.num_rows == 0:
        return big, np.arange(big.num_rows)
    if small.num_rows > big.num_rows:
        return None
    contigs = sorted(set(pc.unique(big["contig"]).to_pylist()) | set(pc.unique(small["contig"]).to_pylist()))
    rank = {c: i for i, c in enumerate(contigs)}
    gb, gs = _glob(big, rank), _glob(small, rank)
    lo, hi = np.searchsorted(gb, gs, "left"), np.searchsorted(gb, gs, "right")
    one = hi - lo == 1
    at = np.minimum(lo, big.num_rows - 1)
    same = one & _eq(big, small, at, "ref") & _eq(big, small, at, "alt")
    match = np.where(same, lo, -1)
    if (~same).sum() > _MAX_NEW:
        return None
    ins = np.full(small.num_rows, -1, np.int64)
    s_ref, s_alt = small["ref"].to_pylist(), small["alt"].to_pylist()
    for k in np.flatnonzero(~same):  # few: sites first seen in the small part, multi-allelic positions
        key = (s_ref[k], s_alt[k])
        refs, alts = (big[c].slice(lo[k], hi[k] - lo[k]).to_pylist() for c in ("ref", "alt"))
        cand = list(zip(refs, alts, strict=True))
        if key in cand:
            match[k] = lo[k] + cand.index(key)
        else:
            ins[k] = lo[k] + sum(c < key for c in cand)
    sums = {c: big[c].to_numpy().astype(np.int64).copy() for c in SUMS}
    hit = match >= 0
    for c in SUMS:
        sums[c][match[hit]] += small[c].to_numpy()[hit]
    out = pa.table({**{k: big[k] for k in KEYS}, **{c: pa.array(sums[c]) for c in SUMS}})
    new = np.flatnonzero(~hit)
    if len(new) == 0:
        return out, np.arange(big.num_rows)
    extra = small.take(pa.array(new)).select(out.column_names).cast(out.schema)
    order = np.insert(np.arange(big.num_rows), ins[new], big.num_rows + np.arange(len(new)))
    src = np.where(order < big.num_rows, order, -1)
    return pa.concat_tables([out, extra]).combine_chunks().take(pa.array(order)), src


def _eq(big: pa.Table, small: pa.Table, at: np.ndarray, col: str) -> np.ndarray:
    """big[col][at] == small[col], row by row."""
    b = big[col].take(pa.array(at)).cast(pa.string())
    return pc.equal(b, small[col].cast(pa.string())).to_numpy(zero_copy_only=False)
