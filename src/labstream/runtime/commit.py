"""The five-step batch commit of a StageWorker: where exactly-once into the lake is decided.

Kept apart from the polling loop so the crash points (`maybe_crash`) and what each replay skips can be
read in one place; see `runtime/worker.py` for the argument as a whole.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pyarrow as pa

from labstream.runtime.batch import Batch, Task
from labstream.runtime.dlq import DeadLetter, dlq_topic
from labstream.runtime.faults import maybe_crash
from labstream.runtime.lineage import build_record
from labstream.stream.base import TopicPartition

if TYPE_CHECKING:
    from labstream.runtime.worker import StageWorker


def commit_batch(worker: StageWorker, batch: Batch) -> None:
    """Commit one processed batch. The numbered steps are the crash points; each is safe to replay.

    1. objects: the stage functions wrote them (content-addressed, idempotent puts).
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
        _dead_task(worker, batch, t)
    # 1. objects
    maybe_crash("after_objects")
    # 2. lake
    last = batch.last_offsets()
    txns = {worker.app_id(p): off for p, off in last.items()}
    for table in sorted({name for t in ok for name in t.rows}):
        done = {p: worker.lake.txn_version(table, worker.app_id(p)) for p in last}
        fresh = [t for t in ok if table in t.rows and not t.done_before and _fresh(worker, t, table, done)]
        parts = [t.rows[table] for t in fresh if t.rows[table].num_rows]
        if parts:
            own = {t.txn_app: 0 for t in fresh if t.txn_app}  # watermark-fired groups
            worker.lake.commit(table, pa.concat_tables(parts), txns={**txns, **own})
            worker.stats.rows_written += sum(p.num_rows for p in parts)
    maybe_crash("after_lake_commit")
    # 3. lineage
    records = [build_record(worker, t) for t in batch.tasks if not t.done_before and t.settled is None]
    if hasattr(worker.catalog, "record_lineage_many"):
        worker.catalog.record_lineage_many(records)
    else:  # pragma: no cover - an older catalog
        for rec in records:
            worker.catalog.record_lineage(rec)
    for t in ok:  # inputs a successful task skipped as bad (StageOutput.quarantined)
        if not t.done_before and t.result is not None and t.result.output is not None:
            for source, problem in t.result.output.quarantined:
                batch.quarantine.append((source, problem, t.project))
                worker.stats.quarantined += 1
    for source, problem, project in batch.quarantine:
        worker.catalog.quarantine(source, problem, stage=worker.stage.name, project=project)
    maybe_crash("after_lineage")
    # 4. publish
    if worker.stage.output_topic:
        for t in ok:
            for ev in t.out_events:
                worker.stream.publish(worker.stage.output_topic, ev.to_json(), key=ev.key)
    for d in batch.dead:
        worker.stream.publish(
            dlq_topic(worker.stage.input_topic), d.record.value, key=d.record.key, headers=d.headers()
        )
    worker.stream.flush()
    for t in batch.tasks:
        if t.group_key is not None:  # fired once, whether it succeeded or was dead-lettered
            worker.catalog.mark_fired(worker.stage.name, t.group_key)
    maybe_crash("after_publish")
    # 5. offsets (a batch of watermark-fired groups alone has none)
    if last:
        worker.consumer.commit(
            {TopicPartition(worker.stage.input_topic, p): off + 1 for p, off in last.items()}
        )
    maybe_crash("after_offset_commit")
    worker.stats.processed += sum(1 for t in ok if not t.done_before)
    worker.stats.dlq += len(batch.dead)


def _fresh(worker: StageWorker, t: Task, table: str, done: dict[int, int | None]) -> bool:
    """Are `t`'s rows for `table` not yet in the lake, by the Delta transaction that covers it?"""
    if t.txn_app is not None:
        return worker.lake.txn_version(table, t.txn_app) is None
    committed = done[t.record.partition]
    return committed is None or t.record.offset > committed


def _dead_task(worker: StageWorker, batch: Batch, t: Task) -> None:
    """A task that failed for good, or that failed before (a replay): to the dead-letter topic."""
    if t.settled is not None:
        batch.dead.append(
            DeadLetter(t.record, worker.stage.name, "replayed", t.settled.error or "", t.events[0].id, 0)
        )
        return
    assert t.failure is not None
    err_text = f"{t.failure.error_type}: {t.failure.message}"
    batch.dead.append(
        DeadLetter(t.record, worker.stage.name, t.failure.error_type, err_text, t.events[0].id, t.attempts)
    )
    if t.failure.kind in ("input", "denied"):
        worker.stats.quarantined += 1
        batch.quarantine.append(
            (t.failure.source or t.events[0].id, t.failure.problem or err_text, t.project)
        )
    else:
        worker.stats.failed += 1
