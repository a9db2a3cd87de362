"""Lake maintenance folds small files without losing, doubling or hiding a row: while a writer appends,
after a replayed transaction, and for time travel inside the retention; the cohort's tables are left to
`cohort compact`, and a dry run writes nothing."""

from __future__ import annotations

import threading
from pathlib import Path

import pyarrow as pa
import pytest
from typer.testing import CliRunner

from labstream.lake import TableSchema, get_schema, open_lake, register_schema, unregister_schema
from labstream.ops.maintenance import maintain

COLS = pa.schema([("n", pa.int64())])


@pytest.fixture
def lake(tmp_path: Path):  # type: ignore[no-untyped-def]
    for name in ("maint_rows", "cohort_maint"):
        register_schema(TableSchema(name, COLS), replace=True)
    lk = open_lake(str(tmp_path / "lake"))
    for name in ("maint_rows", "cohort_maint"):
        lk.ensure_table(get_schema(name))
        for n in range(40):
            lk.append(name, [{"n": n}], txn=(f"w-{name}", n + 1))
    yield lk
    for name in ("maint_rows", "cohort_maint"):
        unregister_schema(name)


def _values(lk, table: str) -> list[int]:  # type: ignore[no-untyped-def]
    return sorted(lk.read(table, columns=["n"])["n"].to_pylist())


def test_compaction_keeps_every_row_while_a_writer_appends(lake) -> None:  # type: ignore[no-untyped-def]
    before = lake.version("maint_rows")
    stop, written = threading.Event(), []

    def writer() -> None:
        n = 1000
        while not stop.is_set() and n < 1060:
            lake.append("maint_rows", [{"n": n}])
            written.append(n)
            n += 1

    t = threading.Thread(target=writer)
    t.start()
    try:
        rows = maintain(lake, min_files=32)
    finally:
        stop.set()
        t.join(60)
    mine = next(r for r in rows if r["table"] == "maint_rows")
    assert mine["files"] >= 40 and mine["compacted"] >= 32
    assert _values(lake, "maint_rows") == list(range(40)) + written  # none lost, none twice
    assert len(lake.dataset("maint_rows").files) < 40 + len(written)
    assert lake.txn_version("maint_rows", "w-maint_rows") == 40  # replays are still refused after it
    assert lake.append("maint_rows", [{"n": 0}], txn=("w-maint_rows", 40)) is False
    assert sorted(lake.read("maint_rows", version=before)["n"].to_pylist()) == list(range(40))  # time travel
    assert all(r["table"] != "cohort_maint" for r in rows)  # the cohort compacts its own tables
    assert len(lake.dataset("cohort_maint").files) == 40


def test_dry_run_and_small_tables_write_nothing(lake) -> None:  # type: ignore[no-untyped-def]
    version = lake.version("maint_rows")
    rows = maintain(lake, dry_run=True)
    assert [r["compacted"] for r in rows] == [0] and lake.version("maint_rows") == version
    assert maintain(lake, min_files=41)[0]["compacted"] == 0 and lake.version("maint_rows") == version


def test_cli_maintain_prints_a_row_per_table(tmp_path: Path, lake, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from labstream.cli.main import app

    monkeypatch.setenv("LABSTREAM_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("LABSTREAM_LAKE_URL", str(tmp_path / "lake"))
    res = CliRunner().invoke(app, ["ops", "maintain", "--format", "json"])
    assert res.exit_code == 0, res.output
    assert '"table": "maint_rows"' in res.output and '"compacted": 40' in res.output
    assert _values(lake, "maint_rows") == list(range(40))
    bad = CliRunner().invoke(app, ["ops", "maintain", "--min-files", "1"])
    assert bad.exit_code == 2 and "--min-files" in bad.output


def test_watch_refresher_maintains_the_lake(tmp_path: Path, lake, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    import labstream.ops.ledger as ledger
    from labstream.core.settings import Settings

    monkeypatch.setattr(ledger, "MAINTAIN_INTERVAL_S", 0.0)
    settings = Settings(home=tmp_path / "home", lake_url=str(tmp_path / "lake"))
    stop = threading.Event()
    t = threading.Thread(target=ledger.refresh_forever, args=(settings, stop), kwargs={"interval_s": 0.05})
    t.start()
    try:
        for _ in range(200):
            if len(lake.dataset("maint_rows").files) < 40:
                break
            stop.wait(0.1)
    finally:
        stop.set()
        t.join(60)
    assert len(lake.dataset("maint_rows").files) == 1 and _values(lake, "maint_rows") == list(range(40))
