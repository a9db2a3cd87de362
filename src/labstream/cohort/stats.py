"""Exact cohort allele statistics from `cohort_calls` rows (pure: Arrow tables in, Arrow tables out).

A summary is three small tables, all additive over samples:
- `site` (contig, start, ref, alt, ac, n_het, n_homalt): sums over the samples' variant rows;
- `pos`  (contig, start, an): per position, the sum over samples of the called alleles of their variant
  records there (a sample with two records at one position counts once, with its larger number);
- `cov`  (contig, start, an): the step function "called alleles from reference blocks covering this
  position", one row at every block start or end (value from `start` until the next row of the contig;
  rows where the value does not change are kept, so every block start is a row and the value at p is
  found among the rows of the last `max_block` bases before p);
- `samples`: who is summed.
AN at a site is `cov` at its position (an as-of join) plus `pos` there; AF = AC / AN. Summaries of two
disjoint sample sets add (`merge`), which is what lets a new sample join without rewriting anything.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from labstream.cohort.combine import add_sites

__all__ = [
    "Summary",
    "an_at",
    "empty_summary",
    "finalize",
    "finalize_onto",
    "finalize_parts",
    "merge",
    "summarize",
]

_SITE = pa.schema(
    [
        ("contig", pa.string()),
        ("start", pa.int64()),
        ("ref", pa.string()),
        ("alt", pa.string()),
        ("ac", pa.int64()),
        ("n_het", pa.int64()),
        ("n_homalt", pa.int64()),
    ]
)
_POS = pa.schema([("contig", pa.string()), ("start", pa.int64()), ("an", pa.int64())])
_SAMPLES = pa.schema([("sample", pa.string())])


@dataclass(frozen=True)
class Summary:
    site: pa.Table
    pos: pa.Table
    cov: pa.Table
    samples: pa.Table  # one column, `sample`: who is summed here

    @property
    def n_samples(self) -> int:
        """Distinct samples (a fold in row groups once listed a sample whose var and ref files fell in
        two groups twice; stored summaries written then still do)."""
        return int(pc.count_distinct(self.samples["sample"]).as_py()) if self.samples.num_rows else 0


def empty_summary() -> Summary:
    return Summary(_SITE.empty_table(), _POS.empty_table(), _POS.empty_table(), _SAMPLES.empty_table())


_IDLE: list[duckdb.DuckDBPyConnection] = []  # in-memory DuckDBs between uses (opening one costs ~30 ms)
_IDLE_LOCK = threading.Lock()


@contextmanager
def _connection(*registered: str) -> Iterator[duckdb.DuckDBPyConnection]:
    """An in-memory DuckDB of its own for one computation, from a small pool; the Arrow tables it
    `registered` are dropped after, so the pool keeps none alive. A pool, not one per thread: a
    connection held in a thread-local is destroyed by its thread's exit, and a server's worker thread
    exiting at interpreter shutdown then aborts the process ("FATAL: exception not rethrown")."""
    with _IDLE_LOCK:
        con = _IDLE.pop() if _IDLE else None
    if con is None:
        con = duckdb.connect()
        con.sql("SET threads TO 2")
    try:
        yield con
    finally:
        for name in registered:
            try:
                con.unregister(name)
            except duckdb.Error:
                pass
        with _IDLE_LOCK:
            _IDLE.append(con)


def _query(con: duckdb.DuckDBPyConnection, sql: str, schema: pa.Schema) -> pa.Table:
    """The result of `sql` as an Arrow table cast to `schema`."""
    return con.sql(sql).to_arrow_table().cast(schema)


def _steps(con: duckdb.DuckDBPyConnection, events_sql: str) -> pa.Table:
    """Cumulative steps from (contig, start, d) change events."""
    return _query(
        con,
        f"""SELECT contig, start, an FROM (
              SELECT contig, start, CAST(sum(d) OVER (PARTITION BY contig ORDER BY start) AS BIGINT) AS an
                     FROM (SELECT contig, start, sum(d) AS d FROM ({events_sql}) GROUP BY contig, start))
            ORDER BY contig, start""",
        _POS,
    )


def summarize(calls: pa.Table, samples: list[str] | None = None) -> Summary:
    """The summary of every sample in `calls` (rows of `cohort_calls`), or of `samples` only (filtered
    inside DuckDB: materialising the selected rows first costs more than the sums)."""
    with _connection("calls_all", "wanted") as con:
        con.register("calls_all", calls)
        if samples is None:
            con.sql("CREATE OR REPLACE TEMP VIEW calls AS SELECT * FROM calls_all")
        else:
            con.register("wanted", pa.table({"sample": pa.array(sorted(set(samples)), pa.string())}))
            con.sql(
                "CREATE OR REPLACE TEMP VIEW calls AS "
                "SELECT * FROM calls_all WHERE sample IN (SELECT sample FROM wanted)"
            )
        site = _query(
            con,
            """SELECT contig, start, ref, alt, CAST(sum(ac) AS BIGINT) AS ac,
                      count(*) FILTER (WHERE ac = 1 AND an = 2) AS n_het,
                      count(*) FILTER (WHERE ac = 2 AND an = 2) AS n_homalt
               FROM calls WHERE kind = 'var' GROUP BY ALL ORDER BY contig, start, ref, alt""",
            _SITE,
        )
        pos = _query(
            con,
            """SELECT contig, start, CAST(sum(pos_an) AS BIGINT) AS an FROM calls WHERE kind = 'var'
               GROUP BY ALL ORDER BY contig, start""",
            _POS,
        )
        cov = _steps(
            con,
            """SELECT contig, start, CAST(an AS BIGINT) AS d FROM calls WHERE kind = 'ref' AND an > 0
               UNION ALL
               SELECT contig, "end" AS start, -CAST(an AS BIGINT) FROM calls WHERE kind = 'ref' AND an > 0""",
        )
        if samples is None:
            names = _query(con, "SELECT DISTINCT sample FROM calls ORDER BY sample", _SAMPLES)
        else:
            names = pa.table({"sample": pa.array(sorted(set(samples)), pa.string())})
    return Summary(site, pos, cov, names)


def merge(a: Summary, b: Summary) -> Summary:
    """The summary of two disjoint sample sets, or of disjoint row sets (a sample's var rows in one, its
    reference blocks in the other: the sums add, the sample is listed once)."""
    if b.n_samples == 0:
        return a
    if a.n_samples == 0:
        return b
    diffs = " UNION ALL ".join(
        f"SELECT contig, start, an - lag(an, 1, 0) OVER (PARTITION BY contig ORDER BY start) AS d FROM {t}"
        for t in ("c1", "c2")
    )
    both = [*a.samples["sample"].to_pylist(), *b.samples["sample"].to_pylist()]
    names = pa.table({"sample": pa.array(list(dict.fromkeys(both)), pa.string())})  # may share samples
    with _connection("s1", "s2", "p1", "p2", "c1", "c2") as con:
        for name, t in (
            ("s1", a.site),
            ("s2", b.site),
            ("p1", a.pos),
            ("p2", b.pos),
            ("c1", a.cov),
            ("c2", b.cov),
        ):
            con.register(name, t)
        site = _query(
            con,
            """SELECT contig, start, ref, alt, sum(ac) AS ac, sum(n_het) AS n_het, sum(n_homalt) AS n_homalt
               FROM (SELECT * FROM s1 UNION ALL SELECT * FROM s2)
               GROUP BY ALL ORDER BY contig, start, ref, alt""",
            _SITE,
        )
        pos = _query(
            con,
            """SELECT contig, start, sum(an) AS an FROM (SELECT * FROM p1 UNION ALL SELECT * FROM p2)
               GROUP BY ALL ORDER BY contig, start""",
            _POS,
        )
        cov = _steps(con, diffs)
    return Summary(site, pos, cov, names)


def finalize(s: Summary, ploidy: int = 2) -> pa.Table:
    """Per site: ac, an, af (null where an = 0), n_het, n_homalt, call_rate (an / (ploidy * n_samples))."""
    n_samples = s.n_samples
    with _connection("site", "pos", "cov") as con:
        con.register("site", s.site)
        con.register("pos", s.pos)
        con.register("cov", s.cov)
        out = con.sql(
            f"""SELECT x.contig, x.start, x.ref, x.alt, x.ac, x.an,
                      CASE WHEN x.an > 0 THEN x.ac / x.an END AS af, x.n_het, x.n_homalt,
                      CASE WHEN {n_samples} > 0 THEN x.an / ({ploidy} * {n_samples}) END AS call_rate
               FROM (SELECT site.contig, site.start, site.ref, site.alt, site.ac,
                            CAST(coalesce(cov.an, 0) + coalesce(pos.an, 0) AS BIGINT) AS an,
                            site.n_het, site.n_homalt
                     FROM site ASOF LEFT JOIN cov ON site.contig = cov.contig AND site.start >= cov.start
                     LEFT JOIN pos ON site.contig = pos.contig AND site.start = pos.start) x
               ORDER BY x.contig, x.start, x.ref, x.alt"""
        ).to_arrow_table()
    return out


def _runs(col: pa.ChunkedArray | pa.Array) -> list[tuple[str, int, int]]:
    """(value, lo, hi) of each run of equal values in a sorted string column (Arrow compares)."""
    col = col.combine_chunks() if isinstance(col, pa.ChunkedArray) else col
    n = len(col)
    if n == 0:
        return []
    cuts = np.flatnonzero(pc.not_equal(col.slice(1), col.slice(0, n - 1)).to_numpy(zero_copy_only=False)) + 1
    bounds = np.r_[0, cuts, n]
    return [
        (str(col[int(lo)].as_py()), int(lo), int(hi)) for lo, hi in zip(bounds[:-1], bounds[1:], strict=True)
    ]


def _by_contig(t: pa.Table) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """contig -> (starts, an) of a sorted `pos`/`cov` table."""
    starts = t["start"].to_numpy()
    an = t["an"].to_numpy()
    return {ctg: (starts[lo:hi], an[lo:hi]) for ctg, lo, hi in _runs(t["contig"])}


def an_at(s: Summary, site: pa.Table) -> np.ndarray:
    """AN contributed by the samples of `s` at each site of `site` (sorted by contig, start):
    the coverage step there plus the record alleles starting there."""
    start = site["start"].to_numpy()
    out = np.zeros(len(start), np.int64)
    cov, pos = _by_contig(s.cov), _by_contig(s.pos)
    for ctg, lo, hi in _runs(site["contig"]):
        p = start[lo:hi]
        if ctg in cov:
            cs, ca = cov[ctg]
            i = np.searchsorted(cs, p, side="right") - 1
            out[lo:hi] += np.where(i >= 0, ca[np.maximum(i, 0)], 0)
        if ctg in pos:
            ps, pa_ = pos[ctg]
            j = np.minimum(np.searchsorted(ps, p), len(ps) - 1)
            out[lo:hi] += np.where(ps[j] == p, pa_[j], 0)
    return out


_KEYS = ["contig", "start", "ref", "alt"]


def _sum_sites(sites: list[pa.Table], keys: list[str]) -> pa.Table:
    """Site tables of disjoint sample (or row) sets summed per site, sorted by the keys."""
    site = pa.concat_tables(sites)
    if len(sites) == 1:
        return site
    sums = [("ac", "sum"), ("n_het", "sum"), ("n_homalt", "sum")]
    site = site.group_by(keys, use_threads=False).aggregate(sums)
    return site.rename_columns([*keys, "ac", "n_het", "n_homalt"]).sort_by([(k, "ascending") for k in keys])


def finalize_parts(parts: list[Summary], ploidy: int = 2, n_samples: int | None = None) -> pa.Table:
    """`finalize` of the union of disjoint sample sets, without merging them first (AN and AC add);
    or of disjoint row sets of the same `n_samples` samples (parts of one sub-cohort, read in turn)."""
    parts = [p for p in parts if (p.n_samples if n_samples is None else p.site.num_rows + p.cov.num_rows)]
    if not parts:
        return finalize(empty_summary(), ploidy)
    big = max(range(len(parts)), key=lambda k: parts[k].site.num_rows)
    rest = [p.site for k, p in enumerate(parts) if k != big]
    got = None if not rest else add_sites(parts[big].site, _sum_sites(rest, _KEYS))
    site = _sum_sites([p.site for p in parts], _KEYS) if got is None else got[0]
    an = sum(an_at(p, site) for p in parts)
    n = sum(p.n_samples for p in parts) if n_samples is None else n_samples
    return _table(site, an, n, ploidy)


def finalize_onto(
    big: pa.Table,
    big_an: np.ndarray,
    big_an_at: Callable[[pa.Table], np.ndarray],
    parts: list[Summary],
    n: int,
) -> pa.Table | None:
    """`finalize_parts` of a large part given as its site table with its AN per site (`big_an`, computed
    once) plus the small `parts` of other samples; `big_an_at(sites)`: the large part's AN at sites it
    does not list. None when the parts are not small (the caller uses `finalize_parts`)."""
    small = [p.site for p in parts if p.site.num_rows]
    got = add_sites(big, _sum_sites(small, _KEYS)) if small else (big, np.arange(big.num_rows))
    if got is None:
        return None
    site, src = got
    an = np.zeros(site.num_rows, np.int64)
    an[src >= 0] = big_an[src[src >= 0]]
    if (src < 0).any():
        an[src < 0] = big_an_at(site.filter(pa.array(src < 0)))
    for p in parts:
        an += an_at(p, site)
    return _table(site, an, n)


def _table(site: pa.Table, an: np.ndarray, n: int, ploidy: int = 2) -> pa.Table:
    """The query answer from summed sites and their AN over `n` samples."""
    ac = site["ac"].to_numpy()
    with np.errstate(divide="ignore", invalid="ignore"):
        af = pa.array(ac / an, mask=an == 0)
    return pa.table(
        {
            **{k: site[k] for k in _KEYS},
            "ac": site["ac"],
            "an": pa.array(an, pa.int64()),
            "af": af,
            "n_het": site["n_het"],
            "n_homalt": site["n_homalt"],
            "call_rate": pa.array(an / (ploidy * n), pa.float64()),
        }
    )
