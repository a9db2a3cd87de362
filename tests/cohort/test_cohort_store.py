"""The cohort store: hom-ref vs not covered, idempotent and concurrent adds, append-only files,
withdrawal, and AC/AN equal to the simulated truth and to bcftools merge + fill-tags (several seeds)."""

from __future__ import annotations

import threading
from pathlib import Path

import pyarrow as pa
import pytest
from deltalake import DeltaTable

from labstream.cohort import CohortStore, allele_stats, calls_table, carriers
from labstream.cohort.bcftools import bcftools_allele_counts
from labstream.core.errors import InputError
from labstream.instruments.cohort_sim import sample_calls, simulate_cohort, write_gvcf, write_reference
from labstream.lake import open_lake


def _sample(
    name: str, var: list[tuple[int, str, str, int, int]], blocks: list[tuple[int, int, int]]
) -> pa.Table:
    return calls_table(
        name,
        "",
        {
            "contig": ["c"] * len(var),
            "start": [v[0] for v in var],
            "end": [v[0] + len(v[1]) for v in var],
            "ref": [v[1] for v in var],
            "alt": [v[2] for v in var],
            "ac": [v[3] for v in var],
            "an": [v[4] for v in var],
            "dp": [9] * len(var),
            "gq": [50] * len(var),
        },
        {
            "contig": ["c"] * len(blocks),
            "start": [b[0] for b in blocks],
            "end": [b[1] for b in blocks],
            "an": [b[2] for b in blocks],
            "dp": [9] * len(blocks),
            "gq": [None] * len(blocks),
        },
        max_block=100,
    )


def _counts(t: pa.Table) -> dict[tuple[int, str, str], tuple[int, int]]:
    return {
        (s, r, a): (c, n)
        for s, r, a, c, n in zip(
            *[t[k].to_pylist() for k in ("start", "ref", "alt", "ac", "an")], strict=True
        )
    }


@pytest.fixture
def store(tmp_path: Path) -> CohortStore:
    return CohortStore(open_lake(tmp_path / "lake"), max_block=100)


def test_hom_ref_and_not_covered_are_told_apart(store: CohortStore) -> None:
    store.add(_sample("CARRIER", [(500, "A", "G", 1, 2)], [(0, 500, 2), (501, 1000, 2)]))
    store.add(_sample("HOMREF", [], [(0, 1000, 2)]))  # a 0/0 block over 500: two reference alleles
    store.add(_sample("GAP", [], [(0, 400, 2), (600, 1000, 2)]))  # nothing at 500: not covered
    store.add(_sample("NOCALL", [(500, "A", "G", 0, 0)], [(0, 500, 2), (501, 1000, 2)]))  # ./. record
    store.add(_sample("LOWQ", [], [(0, 450, 2), (450, 550, 0), (550, 1000, 2)]))  # a ./. block
    row = allele_stats(store, "c:501").to_pylist()
    assert [(r["ac"], r["an"], r["af"], r["n_het"]) for r in row] == [(1, 4, 0.25, 1)]
    assert row[0]["call_rate"] == pytest.approx(4 / 10)
    assert allele_stats(store, samples=["CARRIER", "GAP"]).to_pylist()[0]["an"] == 2
    assert carriers(store, "c", 501)["sample"].to_pylist() == ["CARRIER"]
    store.compact()  # the same answers from the stored summary
    assert [(r["ac"], r["an"]) for r in allele_stats(store, "c:501").to_pylist()] == [(1, 4)]


def test_adding_twice_changes_nothing_and_an_add_rewrites_nothing(store: CohortStore) -> None:
    c = simulate_cohort(6, 50_000, seed=3)
    for j in range(5):
        store.add(sample_calls(c, j, 100))
    before, v = set(store._files().files), store.lake.version("cohort_calls")
    stats_before = allele_stats(store)
    again = store.add(sample_calls(c, 2, 100))
    assert (again.added, again.skipped, again.version) == ([], [c.names[2]], None)
    assert store.lake.version("cohort_calls") == v and allele_stats(store).equals(stats_before)
    new = store.add(sample_calls(c, 5, 100))
    assert new.version == v + 1 and new.bytes_written > 0
    after = set(store._files().files)
    assert before < after and len(after - before) == 2  # one var file, one ref file; nothing removed
    assert {a for a, _ in store.files_added(new.version)} == {"add"}


def test_concurrent_adds_land_once(tmp_path: Path) -> None:
    c = simulate_cohort(4, 30_000, seed=4)
    url = tmp_path / "lake"
    CohortStore(open_lake(url), max_block=100)
    jobs = [0, 1, 1, 2, 2, 2, 3, 3, 3]  # samples 1-3 are added by several writers at once
    errors: list[BaseException] = []
    start = threading.Barrier(len(jobs))

    def add(j: int) -> None:
        try:
            store, rows = CohortStore(open_lake(url), max_block=100), sample_calls(c, j, 100)
            start.wait()
            store.add(rows)
        except BaseException as err:  # noqa: BLE001 - reported below
            errors.append(err)

    threads = [threading.Thread(target=add, args=(j,)) for j in jobs]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    store = CohortStore(open_lake(url), max_block=100)
    assert store.samples() == c.names
    rows = store._files().to_table(columns=["sample"])["sample"].value_counts().to_pylist()
    expected = {n: sample_calls(c, j, 100).num_rows for j, n in enumerate(c.names)}
    assert {r["values"]: r["counts"] for r in rows} == expected
    ac, an = c.truth()
    got = _counts(allele_stats(store))
    assert all(
        got[(int(p), r, a)] == (int(x), int(y))
        for p, r, a, x, y in zip(c.positions, c.ref, c.alt, ac, an, strict=True)
        if (int(p), r, a) in got
    )
    # the race itself, made deterministic: a writer whose snapshot predates the other's commit of the
    # same sample is refused by Delta (transaction conflict) and adds nothing
    late = simulate_cohort(1, 30_000, seed=5)
    a, b = CohortStore(open_lake(url)), CohortStore(open_lake(url))
    b_table = DeltaTable(b.lake.table_uri("cohort_calls"))
    assert a._commit(sample_calls(late, 0, 100), late.names, None, None) is not None
    v = store.lake.version("cohort_calls")
    assert b._commit(sample_calls(late, 0, 100), late.names, None, None, table=b_table) is None
    assert store.lake.version("cohort_calls") == v


def test_withdrawn_sample_leaves_every_statistic_and_the_reason_is_kept(
    store: CohortStore, tmp_path: Path
) -> None:
    c = simulate_cohort(6, 50_000, seed=6)
    for j in range(6):
        store.add(sample_calls(c, j, 100))
    store.compact()
    gone = c.names[1]
    assert store.withdraw(gone, "consent withdrawn", by="dr-who", lineage_id="L-42") > 0
    fresh = CohortStore(open_lake(tmp_path / "fresh"), max_block=100)
    for j in (0, 2, 3, 4, 5):
        fresh.add(sample_calls(c, j, 100))
    assert allele_stats(store).equals(allele_stats(fresh))
    assert gone not in store.samples() and store.current().n_samples == 5
    assert all(
        gone not in carriers(store, c.contig, int(p) + 1)["sample"].to_pylist() for p in c.positions[:50]
    )
    w = store.withdrawals().to_pylist()
    assert [(r["sample"], r["reason"], r["by"], r["lineage_id"]) for r in w] == [
        (gone, "consent withdrawn", "dr-who", "L-42")
    ]
    with pytest.raises(InputError, match="not in the cohort"):
        store.withdraw(gone, "again")
    assert store.add(sample_calls(c, 1, 100)).added == []  # a withdrawn id does not come back


@pytest.mark.parametrize("seed", [11, 12, 13])
def test_allele_counts_equal_truth_and_bcftools(seed: int, tmp_path: Path) -> None:
    c = simulate_cohort(10, 60_000, seed=seed, gaps_per_sample=3, nocall_rate=0.05)
    ref = write_reference(c, tmp_path / "ref.fa")
    gvcfs = [write_gvcf(c, j, ref, tmp_path / f"{n}.g.vcf.gz") for j, n in enumerate(c.names)]
    store = CohortStore(open_lake(tmp_path / "lake"), max_block=500)
    for j, p in enumerate(gvcfs):
        store.add_gvcf(p)
        if j == 6:
            store.compact()  # later samples are read from their own files, then folded in
    got = _counts(allele_stats(store))
    ac, an = c.truth()
    truth = {
        (int(p), r, a): (int(x), int(y))
        for p, r, a, x, y in zip(c.positions, c.ref, c.alt, ac, an, strict=True)
    }
    bc = {k[1:]: v for k, v in bcftools_allele_counts(gvcfs, ref).items()}
    assert set(got) == set(bc) == {k for k, v in truth.items() if v[0] > 0 or k in got}
    assert all(got[k] == bc[k] == truth[k] for k in got)
    older = _counts(allele_stats(store, samples=c.names[:-1]))
    first_in_last = [k for k in got if got[k][0] and not older.get(k, (0,))[0]]
    assert first_in_last  # sites first seen in the newest sample have the same exact AN
    store.compact()
    assert _counts(allele_stats(store)) == got
    region = _counts(allele_stats(store, f"{c.contig}:20001-40000"))
    assert region == {k: v for k, v in got.items() if 20000 <= k[0] < 40000}


def test_plain_sql_over_the_delta_table_gives_the_same_counts(store: CohortStore) -> None:
    from labstream.cohort import allele_sql
    from labstream.lake import LakeSQL

    c = simulate_cohort(8, 40_000, seed=8, gaps_per_sample=3)
    for j in range(8):
        store.add(sample_calls(c, j, 100))
        if j == 3:
            store.compact()
    by_sql = LakeSQL(store.lake).query(allele_sql(store.max_block))
    assert _counts(by_sql) == _counts(allele_stats(store)) and by_sql.num_rows > 20


def test_independent_delta_readers_see_the_same_cohort(store: CohortStore) -> None:
    """deltalake2db replays the Delta log itself (no delta-rs): polars and DuckDB read what we wrote,
    including a withdrawal's delete, and the plain SQL gives the same AC/AN."""
    import duckdb
    from deltalake2db import duckdb_create_view_for_delta, polars_scan_delta

    from labstream.cohort import allele_sql

    c = simulate_cohort(5, 30_000, seed=17)
    for j in range(5):
        store.add(sample_calls(c, j, 100))
    store.withdraw(c.names[0], "consent withdrawn")
    uri = store.lake.table_uri("cohort_calls")
    df = polars_scan_delta(uri).collect()
    assert sorted(set(df["sample"].to_list())) == c.names[1:]
    assert df.height == store._files().count_rows()
    with duckdb.connect() as con:
        duckdb_create_view_for_delta(con, uri, "cohort_calls")
        by_duck = con.sql(allele_sql(store.max_block)).to_arrow_table()
    assert _counts(by_duck) == _counts(allele_stats(store))


def test_the_cohort_keeps_its_max_block(store: CohortStore) -> None:
    from labstream.core.errors import ConfigError

    again = CohortStore(store.lake)
    assert again.max_block == 100
    with pytest.raises(ConfigError, match="max_block=100"):
        CohortStore(store.lake, max_block=5000)
    with pytest.raises(InputError, match="longer than 100"):
        store.add(
            calls_table(
                "X",
                "",
                {k: [] for k in ("contig", "start", "end", "ref", "alt", "ac", "an", "dp", "gq")},
                {"contig": ["c"], "start": [0], "end": [500], "an": [2], "dp": [1], "gq": [None]},
                max_block=1000,
            )
        )


def test_region_export_is_a_vcf_bcftools_recounts_to_the_same_numbers(
    store: CohortStore, tmp_path: Path
) -> None:
    import subprocess

    from labstream.cohort import export_vcf

    c = simulate_cohort(7, 40_000, seed=19, gaps_per_sample=3, nocall_rate=0.05)
    for j in range(7):
        store.add(sample_calls(c, j, 100))
    region = f"{c.contig}:5001-30000"
    vcf = export_vcf(store, region, tmp_path / "region.vcf.gz")
    script = (
        f"bcftools +fill-tags {vcf} -Ou -- -t AN,AC"
        " | bcftools query -f '%POS\\t%REF\\t%ALT\\t%INFO/AC\\t%INFO/AN\\n'"
    )
    done = subprocess.run(
        ["bash", "-o", "pipefail", "-c", script], capture_output=True, text=True, check=True
    )
    recount = {
        (int(p) - 1, r, a): (int(x), int(n))
        for p, r, a, x, n in (ln.split("\t") for ln in done.stdout.splitlines())
    }
    ours = _counts(allele_stats(store, region))
    assert len(ours) > 10 and recount == ours
