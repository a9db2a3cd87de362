"""The batch commit's Delta application transactions (runtime/commit.py), driven directly on a real lake."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa

from labstream.core.events import Event
from labstream.core.resources import ResourceUsage
from labstream.lake import TableSchema, open_lake, register_schema
from labstream.runtime.batch import Batch, Task, WorkerStats
from labstream.runtime.commit import CommitParts, commit_batch
from labstream.runtime.stage import Stage, StageOutput
from labstream.runtime.task import TaskResult
from labstream.stream.base import Record

TABLE = "commit_probe"
register_schema(TableSchema(TABLE, pa.schema([("partition", pa.int64()), ("offset", pa.int64())])))


class _Sink:
    """The stream, consumer and catalog the commit talks to, reduced to what it calls."""

    def __init__(self) -> None:
        self.offsets: dict[object, int] = {}

    def publish(self, *_a: object, **_k: object) -> None: ...
    def flush(self) -> None: ...
    def commit(self, offsets: dict[object, int]) -> None:
        self.offsets.update(offsets)

    def record_lineage_many(self, records: list[object]) -> None: ...
    def quarantine(self, *_a: object, **_k: object) -> None: ...
    def mark_fired(self, *_a: object) -> None: ...


def _batch(records: list[tuple[int, int]]) -> Batch:
    recs = [Record("probe.in", p, off, f"k{p}", b"{}") for p, off in records]
    tasks = [
        Task(
            [Event(type="tick", key=r.key, data={"p": r.partition, "o": r.offset})],
            r,
            f"l-{r.partition}-{r.offset}",
            result=TaskResult(usage=ResourceUsage(), output=StageOutput()),
            rows={TABLE: pa.table({"partition": [r.partition], "offset": [r.offset]})},
        )
        for r in recs
    ]
    return Batch(recs, tasks)


def test_a_replayed_batch_never_moves_a_partitions_committed_version_back(tmp_path: Path) -> None:
    """A worker killed after its lake commit is replayed from the committed offsets; the replayed batch
    can end below what the first attempt committed for one partition (0) while bringing new rows of
    another (1). Its commit must keep partition 0's version, or the next batch's records of partition 0
    up to the old version look fresh and are written twice (the SIGKILL chaos test saw 78 such rows)."""
    lake = open_lake(str(tmp_path / "lake"))
    sink = _Sink()
    stage = Stage("probe", "1", "probe.in", lambda ctx: StageOutput())
    parts = CommitParts(stage, sink, sink, lake, sink, WorkerStats(), "tests", "local")  # type: ignore[arg-type]
    commit_batch(parts, _batch([(0, o) for o in range(10)] + [(1, 0)]))  # first attempt, then "killed"
    assert lake.txn_version(TABLE, parts.app_id(0)) == 9
    commit_batch(parts, _batch([(0, o) for o in range(5)] + [(1, 0), (1, 1)]))  # the replay: fewer of 0
    assert lake.txn_version(TABLE, parts.app_id(0)) == 9 and lake.txn_version(TABLE, parts.app_id(1)) == 1
    commit_batch(parts, _batch([(0, o) for o in range(5, 12)]))  # the rest of partition 0
    rows = lake.read(TABLE).to_pylist()
    keys = [(r["partition"], r["offset"]) for r in rows]
    assert len(keys) == len(set(keys)) == 12 + 2  # partition 0: 0..11 once; partition 1: 0, 1
