"""Sub-cohort AC/AN/AF from the genotype index (cohort/index.py) instead of every row.

Compacted samples: per-site sums from the index (numpy: each chosen sample's default code everywhere plus
its listed, non-default codes). Samples added after the compaction: summed from their own
rows (few), added on without sorting every site again (combine.py). Sites first seen in those samples:
the compacted samples' AN there comes from their reference blocks in windows of `max_block` bases
before each such position (a few small reads). Withdrawal deletes rows, which makes the
summary (and so the index) stale until the compaction `withdraw` runs rebuilds both.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.dataset as pads

from labstream.cohort import stats
from labstream.cohort.index import GenotypeIndex, load_index
from labstream.cohort.schema import SUMMARY

__all__ = ["indexed_subcohort", "sum_codes"]

_COLS = ["kind", "sample", "contig", "start", "end", "ref", "alt", "ac", "an", "pos_an"]
_CHUNK = 1023  # rows summed into one packed int64 before decoding (the bit fields below cannot overflow)


def _lut() -> np.ndarray:
    c = np.arange(256)
    g, a = c & 15, c >> 4
    v = np.maximum(g - 1, 0)
    an2 = (g > 0) & (v >= 4)
    ac = np.where(g > 0, np.where(an2, v - 4, v), 0)
    flags = [(an2 & (ac == 1), 26), (an2 & (ac == 2), 37), (g > 0, 48)]
    return ac | a << 12 | sum(f.astype(np.int64) << s for f, s in flags)


_PACK = _lut().astype(np.int64)


_DELTA = _PACK[None, :] - _PACK[:, None]  # [default, code]: what a listed code adds over the default


def sum_codes(idx: GenotypeIndex, rows: list[int], lo: int, hi: int) -> dict[str, np.ndarray]:
    """ac, an, n_het, n_homalt and carriers-of-a-row counts per site in [lo, hi) over sample `rows`:
    each chosen sample's default code at every site, plus its listed codes (sparse) where they differ.
    (np.add.at holds the GIL: two threads were slower than one, measured on the 1 M-site index.)"""
    out = {k: np.zeros(hi - lo, np.int64) for k in ("ac", "an", "n_het", "n_homalt", "rows")}
    whole = lo == 0 and hi == idx.sites.num_rows
    for k in range(0, len(rows), _CHUNK):
        chunk = rows[k : k + _CHUNK]
        acc = np.full(hi - lo, int(_PACK[idx.default[chunk]].sum()), np.int64)
        for r in chunk:
            a, b = int(idx.indptr[r]), int(idx.indptr[r + 1])
            w = idx.where[a:b]
            if not whole:
                i, j = np.searchsorted(w, [lo, hi])
                a, b, w = a + i, a + j, w[i:j]
            np.add.at(acc, w - lo if lo else w, _DELTA[idx.default[r]][idx.code[a:b]])  # 3x `acc[w] +=`
        for name, shift, bits in (("ac", 0, 12), ("an", 12, 14), ("n_het", 26, 11), ("n_homalt", 37, 11)):
            out[name] += (acc >> shift) & ((1 << bits) - 1)
        out["rows"] += (acc >> 48) & 2047
    return out


def _span(sites: pa.Table, contig: str | None, start: int, end: int | None) -> tuple[int, int]:
    if contig is None:
        return 0, sites.num_rows
    for ctg, lo, hi in stats._runs(sites["contig"]):
        if ctg == contig:
            s = sites["start"].slice(lo, hi - lo).to_numpy()
            a = lo + int(np.searchsorted(s, start))
            return a, hi if end is None else lo + int(np.searchsorted(s, end))
    return 0, 0


def _windows(extra: pa.Table, look: int) -> pads.Expression | None:
    """Rows that can cover the positions of `extra`: start in [p - look, p], merged into ranges."""
    e = None
    for ctg, lo, hi in stats._runs(extra["contig"]):
        ranges: list[list[int]] = []
        for p in extra["start"].slice(lo, hi - lo).to_pylist():
            if ranges and p - look <= ranges[-1][1] + 1:
                ranges[-1][1] = p
            else:
                ranges.append([max(0, p - look), p])
        for a, b in ranges:
            one = (pads.field("contig") == ctg) & (pads.field("start") >= a) & (pads.field("start") <= b)
            e = one if e is None else e | one
    return e


def indexed_subcohort(store, samples: list[str], region, where_region) -> pa.Table | None:  # noqa: ANN001
    """`allele_stats` of the sub-cohort `samples` from the index, or None when there is no fresh index
    (not a local lake, never compacted, stale, or no compacted sample chosen): the caller reads rows."""
    if not store.lake.is_local:
        return None
    summary, delta, ok = store.base()
    if not ok or store._base is None or store._base[1] < 0:
        return None
    root = Path(store.lake.table_uri(SUMMARY.name)).parent
    idx = load_index(root, store._base[1], summary.samples["sample"].to_pylist())
    if idx is None:
        return None
    col = {s: i for i, s in enumerate(idx.samples)}
    chosen = sorted(set(samples))
    old = sorted(col[s] for s in chosen if s in col)
    new = [s for s in chosen if s not in col]
    if not old:
        return None
    r = region
    lo, hi = _span(idx.sites, None if r is None else r.contig, 0 if r is None else r.start, r and r.end)
    sums = sum_codes(idx, old, lo, hi)
    sites = idx.sites.slice(lo, hi - lo)
    first = np.r_[True, np.diff(_key(sites)) != 0] if sites.num_rows else np.zeros(0, bool)
    pos = pa.table({"contig": sites["contig"], "start": sites["start"], "an": sums["an"]})
    pos = pos.filter(pa.array(first))
    cols = {k: sites[k] for k in ("contig", "start", "ref", "alt")}
    cols.update({k: sums[k] for k in ("ac", "n_het", "n_homalt")})
    keep = sums["rows"] > 0
    site = pa.table(cols).filter(pa.array(keep)).cast(stats._SITE)
    parts = []
    if new:
        where = pads.field("sample").isin(new)
        where = where if where_region is None else where & where_region
        rows = store.dictionary_dataset(delta).to_table(filter=where, columns=_COLS)
        fresh = stats.summarize(rows, new)
        parts.append(fresh)
        pos = _add_extra(store, pos, fresh, [idx.samples[i] for i in old], delta)
    names = pa.table({"sample": pa.array([idx.samples[i] for i in old], pa.string())})
    old_part = stats.Summary(site, pos.cast(stats._POS), stats._POS.empty_table(), names)
    at = stats.finalize_onto(site, sums["an"][keep], lambda t: stats.an_at(old_part, t), parts, len(chosen))
    return stats.finalize_parts([old_part, *parts]) if at is None else at


def _key(t: pa.Table) -> np.ndarray:
    """One integer per (contig, start) that changes exactly where the position changes (sorted input)."""
    out = t["start"].to_numpy().astype(np.int64).copy()
    for n, (_, lo, hi) in enumerate(stats._runs(t["contig"])):
        out[lo:hi] += n << 40
    return out


def _add_extra(store, pos: pa.Table, fresh: stats.Summary, old: list[str], delta) -> pa.Table:  # noqa: ANN001
    """`pos` plus the compacted samples' AN at the positions first seen in the new samples."""
    have = pos.select(["contig", "start"]).append_column("i", pa.array(np.ones(pos.num_rows, np.int8)))
    cand = fresh.site.select(["contig", "start"]).group_by(["contig", "start"]).aggregate([])
    extra = cand.join(have, ["contig", "start"], join_type="left anti")
    if extra.num_rows == 0:
        return pos
    extra = extra.sort_by([("contig", "ascending"), ("start", "ascending")])
    done = set(delta.files)
    files = store._files()
    kept = [f for f in files.get_fragments() if f.path not in done]
    ds = pads.FileSystemDataset(kept, files.schema, files.format, files.filesystem)
    where = pads.field("sample").isin(old) & _windows(extra, store.max_block)
    near = stats.summarize(ds.to_table(filter=where, columns=_COLS), old)
    an = stats.an_at(near, extra)
    add = pa.table({"contig": extra["contig"], "start": extra["start"], "an": pa.array(an, pa.int64())})
    both = pa.concat_tables([pos.cast(stats._POS), add.cast(stats._POS)])
    return both.sort_by([("contig", "ascending"), ("start", "ascending")])
