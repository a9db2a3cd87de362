"""The micro-batcher: many small adds become few Delta versions, replays add nothing, failures keep rows."""

from __future__ import annotations

import time

import pyarrow as pa
import pytest

from labstream.lake import (
    Lake,
    LakeWriter,
    SchemaMismatchError,
    TableSchema,
    register_schema,
    unregister_schema,
)

COLS = pa.schema([("event", pa.int64()), ("value", pa.float64())])


@pytest.fixture
def lake(tmp_path) -> Lake:
    register_schema(TableSchema("wr_events", COLS))
    register_schema(TableSchema("wr_other", COLS))
    yield Lake(tmp_path / "lake")
    unregister_schema("wr_events")
    unregister_schema("wr_other")


def test_single_rows_become_few_versions(lake: Lake) -> None:
    app = "g/topic/0"
    flushed, txns = [], []
    with LakeWriter(lake, max_rows=50, max_seconds=3600) as writer:
        for offset in range(120):
            now = writer.add("wr_events", [{"event": offset, "value": offset / 2}], txn=(app, offset))
            if now:  # each commit carries the highest offset of its batch
                txns.append(lake.txn_version("wr_events", app))
            flushed += now
        assert txns == [49, 99]
        assert [f.rows for f in flushed] == [50, 50]
        assert writer.pending_rows("wr_events") == 20
    # 1 create + 3 writes (50, 50, and 20 on leaving the block), not 120 versions
    assert lake.version("wr_events") == 3
    assert lake.txn_version("wr_events", app) == 119
    assert sorted(lake.read("wr_events").column("event").to_pylist()) == list(range(120))


def test_replayed_rows_are_dropped_per_app_id(lake: Lake) -> None:
    with LakeWriter(lake, max_rows=1000) as w:
        for off in range(10):
            w.add("wr_events", [{"event": off, "value": 0.0}], txn=("g/t/0", off))
    # restart: partition 0 is replayed from offset 5, partition 1 is new, in the same batch
    writer = LakeWriter(lake, max_rows=1000)
    for off in range(5, 15):
        writer.add("wr_events", [{"event": off, "value": 1.0}], txn=("g/t/0", off))
        writer.add("wr_events", [{"event": 100 + off, "value": 2.0}], txn=("g/t/1", off))
    (result,) = writer.flush()
    assert (result.rows, result.skipped) == (15, 5)
    events = lake.read("wr_events").column("event").to_pylist()
    assert sorted(events) == list(range(15)) + [100 + o for o in range(5, 15)]
    assert lake.txn_version("wr_events", "g/t/0") == 14
    assert lake.txn_version("wr_events", "g/t/1") == 14
    # the whole batch replayed once more adds nothing and makes no version
    v = lake.version("wr_events")
    for off in range(5, 15):
        writer.add("wr_events", [{"event": off, "value": 1.0}], txn=("g/t/0", off))
    (again,) = writer.flush()
    assert (again.rows, again.skipped, again.version) == (0, 10, None)
    assert lake.version("wr_events") == v


def test_time_based_flush_and_tables_are_independent(lake: Lake) -> None:
    writer = LakeWriter(lake, max_rows=10_000, max_seconds=0.2)
    assert writer.add("wr_events", [{"event": 1, "value": 1.0}]) == []
    assert writer.tick() == []
    time.sleep(0.3)
    # any add (or tick) flushes what is old enough; the young table stays buffered
    flushed = writer.add("wr_other", [{"event": 2, "value": 2.0}])
    assert [(f.table, f.rows) for f in flushed] == [("wr_events", 1)]
    assert writer.tick() == []
    assert writer.pending_rows() == 1 and writer.pending_rows("wr_other") == 1
    assert lake.read("wr_events").num_rows == 1
    assert not lake.exists("wr_other")
    writer.close()
    assert lake.read("wr_other").num_rows == 1


def test_lineage_defaults_apply_per_add(lake: Lake) -> None:
    with LakeWriter(lake, max_rows=100) as w:
        w.add("wr_events", [{"event": 1, "value": 0.0}], lineage_id="task-a", project="p1")
        w.add("wr_events", pa.table({"event": [2], "value": [0.5]}), lineage_id="task-b", project="p2")
    t = lake.read("wr_events").sort_by("event")
    assert t.column("lineage_id").to_pylist() == ["task-a", "task-b"]
    assert t.column("project").to_pylist() == ["p1", "p2"]
    assert lake.version("wr_events") == 1
    for write in (lake.append, lake.commit, LakeWriter(lake).add):  # a misspelt fill is not dropped
        with pytest.raises(TypeError, match="lineage"):
            write("wr_events", [{"event": 3, "value": 1.0}], lineage="task-c")  # type: ignore[call-arg]
    assert lake.version("wr_events") == 1


def test_failed_flush_keeps_the_buffer(lake: Lake) -> None:
    writer = LakeWriter(lake, max_rows=3)
    writer.add("wr_events", [{"event": 1, "value": 1.0}], txn=("g/t/0", 1))
    writer.add("wr_events", [{"event": 2, "value": "not a number"}], txn=("g/t/0", 2))
    with pytest.raises(SchemaMismatchError, match="wr_events.*value"):
        writer.add("wr_events", [{"event": 3, "value": 3.0}], txn=("g/t/0", 3))
    assert writer.pending_rows("wr_events") == 3
    assert not lake.exists("wr_events") or lake.read("wr_events").num_rows == 0
    assert lake.txn_version("wr_events", "g/t/0") is None
