"""The per-site genotype index that `compact()` keeps beside the Delta tables (local lakes).

For the compacted samples: one uint8 per (sample, site) in `codes.npy` (samples x sites, sample-major,
read as a memory map), the sites in `sites.parquet` (the stored summary's site table order: contig,
start, ref, alt) and `meta.json` (format, the calls version `through` it covers = the summary's, the
sample order). A code is `g | a << 4`:
- `a` (0..15): the alleles this sample adds to AN at the site's position (reference-block coverage there
  plus the record alleles starting there, exactly as `stats.an_at` sums them; AN is positional);
- `g`: 0 = no variant row for this allele, else 1 + ac + 4 * (an == 2) of its row (n_het: ac = 1 and
  an = 2; n_homalt: ac = 2 and an = 2, as `stats.summarize` counts them).
A cohort where a sample has two rows for one allele, ac > 3 or a > 15 gets no index (queries read rows).
An index whose `through` is not the stored summary's is stale and never used.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from labstream.cohort import stats

__all__ = ["FORMAT", "GenotypeIndex", "build_index", "index_dir", "keep_index", "load_index"]

FORMAT = 1
_KEYS = ["contig", "start", "ref", "alt"]


@dataclass(frozen=True)
class GenotypeIndex:
    through: int
    samples: list[str]
    sites: pa.Table  # contig, start, ref, alt (sorted like the summary)
    codes: np.ndarray  # uint8, samples x sites (memory map)


def index_dir(lake_root: Path) -> Path:
    return lake_root / "cohort_index"


def _positions(sites: pa.Table) -> tuple[np.ndarray, np.ndarray, dict[str, int]]:
    """(global position of each site, sorted unique global positions, contig -> rank); global =
    rank << 40 | start, so sites of one contig stay in start order and contigs never mix."""
    rank: dict[str, int] = {}
    glob = np.zeros(sites.num_rows, np.int64)
    start = sites["start"].to_numpy()
    for ctg, lo, hi in stats._runs(sites["contig"]):
        rank[ctg] = len(rank)
        glob[lo:hi] = (rank[ctg] << 40) | start[lo:hi]
    return glob, np.unique(glob), rank


def _ids(col: pa.ChunkedArray | pa.Array, mapping: dict[str, int]) -> np.ndarray:
    """mapping[value] for each value of a string or dictionary column (-1 where absent), without a
    Python object per row."""
    col = col.combine_chunks() if isinstance(col, pa.ChunkedArray) else col
    if not pa.types.is_dictionary(col.type):
        col = pc.dictionary_encode(col)
    lut = np.array([mapping.get(v, -1) for v in col.dictionary.to_pylist()] + [-1], np.int64)
    return lut[col.indices.fill_null(len(col.dictionary)).to_numpy()]


def _glob(t: pa.Table, col: str, rank: dict[str, int]) -> np.ndarray:
    """Global positions of `t[col]` (rows of contigs without sites get -1)."""
    r = _ids(t["contig"], rank)
    return np.where(r >= 0, (r << 40) | t[col].to_numpy().astype(np.int64), -1)


def build_index(summary: stats.Summary, groups: Iterable[pa.Table], through: int, root: Path) -> bool:
    """Write the index of `summary`'s samples from their rows (`groups`: tables of SUMMARY_INPUT columns,
    read in turn). Returns False (and removes any index) when the codes cannot hold the cohort."""
    sites = summary.site.select(_KEYS)
    names = summary.samples["sample"].to_pylist()
    col = {s: i for i, s in enumerate(names)}
    glob, upos, rank = _positions(sites)
    n_s, n_p = len(names), len(upos)
    cover = np.zeros((n_s, n_p + 1), np.int16)  # coverage as +an / -an steps, summed along positions
    g = np.zeros((n_s, sites.num_rows), np.uint8)
    key = pa.table({**{k: sites[k] for k in _KEYS}, "i": pa.array(np.arange(sites.num_rows), pa.int64())})
    for rows in groups:
        who = _ids(rows["sample"], col)
        is_var = _ids(rows["kind"], {"var": 1}) == 1
        blocks = ~is_var & (rows["an"].to_numpy() > 0)
        ref, rw = rows.filter(pa.array(blocks)), who[blocks]
        lo = np.searchsorted(upos, _glob(ref, "start", rank))
        hi = np.searchsorted(upos, _glob(ref, "end", rank))
        an = ref["an"].to_numpy().astype(np.int16)
        np.add.at(cover, (rw, lo), an)
        np.add.at(cover, (rw, hi), -an)
        var = rows.filter(pa.array(is_var)).append_column("w", pa.array(who[is_var]))
        at = np.searchsorted(upos, _glob(var, "start", rank))  # record alleles: AN at the position
        pos_an = var["pos_an"].to_numpy().astype(np.int16)
        np.add.at(cover, (var["w"].to_numpy(), at), pos_an)
        np.add.at(cover, (var["w"].to_numpy(), at + 1), -pos_an)
        hit = _join(var, key)
        w, i = hit["w"].to_numpy(), hit["i"].to_numpy()
        ac, an2 = hit["ac"].to_numpy(), hit["an"].to_numpy() == 2
        if len(hit) and (ac.max() > 3 or ac.min() < 0 or np.any(g[w, i] != 0)):
            return _drop(root)
        g[w, i] = 1 + ac + 4 * an2
    at_site = np.searchsorted(upos, glob)
    for lo in range(0, n_s, 256):  # AN codes 256 samples at a time (bounded extra memory)
        a = np.cumsum(cover[lo : lo + 256], axis=1, dtype=np.int16)[:, at_site]
        if a.size and (a.max() > 15 or a.min() < 0):
            return _drop(root)
        g[lo : lo + 256] |= a.astype(np.uint8) << 4
    _write(root, through, names, sites, g)
    return True


def _join(var: pa.Table, key: pa.Table) -> pa.Table:
    """(w, i, ac, an) of each variant row with the index `i` of its site (DuckDB: reads the dictionary
    columns as they are, several times faster than casting them for an Arrow join)."""
    con = stats._con()
    con.register("v", var.select(["w", *_KEYS, "ac", "an"]))
    con.register("k", key)
    out = con.sql("SELECT v.w, k.i, v.ac, v.an FROM v JOIN k USING (contig, start, ref, alt)")
    out = out.to_arrow_table()
    stats._release(con, "v", "k")
    return out


def _drop(root: Path) -> bool:
    shutil.rmtree(index_dir(root), ignore_errors=True)
    return False


def _write(root: Path, through: int, names: list[str], sites: pa.Table, codes: np.ndarray) -> None:
    """Write into a new folder named by `through`, then point `meta.json` at it (atomic rename): a
    reader sees the old index or the new one, never half of one."""
    d = index_dir(root)
    part = d / f"v{through}"
    shutil.rmtree(part, ignore_errors=True)
    part.mkdir(parents=True)
    np.save(part / "codes.npy", codes)
    pq.write_table(sites, part / "sites.parquet")
    meta = {"format": FORMAT, "through": through, "dir": part.name, "samples": names}
    tmp = d / "meta.json.tmp"
    tmp.write_text(json.dumps(meta))
    os.replace(tmp, d / "meta.json")
    for old in d.iterdir():
        if old.is_dir() and old.name != part.name:
            shutil.rmtree(old, ignore_errors=True)


def load_index(root: Path, through: int, samples: list[str]) -> GenotypeIndex | None:
    """The index if it covers exactly calls version `through` and these `samples` (its own column order);
    else None (stale)."""
    d = index_dir(root)
    try:
        meta = json.loads((d / "meta.json").read_text())
        if (
            meta.get("format") != FORMAT
            or meta.get("through") != through
            or set(meta["samples"]) != set(samples)
        ):
            return None
        part = d / meta["dir"]
        codes = np.load(part / "codes.npy", mmap_mode="r")
        sites = pq.read_table(part / "sites.parquet")
    except (OSError, ValueError, KeyError):
        return None
    if codes.shape != (len(samples), sites.num_rows):
        return None
    return GenotypeIndex(through, meta["samples"], sites, codes)


def keep_index(store, summary: stats.Summary, through: int) -> bool:  # noqa: ANN001
    """Keep `store`'s index for `summary` (compaction calls this): rebuilt from every row when stale."""
    from labstream.cohort.schema import SUMMARY
    from labstream.cohort.store import SUMMARY_INPUT

    root = Path(store.lake.table_uri(SUMMARY.name)).parent
    if not store.lake.is_local or load_index(root, through, summary.samples["sample"].to_pylist()):
        return bool(store.lake.is_local)
    steps = store.row_groups(store.dictionary_dataset(store._files(through)), 5_000_000)
    return build_index(summary, (s.to_table(columns=SUMMARY_INPUT) for s in steps), through, root)
