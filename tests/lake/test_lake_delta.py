"""Delta tables on a local folder: idempotent appends, reads, time travel, maintenance."""

from __future__ import annotations

import pyarrow as pa
import pyarrow.compute as pc
import pytest

from labstream.core.errors import ConfigError
from labstream.lake import (
    Lake,
    LakeError,
    SchemaMismatchError,
    TableSchema,
    open_lake,
    register_schema,
    txn_id,
    unregister_schema,
)

COLS = pa.schema(
    [pa.field("plate", pa.string(), nullable=False), ("well", pa.string()), ("area", pa.float64())]
)


@pytest.fixture
def lake(tmp_path) -> Lake:
    register_schema(TableSchema("delta_cells", COLS, partition_by=["plate"]))
    yield Lake(tmp_path / "lake")
    unregister_schema("delta_cells")


def _rows(plate: str, n: int, start: int = 0) -> list[dict]:
    return [{"plate": plate, "well": f"W{i:03d}", "area": float(i)} for i in range(start, start + n)]


def test_append_replay_adds_nothing(lake: Lake) -> None:
    app = txn_id("group", "features", 3)
    assert app == "group/features/3"
    assert lake.txn_version("delta_cells", app) is None
    assert lake.append("delta_cells", _rows("P1", 5), txn=(app, 10), lineage_id="L1") is True
    v = lake.version("delta_cells")
    # the same batch again (crash between lake commit and offset commit), and an older one
    assert lake.append("delta_cells", _rows("P1", 5), txn=(app, 10), lineage_id="L1") is False
    assert lake.append("delta_cells", _rows("P1", 3), txn=(app, 7)) is False
    assert lake.version("delta_cells") == v
    assert lake.read("delta_cells").num_rows == 5
    # a newer offset, and another partition's app_id with a lower version, both land
    assert lake.append("delta_cells", _rows("P1", 2, 5), txn=(app, 11)) is True
    assert lake.append("delta_cells", _rows("P2", 2), txn=(txn_id("group", "features", 0), 1)) is True
    assert lake.txn_version("delta_cells", app) == 11
    table = lake.read("delta_cells")
    assert table.num_rows == 9
    assert sorted(table.column("well").to_pylist()).count("W000") == 2
    assert set(table.filter(pc.field("well") == "W000").column("plate").to_pylist()) == {"P1", "P2"}


def test_declared_table_exists_empty_with_schema(lake: Lake) -> None:
    from labstream.lake import get_schema

    lake.ensure_table(get_schema("delta_cells"))
    assert lake.tables() == ["delta_cells"]
    assert lake.version("delta_cells") == 0
    assert lake.read("delta_cells").num_rows == 0
    assert lake.read("delta_cells").schema.names == lake.schema("delta_cells").names
    assert lake.append("delta_cells", []) is False  # no rows, no version
    assert lake.version("delta_cells") == 0


def test_platform_columns_filled(lake: Lake) -> None:
    lake.append("delta_cells", _rows("P1", 2), lineage_id="lin-7", project="screen-a")
    lake.append("delta_cells", [{"plate": "P9", "project": "own"}])
    t = lake.read("delta_cells").sort_by("plate")
    assert t.column("lineage_id").to_pylist() == ["lin-7", "lin-7", None]
    assert t.column("project").to_pylist() == ["screen-a", "screen-a", "own"]
    assert t.column("_ingested_at").null_count == 0
    assert t.schema.field("_ingested_at").type == pa.timestamp("us", tz="UTC")


def test_bad_rows_write_nothing(lake: Lake) -> None:
    lake.append("delta_cells", _rows("P1", 1))
    v = lake.version("delta_cells")
    with pytest.raises(SchemaMismatchError, match="delta_cells.*area"):
        lake.append("delta_cells", [{"plate": "P1", "area": "huge"}], txn=("a", 1))
    assert lake.version("delta_cells") == v
    assert lake.txn_version("delta_cells", "a") is None


def test_filter_partitions_and_time_travel(lake: Lake) -> None:
    lake.append("delta_cells", _rows("P1", 4))
    v1 = lake.version("delta_cells")
    lake.append("delta_cells", _rows("P2", 6))
    assert lake.read("delta_cells", [("plate", "=", "P2")]).num_rows == 6
    assert lake.read("delta_cells", pc.field("area") >= 3.0).num_rows == 1 + 3
    assert lake.read("delta_cells", version=v1).num_rows == 4
    assert lake.dataset("delta_cells", version=v1).count_rows() == 4
    assert lake.read("delta_cells", columns=["well"]).column_names == ["well"]
    ops = [h["operation"] for h in lake.history("delta_cells")]
    assert ops[0] == "WRITE" and ops[-1] == "CREATE TABLE" and len(ops) == lake.version("delta_cells") + 1


def test_compact_then_vacuum(lake: Lake) -> None:
    for i in range(6):
        lake.append("delta_cells", _rows("P1", 3, start=3 * i))
    before = lake.read("delta_cells").sort_by("well")
    old = lake.version("delta_cells")
    metrics = lake.compact("delta_cells")
    assert metrics["numFilesRemoved"] == 6 and metrics["numFilesAdded"] == 1
    assert lake.read("delta_cells").sort_by("well").equals(before)
    assert lake.version("delta_cells") == old + 1
    with pytest.raises(LakeError, match="zero retention"):
        lake.vacuum("delta_cells", 0)
    assert lake.vacuum("delta_cells") == []  # default retention keeps young files
    dry = lake.vacuum("delta_cells", 0, force=True, dry_run=True)
    assert len(dry) == 6
    removed = lake.vacuum("delta_cells", 0, force=True)
    assert sorted(removed) == sorted(dry)
    assert lake.read("delta_cells").num_rows == 18
    with pytest.raises(LakeError, match="delta_cells"):  # time travel to a vacuumed version fails
        lake.read("delta_cells", version=old)
    with pytest.raises(LakeError, match="version 999"):
        lake.read("delta_cells", version=999)


def test_undeclared_table_is_inferred_then_enforced(tmp_path) -> None:
    lake = Lake(f"file://{tmp_path}/lake2")
    assert lake.append("adhoc", [{"sample": "S1", "depth": 31.5}], lineage_id="x")
    assert lake.schema("adhoc").names == ["sample", "depth", "lineage_id", "project", "_ingested_at"]
    with pytest.raises(SchemaMismatchError, match="adhoc.*depth"):
        lake.append("adhoc", [{"sample": "S2", "depth": "deep"}])
    with pytest.raises(SchemaMismatchError, match="only nulls"):
        lake.append("nulls", [{"x": None}])
    assert lake.tables() == ["adhoc"]


def test_errors_for_missing_tables_and_bad_urls(tmp_path) -> None:
    lake = Lake(tmp_path / "lake3")
    with pytest.raises(LakeError, match="no lake table 'ghost'"):
        lake.read("ghost")
    assert lake.txn_version("ghost", "a") is None
    with pytest.raises(ConfigError, match=r"unknown storage URL scheme 'ftp'.*use one of: file, gs, s3"):
        Lake("ftp://host/lake")
    with pytest.raises(ConfigError, match="invalid lake table name"):
        lake.append("../escape", [{"a": 1}])


def test_open_lake_defaults_to_settings_home(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("LABSTREAM_HOME", str(tmp_path / "home"))
    lake = open_lake()
    assert lake.root == str((tmp_path / "home" / "lake").resolve())


def test_same_app_id_race_is_resolved(lake: Lake, tmp_path, monkeypatch) -> None:
    """Two handles append the same (app_id, version): Delta refuses the loser's commit, which then
    sees the winner's transaction and writes nothing."""
    slow = Lake(lake.root)
    slow.append("delta_cells", _rows("P0", 1))  # caches its table handle at this version
    fast = Lake(lake.root)
    assert fast.append("delta_cells", _rows("P1", 2), txn=("g/t/0", 1)) is True
    real = Lake.txn_version
    calls = []

    def stale_once(self, table, app_id):  # the race window: the check ran before `fast` committed
        calls.append(app_id)
        return None if len(calls) == 1 else real(self, table, app_id)

    monkeypatch.setattr(Lake, "txn_version", stale_once)
    assert slow.append("delta_cells", _rows("P1", 2), txn=("g/t/0", 1)) is False
    assert len(calls) == 2
    monkeypatch.undo()
    assert lake.read("delta_cells", [("plate", "=", "P1")]).num_rows == 2
    # a commit that bypasses the check conflicts loudly instead of duplicating rows
    stale = Lake(lake.root)
    stale.read("delta_cells")
    fast.append("delta_cells", _rows("P2", 1), txn=("g/t/0", 2))
    with pytest.raises(LakeError, match="failed"):
        stale.commit("delta_cells", _rows("P2", 1), txns={"g/t/0": 2})
    assert lake.read("delta_cells", [("plate", "=", "P2")]).num_rows == 1
