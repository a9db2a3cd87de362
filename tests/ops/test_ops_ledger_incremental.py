"""The ops refresher of a month-long `watch` folds in only the lineage written since its last tick, and
still prices every finished task exactly once: across a crash in the middle of a catch-up, rewrites of
priced tasks (a replay), late records (old start times written now), tasks first recorded unfinished,
concurrent writers, and a lake priced by the refresher before the watermark existed."""

from __future__ import annotations

import threading
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from labstream.catalog import LineageRecord, open_catalog
from labstream.core.settings import Settings
from labstream.lake import open_lake
from labstream.ops import ledger
from labstream.ops.ledger import costs_table, refresh, turnaround_table


def _sample(i: int, t0: float = 1_765_000_000.0, status: str = "ok") -> list[LineageRecord]:
    """One sample's ingest and two stage tasks (names no contract declares: one "ingested" milestone)."""
    key, t = f"S{i:05d}", t0 + 60.0 * i
    return [
        LineageRecord(
            stage=stage,
            key=key,
            project=f"p{i % 3}",
            status=status if stage != "ingest" else "ok",
            request={"cpu": 2, "memory_mb": 2048},
            cpu_seconds=30.0 + i,
            wall_seconds=20.0 + j,
            started_at=t + 100.0 * j,
            ended_at=t + 100.0 * j + 20.0 + j,
            id=f"{key}-{stage}",
        )
        for j, stage in enumerate(("ingest", "qc", "align"))
    ]


class CountingCatalog:
    """The catalog, counting the lineage records each read returns."""

    def __init__(self, cat: Any) -> None:
        self.cat, self.read = cat, 0

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self.cat, name)
        if name not in ("list_lineage", "lineage_changes"):
            return attr

        def counted(*a: Any, **kw: Any) -> Any:
            out = attr(*a, **kw)
            self.read += len(out)
            return out

        return counted


@pytest.fixture
def home(tmp_path: Path) -> Settings:
    return Settings(home=tmp_path / "home")


def _catalog(settings: Settings) -> Any:
    return open_catalog(settings.catalog_url).upgrade()


def _priced(settings: Settings) -> Counter[str]:
    return Counter(costs_table(settings)["lineage_id"].to_pylist())


def test_a_tick_reads_only_new_lineage_and_the_entities_it_touches(home: Settings) -> None:
    cat = _catalog(home)
    for i in range(0, 300, 50):
        cat.record_lineage_many([r for s in range(i, i + 50) for r in _sample(s)])
    refresh(home, catalog=cat)
    assert len(_priced(home)) == 900
    counting = CountingCatalog(cat)
    cat.record_lineage_many(_sample(300))
    assert refresh(home, catalog=counting)["costs"] == 3  # type: ignore[arg-type]
    # the 3 new writes and the 3 records of the one entity they touch; the old refresher read all 903
    assert counting.read <= 6, counting.read
    clocks = {(r["key"], r["milestone"]) for r in turnaround_table(home).to_pylist()}
    assert ("S00300", "ingested") in clocks and len(clocks) == 2 * 301
    counting.read = 0
    assert refresh(home, catalog=counting) == {"costs": 0, "turnaround": 0}  # type: ignore[arg-type]
    assert counting.read == 0
    cat.close()


def test_crash_in_the_middle_of_a_catch_up_prices_every_task_once(
    home: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    cat = _catalog(home)
    cat.record_lineage_many([r for s in range(100) for r in _sample(s)])
    monkeypatch.setattr(ledger, "LINEAGE_BATCH", 70)  # a catch-up of several batches
    real, calls = open_lake(home.lake_url).__class__.append, []

    def crashing(self: Any, table: str, data: Any, **kw: Any) -> bool:
        calls.append(table)
        if table == "costs" and calls.count("costs") == 3:  # the third batch's costs: after its clocks
            raise OSError("killed")
        return real(self, table, data, **kw)

    monkeypatch.setattr(open_lake(home.lake_url).__class__, "append", crashing)
    with pytest.raises(OSError):
        refresh(home, catalog=cat)
    assert 0 < len(_priced(home)) < 300  # two batches committed, then the crash
    monkeypatch.setattr(open_lake(home.lake_url).__class__, "append", real)
    cat.record_lineage_many(_sample(100))  # written while the refresher was down
    cat.close()
    cat = _catalog(home)  # the restart: a new process has only the lake and the catalog
    refresh(home, catalog=cat)
    priced = _priced(home)
    assert set(priced) == {r.id for s in range(101) for r in _sample(s)}
    assert max(priced.values()) == 1
    clocks = turnaround_table(home).to_pylist()
    assert len({(r["key"], r["milestone"]) for r in clocks}) == len(clocks) == 2 * 101
    cat.close()


def test_rewrites_late_records_and_unfinished_tasks(home: Settings) -> None:
    cat = _catalog(home)
    cat.record_lineage_many(_sample(0, status="failed"))
    running = _sample(1, status="running")
    cat.record_lineage_many(running)
    refresh(home, catalog=cat)
    assert set(_priced(home)) == {r.id for r in _sample(0)} | {"S00001-ingest"}  # running: not yet
    # a replay rewrites the failed tasks as ok (same ids): priced once, as before; its clock moves
    cat.record_lineage_many([r for r in _sample(0) if r.stage != "ingest"])
    # the running tasks finish; and a late record: a task that started before everything above
    cat.record_lineage_many([r for r in _sample(1) if r.stage != "ingest"])
    late = _sample(2, t0=1_700_000_000.0)
    cat.record_lineage_many(late)
    refresh(home, catalog=cat)
    priced = _priced(home)
    assert set(priced) == {r.id for s in range(3) for r in _sample(s)} and max(priced.values()) == 1
    status = dict(zip(*(costs_table(home)[c].to_pylist() for c in ("lineage_id", "status")), strict=True))
    assert status["S00000-qc"] == "failed" and status["S00001-qc"] == "ok"  # a task is priced once
    cat.close()


def test_a_lake_priced_before_the_watermark_existed_is_not_priced_again(home: Settings) -> None:
    cat = _catalog(home)
    cat.record_lineage_many([r for s in range(20) for r in _sample(s)])
    refresh(home, catalog=cat)
    lake = open_lake(home.lake_url)
    # what the refresher before catalog revision 0008 left: its rows under COSTS_TXN, no watermark
    old = costs_table(home)
    legacy_home = Settings(home=home.home.parent / "legacy")
    legacy = open_lake(legacy_home.lake_url)
    legacy.ensure_table(ledger.COSTS)
    assert legacy.append("costs", old, txn=(ledger.COSTS_TXN, 7))
    assert lake.txn_version("costs", ledger.LINEAGE_TXN) is not None
    assert legacy.txn_version("costs", ledger.LINEAGE_TXN) is None
    cat.record_lineage_many(_sample(20))
    refresh(legacy_home, catalog=cat)
    priced = _priced(legacy_home)
    assert len(priced) == 63 and max(priced.values()) == 1
    cat.close()


def test_records_written_without_a_seq_are_priced_once(home: Settings) -> None:
    """A labstream older than catalog revision 0008 still running beside this one writes lineage without
    `seq` (a rolling upgrade): the reader numbers those rows, prices a new one once and does not price
    a rewrite of a priced one again."""
    from dataclasses import asdict

    import sqlalchemy as sa

    from labstream.catalog.models import LineageRow

    cat = _catalog(home)
    cat.record_lineage_many(_sample(0))
    refresh(home, catalog=cat)

    def old_writer(rec: LineageRecord) -> None:
        row = {**asdict(rec), "inputs": [], "outputs": []}
        with cat.engine.begin() as conn:
            conn.execute(sa.delete(LineageRow).where(LineageRow.id == rec.id))
            conn.execute(sa.insert(LineageRow), [row])

    for rec in _sample(1):
        old_writer(rec)
    old_writer(_sample(0)[1])  # a rewrite of a priced task
    refresh(home, catalog=cat)
    priced = _priced(home)
    assert set(priced) == {r.id for s in range(2) for r in _sample(s)} and max(priced.values()) == 1
    assert refresh(home, catalog=cat) == {"costs": 0, "turnaround": 0}
    cat.close()


@pytest.mark.parametrize("db", ["sqlite", pytest.param("postgres", marks=pytest.mark.integration)])
def test_concurrent_writers_and_a_ticking_refresher_price_each_task_once(
    db: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    """Writers commit concurrently (on PostgreSQL truly in parallel): no write lands behind the watermark."""
    url = str(request.getfixturevalue("postgres_db_url")) if db == "postgres" else None
    home = Settings(home=tmp_path / "home", **({"catalog_url": url} if url else {}))
    cat = _catalog(home)
    stop = threading.Event()
    cursor = ledger.LineageCursor()
    errors: list[BaseException] = []

    def writer(w: int) -> None:
        try:
            wc = _catalog(home)
            for s in range(w * 1000, w * 1000 + 40):
                wc.record_lineage_many(_sample(s))
            wc.close()
        except BaseException as err:  # noqa: BLE001 - reported by the assertion below
            errors.append(err)

    def refresher() -> None:
        while not stop.is_set():
            refresh(home, catalog=cat, cursor=cursor)

    threads = [threading.Thread(target=writer, args=(w,)) for w in range(3)]
    ticking = threading.Thread(target=refresher)
    ticking.start()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    stop.set()
    ticking.join()
    refresh(home, catalog=cat, cursor=cursor)
    assert not errors, errors
    priced = _priced(home)
    assert set(priced) == {r.id for w in range(3) for s in range(w * 1000, w * 1000 + 40) for r in _sample(s)}
    assert max(priced.values()) == 1
    cat.close()


def test_each_tick_reads_only_this_months_costs_for_the_budgets(home: Settings, tmp_path: Path) -> None:
    """refresh_forever's alerts read the cost rows of the current month (budgets), not the lab's whole
    history at every tick; none at all when no budgets are set. The spend they give is unchanged."""
    from labstream.ops.budget import month_spend, month_start

    cat = _catalog(home)
    now = 1_767_225_600.0 + 10 * 86400  # 2026-01-11 UTC
    months = [now - 70 * 86400, now - 40 * 86400, now - 3 * 86400]  # November, December, January
    recs = [r for m, t0 in enumerate(months) for s in range(m * 10, m * 10 + 10) for r in _sample(s, t0=t0)]
    cat.record_lineage_many(recs)
    refresh(home, catalog=cat)
    lake = open_lake(home.lake_url)
    assert ledger.alert_costs(home, lake, now).num_rows == 0  # no budgets: nothing read
    budgets = tmp_path / "budgets.toml"
    budgets.write_text("[projects.p0]\nmonthly_usd = 10.0\n")
    with_budgets = Settings(home=home.home, budgets=str(budgets))
    rows = ledger.alert_costs(with_budgets, lake, now)
    assert rows.num_rows == 30 and min(rows["ended_at"].to_pylist()) >= month_start(now)
    assert month_spend(rows, now) == month_spend(costs_table(home), now)
    cat.close()
