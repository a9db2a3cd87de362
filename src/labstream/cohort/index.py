"""The per-site genotype index that `compact()` keeps beside the Delta tables (local lakes).

For the compacted samples, one code per (sample, site), stored sparse: each sample's most common code
(`default.npy`, uint8 per sample) and its other codes as a CSR matrix (`indptr.npy`: int64, samples + 1;
`where.i32`: the site of each entry, ascending within a sample; `code.u8`: its code; raw little-endian,
read as memory maps). In a real cohort nearly every genotype is "covered, hom-ref" (the default), so a
sub-cohort sum touches only each chosen sample's variants, gaps and no-calls (~8% of its sites). The sites
are in `sites.parquet` (the stored summary's site table order: contig, start, ref, alt), and `meta.json`
holds the format, the calls version `through` it covers (= the summary's) and the sample order.
A code is `g | a << 4`:
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

FORMAT = 2
_CHUNK = 128  # samples whose dense codes are made at once while writing (bounded extra memory)
_KEYS = ["contig", "start", "ref", "alt"]


@dataclass(frozen=True)
class GenotypeIndex:
    through: int
    samples: list[str]
    sites: pa.Table  # contig, start, ref, alt (sorted like the summary)
    default: np.ndarray  # uint8 per sample: its code at every site not listed below
    indptr: np.ndarray  # int64, samples + 1: sample r's other codes are entries indptr[r]:indptr[r+1]
    where: np.ndarray  # int32 per entry: the site (ascending within a sample; memory map)
    code: np.ndarray  # uint8 per entry (memory map)

    def row(self, r: int) -> np.ndarray:
        """Sample r's dense codes at every site."""
        out = np.full(self.sites.num_rows, self.default[r], np.uint8)
        a, b = self.indptr[r], self.indptr[r + 1]
        out[self.where[a:b]] = self.code[a:b]
        return out


_LOADED: dict[Path, tuple[tuple, GenotypeIndex]] = {}  # per folder: the last loaded (meta.json unchanged)


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
    names = list(dict.fromkeys(summary.samples["sample"].to_pylist()))
    col = {s: i for i, s in enumerate(names)}
    glob, upos, rank = _positions(sites)
    n_s, n_p = len(names), len(upos)
    cover = np.zeros((n_s, n_p + 1), np.int8)  # coverage as +an / -an steps, summed along positions
    g = np.zeros((n_s, sites.num_rows), np.uint8)
    key = pa.table({**{k: sites[k] for k in _KEYS}, "i": pa.array(np.arange(sites.num_rows), pa.int64())})
    for rows in groups:
        who = _ids(rows["sample"], col)
        is_var = _ids(rows["kind"], {"var": 1}) == 1
        blocks = ~is_var & (rows["an"].to_numpy() > 0)
        ref, rw = rows.filter(pa.array(blocks)), who[blocks]
        lo = np.searchsorted(upos, _glob(ref, "start", rank))
        hi = np.searchsorted(upos, _glob(ref, "end", rank))
        an = ref["an"].to_numpy().astype(np.int8)
        np.add.at(cover, (rw, lo), an)
        np.add.at(cover, (rw, hi), -an)
        var = rows.filter(pa.array(is_var)).append_column("w", pa.array(who[is_var]))
        at = np.searchsorted(upos, _glob(var, "start", rank))  # record alleles: AN at the position
        pos_an = var["pos_an"].to_numpy().astype(np.int8)
        np.add.at(cover, (var["w"].to_numpy(), at), pos_an)
        np.add.at(cover, (var["w"].to_numpy(), at + 1), -pos_an)
        hit = _join(var, key)
        w, i = hit["w"].to_numpy(), hit["i"].to_numpy()
        ac, an2 = hit["ac"].to_numpy(), hit["an"].to_numpy() == 2
        if len(hit) and (ac.max() > 3 or ac.min() < 0 or np.any(g[w, i] != 0)):
            return _drop(root)
        g[w, i] = 1 + ac + 4 * an2
    at_site = np.searchsorted(upos, glob)
    part = _new_part(root, through)
    default, indptr = np.zeros(n_s, np.uint8), np.zeros(n_s + 1, np.int64)
    with open(part / "where.i32", "wb") as fw, open(part / "code.u8", "wb") as fc:
        for lo in range(0, n_s, _CHUNK):  # dense codes of _CHUNK samples at a time, written sparse
            a = np.cumsum(cover[lo : lo + _CHUNK], axis=1, dtype=np.int16)[:, at_site]
            if a.size and (a.max() > 15 or a.min() < 0):
                return _drop(root)
            codes = g[lo : lo + _CHUNK] | (a.astype(np.uint8) << 4)
            for k, row in enumerate(codes):
                r = lo + k
                default[r] = np.argmax(np.bincount(row, minlength=256))
                at = np.flatnonzero(row != default[r]).astype(np.int32)
                indptr[r + 1] = indptr[r] + len(at)
                fw.write(at.astype("<i4").tobytes())
                fc.write(row[at].tobytes())
    _publish(root, part, through, names, sites, default, indptr)
    return True


def _join(var: pa.Table, key: pa.Table) -> pa.Table:
    """(w, i, ac, an) of each variant row with the index `i` of its site (DuckDB: reads the dictionary
    columns as they are, several times faster than casting them for an Arrow join)."""
    with stats._connection("v", "k") as con:
        con.register("v", var.select(["w", *_KEYS, "ac", "an"]))
        con.register("k", key)
        out = con.sql("SELECT v.w, k.i, v.ac, v.an FROM v JOIN k USING (contig, start, ref, alt)")
        out = out.to_arrow_table()
    return out


def _drop(root: Path) -> bool:
    shutil.rmtree(index_dir(root), ignore_errors=True)
    return False


def _new_part(root: Path, through: int) -> Path:
    part = index_dir(root) / f"v{through}"
    shutil.rmtree(part, ignore_errors=True)
    part.mkdir(parents=True)
    return part


def _publish(
    root: Path,
    part: Path,
    through: int,
    names: list[str],
    sites: pa.Table,
    default: np.ndarray,
    indptr: np.ndarray,
) -> None:
    """Finish the new folder named by `through`, then point `meta.json` at it (atomic rename): a
    reader sees the old index or the new one, never half of one."""
    d = index_dir(root)
    np.save(part / "default.npy", default)
    np.save(part / "indptr.npy", indptr)
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
        st = (d / "meta.json").stat()
        key = (st.st_mtime_ns, st.st_size, st.st_ino, through, tuple(sorted(samples)))
        held = _LOADED.get(d)
        if held is not None and held[0] == key:
            return held[1]
        meta = json.loads((d / "meta.json").read_text())
        if (
            meta.get("format") != FORMAT
            or meta.get("through") != through
            or set(meta["samples"]) != set(samples)
        ):
            return None
        part = d / meta["dir"]
        default, indptr = np.load(part / "default.npy"), np.load(part / "indptr.npy")
        where = _raw(part / "where.i32", "<i4")
        code = _raw(part / "code.u8", np.uint8)
        sites = pq.read_table(part / "sites.parquet")
    except (OSError, ValueError, KeyError):
        return None
    n = len(meta["samples"])  # an index written before names were made distinct may list one twice
    if default.shape != (n,) or indptr.shape != (n + 1,) or not len(where) == len(code) == indptr[-1]:
        return None
    _LOADED[d] = (key, GenotypeIndex(through, meta["samples"], sites, default, indptr, where, code))
    return _LOADED[d][1]


def _raw(path: Path, dtype) -> np.ndarray:  # noqa: ANN001
    """A raw array file as a read-only memory map (an empty file: an empty array; mmap refuses those)."""
    if path.stat().st_size == 0:
        return np.zeros(0, dtype)
    return np.memmap(path, dtype, "r")


def keep_index(store, summary: stats.Summary, through: int) -> bool:  # noqa: ANN001
    """Keep `store`'s index for `summary` (compaction calls this): rebuilt from every row when stale."""
    from labstream.cohort.schema import SUMMARY
    from labstream.cohort.store import SUMMARY_INPUT

    root = Path(store.lake.table_uri(SUMMARY.name)).parent
    if not store.lake.is_local or load_index(root, through, summary.samples["sample"].to_pylist()):
        return bool(store.lake.is_local)
    steps = store.row_groups(store.dictionary_dataset(store._files(through)), 5_000_000)
    return build_index(summary, (s.to_table(columns=SUMMARY_INPUT) for s in steps), through, root)
