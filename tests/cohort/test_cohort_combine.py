"""Adding a small per-site table into a large sorted one (the whole-cohort and sub-cohort fast path)
gives the same rows, order and sums as summing every row and sorting, on random tables with shared sites,
new positions, new alleles at known positions (multi-allelic) and several contigs."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pyarrow as pa
import pytest

from labstream.cohort.combine import add_sites

_SUMS = ("ac", "n_het", "n_homalt")


def _sites(rng: np.random.Generator, n: int, contigs: list[str], span: int) -> pa.Table:
    keys = {
        (str(rng.choice(contigs)), int(rng.integers(0, span)), str(rng.choice(list("ACGT"))), str(a))
        for a in rng.choice(["A", "C", "G", "T", "AT", "CGG"], n)
    }
    rows = sorted(keys)
    cols = {k: [r[i] for r in rows] for i, k in enumerate(("contig", "start", "ref", "alt"))}
    cols |= {c: rng.integers(0, 50, len(rows)).tolist() for c in _SUMS}
    return pa.table(
        cols,
        schema=pa.schema(
            [(k, pa.string()) if k in ("contig", "ref", "alt") else (k, pa.int64()) for k in cols]
        ),
    )


def _expected(big: pa.Table, small: pa.Table) -> list[tuple]:
    total: dict[tuple, Counter] = {}
    for t in (big, small):
        for r in t.to_pylist():
            key = (r["contig"], r["start"], r["ref"], r["alt"])
            total.setdefault(key, Counter()).update({c: r[c] for c in _SUMS})
    return [(*k, *(total[k][c] for c in _SUMS)) for k in sorted(total)]


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_small_sites_added_into_large_equal_summing_and_sorting(seed: int) -> None:
    rng = np.random.default_rng(seed)
    contigs = ["chr1", "chr10", "chr2"]
    big = _sites(rng, 3000, contigs, 400)  # dense: many positions with several alleles
    shared = big.take(pa.array(np.sort(rng.choice(big.num_rows, 150, replace=False))))
    shared = shared.set_column(4, "ac", pa.array(rng.integers(0, 9, shared.num_rows), pa.int64()))
    small = pa.concat_tables([shared, _sites(rng, 120, [*contigs, "chrX"], 500)])
    small = small.group_by(["contig", "start", "ref", "alt"]).aggregate([(c, "sum") for c in _SUMS])
    small = small.rename_columns(["contig", "start", "ref", "alt", *_SUMS])
    small = small.sort_by([(k, "ascending") for k in ("contig", "start", "ref", "alt")])
    got = add_sites(big, small)
    assert got is not None
    out, src = got
    want = _expected(big, small)
    assert [tuple(r.values()) for r in out.to_pylist()] == want
    assert (src >= 0).sum() == big.num_rows and np.array_equal(src[src >= 0], np.arange(big.num_rows))
    new = {k for k in (tuple(r.values())[:4] for r in small.to_pylist())} - {
        tuple(r.values())[:4] for r in big.to_pylist()
    }
    assert len(new) > 0 and {tuple(r.values())[:4] for r in out.filter(pa.array(src < 0)).to_pylist()} == new
    assert add_sites(small, big) is None  # not small: the caller sorts instead
