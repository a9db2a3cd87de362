"""The genotype index kept by compaction: sub-cohort AC/AN/AF from it equal the row-based path exactly
(random subsets, samples added after the compaction with sites first seen in them, a multi-allelic
sample, a withdrawn sample, a region), and a stale index is never used."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest

from labstream.cohort import CohortStore, allele_stats, calls_table
from labstream.cohort.index import index_dir
from labstream.cohort.stats import finalize, summarize
from labstream.cohort.subcohort import indexed_subcohort
from labstream.instruments.cohort_sim import sample_calls, simulate_cohort
from labstream.lake import open_lake


def _multi(name: str, contig: str, pos: int) -> pa.Table:
    """A sample with two ALT alleles at one position (1/2: each allele's row ac 1, an 2) and a no-call
    record elsewhere, covered by reference blocks around them."""
    return calls_table(
        name,
        "",
        {
            "contig": [contig] * 3,
            "start": [pos, pos, pos + 500],
            "end": [pos + 1, pos + 1, pos + 501],
            "ref": ["A", "A", "C"],
            "alt": ["G", "T", "G"],
            "ac": [1, 1, 0],
            "an": [2, 2, 0],
            "dp": [9] * 3,
            "gq": [50] * 3,
        },
        {
            "contig": [contig] * 2,
            "start": [0, pos + 1],
            "end": [pos, 80_000],
            "an": [2, 2],
            "dp": [9] * 2,
            "gq": [None] * 2,
        },
        max_block=100,
    )


def _same(store: CohortStore, samples: list[str], region: str | None = None) -> None:
    fast = allele_stats(store, region, samples=samples)
    rows = allele_stats(store, region, samples=samples, use_index=False)
    assert fast.num_rows == rows.num_rows > 0
    assert fast.select(rows.column_names).equals(rows.cast(fast.select(rows.column_names).schema))


@pytest.mark.slow
def test_subcohorts_from_the_index_equal_the_rows_and_a_stale_index_is_ignored(tmp_path: Path) -> None:
    c = simulate_cohort(26, 80_000, seed=21, gaps_per_sample=3, nocall_rate=0.05)
    store = CohortStore(open_lake(tmp_path / "lake"), max_block=100)
    store.add(pa.concat_tables([sample_calls(c, j, 100) for j in range(12, 20)]))
    store.compact()  # the summary then names its samples in fold order, not sorted
    store.add(pa.concat_tables([sample_calls(c, j, 100) for j in range(12)]))
    store.add(_multi("multi", c.contig, int(c.positions[10])))
    assert store.compact()["index"] is True
    for j in range(20, 26):  # after the compaction: read from their own rows, some sites first seen here
        store.add(sample_calls(c, j, 100))
    names = [*c.names, "multi"]
    whole = allele_stats(store)  # the stored summary's AN computed once + the newer samples added on
    assert store.derived["base_an"][0] is store.parts()[0]
    every_row = finalize(summarize(store._files().to_table()))  # every row summed at once
    assert whole.num_rows == every_row.num_rows > 0
    assert whole.equals(every_row.cast(whole.schema))
    rng = np.random.default_rng(5)
    subsets = [sorted(rng.choice(names, size=k, replace=False).tolist()) for k in (3, 9, 14, 20, 26)]
    subsets.append(["multi", *c.names[20:]])
    for sub in subsets:
        assert indexed_subcohort(store, sub, None, None) is not None  # the index answers
        _same(store, sub)
    _same(store, subsets[2], f"{c.contig}:20001-50000")

    store.withdraw(c.names[3], "consent withdrawn")  # its rows go; the compaction rebuilds the index
    left = [n for n in names if n != c.names[3]]
    for k in (5, 13, 21):
        sub = sorted(rng.choice(left, size=k, replace=False).tolist())
        assert indexed_subcohort(store, sub, None, None) is not None
        _same(store, sub)

    old = tmp_path / "old-index"
    shutil.copytree(index_dir(tmp_path / "lake"), old)
    store.add(_multi("late", c.contig, int(c.positions[40])))
    store.compact()
    shutil.rmtree(index_dir(tmp_path / "lake"))
    shutil.copytree(old, index_dir(tmp_path / "lake"))  # an index of the previous compaction: stale
    sub = sorted(rng.choice([*left, "late"], size=12, replace=False).tolist())
    assert indexed_subcohort(store, sub, None, None) is None
    _same(store, sub)
    assert store.compact()["index"] is True  # compaction notices and rebuilds it
    assert indexed_subcohort(store, sub, None, None) is not None
    _same(store, sub)

    meta = index_dir(tmp_path / "lake") / "meta.json"  # an index written in another format: refused too
    meta.write_text(meta.read_text().replace('"format": 2', '"format": 1'))
    assert indexed_subcohort(store, sub, None, None) is None
    _same(store, sub)


def test_a_fold_in_many_row_groups_counts_each_sample_once(tmp_path: Path, monkeypatch) -> None:  # noqa: ANN001
    """Compaction reads the rows in groups of files; a sample's var and ref files can fall in two groups.
    It must still be one sample: call_rate = AN / (2 x samples), and the index keeps one row per sample."""
    c = simulate_cohort(8, 30_000, seed=4, gaps_per_sample=2, nocall_rate=0.05)
    store = CohortStore(open_lake(tmp_path / "lake"), max_block=100)
    for j in range(0, 8, 2):
        store.add(pa.concat_tables([sample_calls(c, j, 100) for j in (j, j + 1)]))
    groups = CohortStore.row_groups
    monkeypatch.setattr(CohortStore, "row_groups", staticmethod(lambda files, rows=0: groups(files, 1)))
    assert store.compact()["index"] is True  # every file is a group of its own
    summary = store.parts()[0]
    assert summary.n_samples == 8
    st = allele_stats(store)
    assert np.allclose(st["call_rate"].to_numpy(), st["an"].to_numpy() / 16)
    meta = json.loads((index_dir(tmp_path / "lake") / "meta.json").read_text())
    assert sorted(meta["samples"]) == sorted(c.names)
    _same(store, c.names[:5])
