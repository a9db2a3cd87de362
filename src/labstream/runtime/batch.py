"""What a StageWorker carries through one step: the tasks of a polled batch and its running totals."""

from __future__ import annotations

from dataclasses import dataclass, field

import pyarrow as pa

from labstream.catalog import LineageRecord
from labstream.core.events import Event
from labstream.runtime.dlq import DeadLetter
from labstream.runtime.placing import TaskPlacement
from labstream.runtime.task import TaskFailure, TaskResult
from labstream.stream.base import Record


@dataclass
class Task:
    events: list[Event]
    record: Record  # the record that made the task runnable: its offset is the task's txn position
    lineage_id: str
    group_key: str | None = None
    done_before: bool = False  # lineage says ok: rows are in the lake already
    settled: LineageRecord | None = None  # failed/quarantined before: only its dead letter is re-sent
    attempts: int = 0
    earlier: list[dict[str, float]] = field(default_factory=list)  # usage of earlier attempts (cost)
    result: TaskResult | None = None
    failure: TaskFailure | None = None
    rows: dict[str, pa.Table] = field(default_factory=dict)
    out_events: list[Event] = field(default_factory=list)
    partial: bool = False  # a gather group fired on its watermark with fewer members than expected
    txn_app: str | None = None  # its own Delta app id (watermark-fired: no record carries its txn)
    placement: TaskPlacement | None = None  # where a placer sent it (site, class, reason: lineage)

    @property
    def project(self) -> str:
        return self.events[0].project


@dataclass
class Batch:
    records: list[Record]
    tasks: list[Task] = field(default_factory=list)
    dead: list[DeadLetter] = field(default_factory=list)
    quarantine: list[tuple[str, str, str]] = field(default_factory=list)  # (source, problem, project)
    fired_groups: set[str] = field(default_factory=set)

    def last_offsets(self) -> dict[int, int]:
        last: dict[int, int] = {}
        for r in self.records:
            last[r.partition] = max(r.offset, last.get(r.partition, -1))
        return last


@dataclass
class WorkerStats:
    processed: int = 0
    failed: int = 0
    quarantined: int = 0
    dlq: int = 0
    skipped: int = 0
    duplicates: int = 0
    retries: int = 0
    in_flight: int = 0
    batches: int = 0
    rows_written: int = 0
    watermark_fired: int = 0
