"""The five-step batch commit of a StageWorker: where exactly-once into the lake is decided.

Kept apart from the polling loop so the crash points (`maybe_crash`) and what each replay skips can be
read in one place; see `runtime/worker.py` for the argument as a whole. The commit gets the
collaborators it touches (`CommitParts`), not the worker, so this module never imports the worker back.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import pyarrow as pa

from labstream.catalog.base import CatalogStore
from labstream.core.events import ObjectRef
from labstream.lake.base import LakeTables
from labstream.runtime.batch import Batch, Task, WorkerStats
from labstream.runtime.dlq import DeadLetter, dlq_topic
from labstream.runtime.faults import maybe_crash
from labstream.runtime.lineage import build_record
from labstream.runtime.stage import Stage
from labstream.stream.base import Consumer, Stream, TopicPartition

# (project, stage, lineage_id, objects the task stored): governance registers the served ones (DRS/htsget)
OutputsHook = Callable[[str, str, str, list[ObjectRef]], None]


@dataclass(frozen=True)
class CommitParts:
    """What one stage's batch commit reads and writes: built once by the StageWorker.

    `stats` is the worker's own (mutable) running totals; the commit adds to them."""

    stage: Stage
    stream: Stream
    consumer: Consumer
    lake: LakeTables
    catalog: CatalogStore
    stats: WorkerStats
    code_version: str
    executor_url: str
    on_outputs: OutputsHook | None = None

    def app_id(self, partition: int) -> str:
        """The Delta application-transaction id of one input partition as consumed by this stage."""
        return f"{self.stage.name}:{self.stage.input_topic}:{partition}"


def commit_batch(parts: CommitParts, batch: Batch) -> None:
    """Commit one processed batch. The numbered steps are the crash points; each is safe to replay.

    1. objects: the stage functions wrote them (content-addressed, idempotent puts); `on_outputs`
       (governance) makes the served ones DRS/htsget objects — idempotent per object, and called for
       replayed tasks too, so a crash between this step and the offsets loses no registration.
    2. lake: per table, one Delta version holding the new rows and, per partition of the batch,
       the application transaction (app_id = stage:topic:partition, version = last offset).
       Rows of records at or below a partition's committed version, and rows of tasks already
       done, are dropped: a replay adds nothing.
    3. lineage: one record per task (status ok, failed or quarantined) and quarantine records.
    4. publish: next events (deterministic ids), dead letters, then flush; gather groups fired.
    5. offsets: commit the position after the batch.
    """
    ok = [t for t in batch.tasks if t.failure is None and t.settled is None and t.result is not None]
    bad = [t for t in batch.tasks if t.failure is not None or t.settled is not None]
    for t in bad:
        _dead_task(parts, batch, t)
    # 1. objects
    if parts.on_outputs is not None:
        for t in ok:
            if t.result is not None and t.result.output is not None and t.result.output.objects:
                parts.on_outputs(t.project, parts.stage.name, t.lineage_id, list(t.result.output.objects))
    maybe_crash("after_objects")
    # 2. lake
    last = batch.last_offsets()
    for table in sorted({name for t in ok for name in t.rows}):
        done = {p: parts.lake.txn_version(table, parts.app_id(p)) for p in last}
        fresh = [t for t in ok if table in t.rows and not t.done_before and _fresh(parts, t, table, done)]
        chunks = [t.rows[table] for t in fresh if t.rows[table].num_rows]
        if chunks:
            # never move a partition's committed version back: a replayed batch can end below what an
            # earlier (crashed) attempt committed for one partition while bringing new rows of another;
            # writing its lower offset would make the next records up to the old version look fresh
            txns = {parts.app_id(p): max(off, -1 if done[p] is None else done[p]) for p, off in last.items()}
            own = {t.txn_app: 0 for t in fresh if t.txn_app}  # watermark-fired groups
            parts.lake.commit(table, pa.concat_tables(chunks), txns={**txns, **own})
            parts.stats.rows_written += sum(c.num_rows for c in chunks)
    maybe_crash("after_lake_commit")
    # 3. lineage
    records = [
        build_record(t, stage=parts.stage, code_version=parts.code_version, executor_url=parts.executor_url)
        for t in batch.tasks
        if not t.done_before and t.settled is None
    ]
    parts.catalog.record_lineage_many(records)
    for t in ok:  # inputs a successful task skipped as bad (StageOutput.quarantined)
        if not t.done_before and t.result is not None and t.result.output is not None:
            for source, problem in t.result.output.quarantined:
                batch.quarantine.append((source, problem, t.project))
                parts.stats.quarantined += 1
    for source, problem, project in batch.quarantine:
        parts.catalog.quarantine(source, problem, stage=parts.stage.name, project=project)
    maybe_crash("after_lineage")
    # 4. publish
    if parts.stage.output_topic:
        for t in ok:
            for ev in t.out_events:
                parts.stream.publish(parts.stage.output_topic, ev.to_json(), key=ev.key)
    for d in batch.dead:
        parts.stream.publish(
            dlq_topic(parts.stage.input_topic), d.record.value, key=d.record.key, headers=d.headers()
        )
    parts.stream.flush()
    for t in batch.tasks:
        if t.group_key is not None:  # fired once, whether it succeeded or was dead-lettered
            parts.catalog.mark_fired(parts.stage.name, t.group_key)
    maybe_crash("after_publish")
    # 5. offsets (a batch of watermark-fired groups alone has none)
    if last:
        parts.consumer.commit(
            {TopicPartition(parts.stage.input_topic, p): off + 1 for p, off in last.items()}
        )
    maybe_crash("after_offset_commit")
    parts.stats.processed += sum(1 for t in ok if not t.done_before)
    parts.stats.dlq += len(batch.dead)


def _fresh(parts: CommitParts, t: Task, table: str, done: dict[int, int | None]) -> bool:
    """Are `t`'s rows for `table` not yet in the lake, by the Delta transaction that covers it?"""
    if t.txn_app is not None:
        return parts.lake.txn_version(table, t.txn_app) is None
    committed = done[t.record.partition]
    return committed is None or t.record.offset > committed


def _dead_task(parts: CommitParts, batch: Batch, t: Task) -> None:
    """A task that failed for good, or that failed before (a replay): to the dead-letter topic."""
    if t.settled is not None:
        batch.dead.append(
            DeadLetter(t.record, parts.stage.name, "replayed", t.settled.error or "", t.events[0].id, 0)
        )
        return
    assert t.failure is not None
    err_text = f"{t.failure.error_type}: {t.failure.message}"
    batch.dead.append(
        DeadLetter(t.record, parts.stage.name, t.failure.error_type, err_text, t.events[0].id, t.attempts)
    )
    if t.failure.kind in ("input", "denied"):
        parts.stats.quarantined += 1
        batch.quarantine.append(
            (t.failure.source or t.events[0].id, t.failure.problem or err_text, t.project)
        )
    else:
        parts.stats.failed += 1
