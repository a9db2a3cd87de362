"""Cohort queries: AC/AN/AF for all sites, a region or any sub-cohort; carriers of a variant.

Regions are `contig`, `contig:start-end` (1-based, inclusive, as samtools writes them) or
`contig:pos` (one position). Whole-cohort answers come from the stored summary plus the samples added
after it; a sub-cohort is summed from its own rows (exact, and bounded by the rows of those samples).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.dataset as pads

from labstream.cohort import stats
from labstream.cohort.store import CohortStore
from labstream.cohort.subcohort import indexed_subcohort
from labstream.core.errors import InputError

__all__ = ["Region", "allele_stats", "carriers", "in_projects", "parse_region"]

_REGION = re.compile(r"^([^:\s]+)(?::([\d,]+)(?:-([\d,]+))?)?$")


@dataclass(frozen=True)
class Region:
    contig: str
    start: int  # 0-based
    end: int | None  # exclusive; None: to the end of the contig


def parse_region(text: str) -> Region:
    m = _REGION.match(text.strip())
    if not m:
        raise InputError(
            text, "is not a region", hint="write contig, contig:pos or contig:start-end (1-based)"
        )
    contig, a, b = m.group(1), m.group(2), m.group(3)
    if a is None:
        return Region(contig, 0, None)
    lo = int(a.replace(",", ""))
    hi = int(b.replace(",", "")) if b else lo
    if lo < 1 or hi < lo:
        raise InputError(text, "has an empty or negative range", hint="start at 1 with start <= end")
    return Region(contig, lo - 1, hi)


_RUNS: dict[int, tuple[pa.Table, list[tuple[str, int, int]]]] = {}  # id(table) -> (table, contig runs)


def _contig_runs(t: pa.Table) -> list[tuple[str, int, int]]:
    """`stats._runs` of a table's contigs, kept for the last few large tables (the cached summary's:
    finding the contigs of millions of rows is most of a warm point query otherwise)."""
    if t.num_rows < 100_000:
        return stats._runs(t["contig"])
    held = _RUNS.get(id(t))
    if held is None or held[0] is not t:
        if len(_RUNS) >= 8:
            _RUNS.pop(next(iter(_RUNS)))
        held = _RUNS[id(t)] = (t, stats._runs(t["contig"]))
    return held[1]


def _in_region(t: pa.Table, r: Region, lookback: int = 0) -> pa.Table:
    """Rows of `t` (sorted by contig, start) in the region: a binary search, not a scan."""
    for ctg, lo, hi in _contig_runs(t):
        if ctg != r.contig:
            continue
        starts = t["start"].slice(lo, hi - lo).to_numpy()
        a = lo + int(np.searchsorted(starts, max(0, r.start - lookback), side="left"))
        b = hi if r.end is None else lo + int(np.searchsorted(starts, r.end, side="left"))
        return t.slice(a, max(0, b - a))
    return t.slice(0, 0)


def _expr(r: Region, lookback: int) -> pads.Expression:
    e = (pads.field("contig") == r.contig) & (pads.field("start") >= max(0, r.start - lookback))
    return e & (pads.field("start") < r.end) if r.end is not None else e


_COLS = ["kind", "sample", "contig", "start", "end", "ref", "alt", "ac", "an", "pos_an"]


def _cut(s: stats.Summary, r: Region | None, look: int) -> stats.Summary:
    if r is None:
        return s
    return stats.Summary(_in_region(s.site, r), _in_region(s.pos, r), _in_region(s.cov, r, look), s.samples)


def in_projects(
    store: CohortStore, projects: list[str], samples: list[str] | None = None
) -> list[str] | None:
    """The samples of `projects` (narrowed to `samples` when given), or None when that is every sample
    of the cohort (the fast whole-cohort path applies). A sample of another project is refused as
    'not in the cohort', the same answer as for a sample that does not exist."""
    owned = store.sample_projects()
    chosen = sorted(s for s, p in owned.items() if p in set(projects))
    if samples is not None:
        outside = sorted(set(samples) - set(chosen))
        if outside:
            raise InputError(
                ",".join(outside[:5]), "not in the cohort", hint="list samples with `labstream cohort stats`"
            )
        chosen = sorted(set(samples))
    return None if len(chosen) == len(owned) else chosen


def allele_stats(
    store: CohortStore,
    region: str | Region | None = None,
    samples: list[str] | None = None,
    projects: list[str] | None = None,
    *,
    use_index: bool = True,
) -> pa.Table:
    """Per site: contig, start (0-based), ref, alt, ac, an, af, n_het, n_homalt, call_rate; over every
    sample, or `samples`, or the samples of `projects` (a project's sub-cohort). A sub-cohort is summed
    from the genotype index when a fresh one exists (`use_index=False`: always from rows)."""
    r = parse_region(region) if isinstance(region, str) else region
    look = store.max_block
    if projects is not None:
        samples = in_projects(store, projects, samples)
        if samples == []:
            return stats.finalize(stats.empty_summary())
    if samples is not None:
        known = set(store.samples())
        missing = sorted(set(samples) - known)
        if missing:
            raise InputError(
                ",".join(missing[:5]), "not in the cohort", hint="list samples with `labstream cohort stats`"
            )
        fast = (
            indexed_subcohort(store, samples, r, None if r is None else _expr(r, look)) if use_index else None
        )
        if fast is not None:
            return fast if r is None else _in_region(fast, r)
        files = store.dictionary_dataset(store._files())
        where = pads.field("sample").isin(sorted(set(samples)))
        where = where if r is None else where & _expr(r, look)
        parts = [  # group by group, so memory stays bounded at any cohort size
            stats.summarize(group.to_table(filter=where, columns=_COLS), samples)
            for group in store.row_groups(files)
        ]
        out = stats.finalize_parts(parts, n_samples=len(set(samples)))
        return out if r is None else _in_region(out, r)
    else:
        base, new, ok = store.parts()
        if not ok:
            rows = store._files().to_table(filter=None if r is None else _expr(r, look))
            summary = stats.summarize(rows)
            summary = stats.Summary(
                summary.site, summary.pos, summary.cov, pa.table({"sample": store.samples()})
            )
        elif r is None and base.n_samples:
            return _whole(store, base, new)
        else:
            out = stats.finalize_parts([_cut(base, r, look)] + ([] if new is None else [_cut(new, r, look)]))
            return out if r is None else _in_region(out, r)
    out = stats.finalize(summary)
    return out if r is None else _in_region(out, r)


def _whole(store: CohortStore, base: stats.Summary, new: stats.Summary | None) -> pa.Table:
    """Every site over every sample: the stored summary's AN at its sites is computed once per loaded
    summary (kept on the store beside it), then the samples added after it are added on."""
    held = store.derived.get("base_an")
    if held is None or held[0] is not base:
        held = store.derived["base_an"] = (base, stats.an_at(base, base.site))
    parts = [] if new is None else [new]
    n = base.n_samples + sum(p.n_samples for p in parts)
    out = stats.finalize_onto(base.site, held[1], lambda t: stats.an_at(base, t), parts, n)
    return stats.finalize_parts([base, *parts]) if out is None else out


def carriers(
    store: CohortStore,
    contig: str,
    pos: int,
    ref: str | None = None,
    alt: str | None = None,
    projects: list[str] | None = None,
) -> pa.Table:
    """Samples carrying an alternate allele at `contig`:`pos` (1-based): sample, ref, alt, ac, an, dp, gq
    (only the samples of `projects` when given)."""
    e = (pads.field("kind") == "var") & (pads.field("contig") == contig) & (pads.field("start") == pos - 1)
    if projects is not None:
        e = e & pads.field("project").isin(sorted(set(projects)))
    e = e & (pads.field("ac") > 0)
    if ref is not None:
        e = e & (pads.field("ref") == ref)
    if alt is not None:
        e = e & (pads.field("alt") == alt)
    t = store._files().to_table(filter=e, columns=["sample", "ref", "alt", "ac", "an", "dp", "gq"])
    return t.sort_by([("sample", "ascending"), ("alt", "ascending")])
