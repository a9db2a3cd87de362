"""StageWorker: runs one stage on the stream, exactly once into the lake.

Each `step()` polls a batch from the stage's input topic (consumer group = stage name), turns records
into tasks, runs them on the executor (retries with exponential backoff), and commits the batch in the
five numbered steps of `commit_batch`. Delivery is at least once; the lake result is exactly once:

- A replay of the worker's own batch (crash before step 5) is caught by the Delta application
  transaction of step 2: per table and partition, rows of records at or below the committed txn version
  are dropped, whatever the new batch boundaries are.
- A duplicate of an event at a new offset (an upstream stage re-published after its own crash: same
  deterministic event id) is caught by the processed-event set. That set is the catalog's lineage table:
  a task's lineage id is derived from (stage, version, input event ids) and its record is written in
  step 3, right after the lake commit, so "lineage recorded with status ok" means "its rows are in the
  lake". Why the lineage table and not a separate set or a scan of the lake: it is written for every
  task anyway (no extra write), it is indexed by that id (one primary-key lookup per task, not a lake
  scan), and it also covers tasks that write no rows.
- A task found already done is still re-run, with its rows dropped: a crash between step 3 and step 4
  would otherwise lose its published events. Re-published events keep their ids, so downstream stages
  recognise them in turn.
- Failed and quarantined tasks are recorded in lineage with that status; a replay publishes their dead
  letter again (at least once) without re-running them.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa

from labstream.catalog import Catalog, LineageRecord
from labstream.compute.base import Executor
from labstream.core.errors import AccessDenied, ComputeError, InputError
from labstream.core.events import Event
from labstream.lake import Lake
from labstream.lake.schema import conform
from labstream.runtime.dlq import DeadLetter, dlq_topic, record_source
from labstream.runtime.faults import maybe_crash
from labstream.runtime.gather import collect_group, expired_groups, watermark_app_id
from labstream.runtime.lineage import build_record, code_version
from labstream.runtime.stage import Stage, TaskContext
from labstream.runtime.task import (
    TaskFailure,
    TaskResult,
    TaskSpec,
    output_event_id,
    run_task,
    task_lineage_id,
)
from labstream.stream.base import Record, Stream, TopicPartition

log = logging.getLogger(__name__)


@dataclass
class Task:
    events: list[Event]
    record: Record  # the record that made the task runnable: its offset is the task's txn position
    lineage_id: str
    group_key: str | None = None
    done_before: bool = False  # lineage says ok: rows are in the lake already
    settled: LineageRecord | None = None  # failed/quarantined before: only its dead letter is re-sent
    attempts: int = 0
    result: TaskResult | None = None
    failure: TaskFailure | None = None
    rows: dict[str, pa.Table] = field(default_factory=dict)
    out_events: list[Event] = field(default_factory=list)
    partial: bool = False  # a gather group fired on its watermark with fewer members than expected
    txn_app: str | None = None  # its own Delta app id (watermark-fired: no record carries its txn)

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


class StageWorker:
    """Runs `stage` from its input topic; see the module docstring for the exactly-once argument."""

    def __init__(
        self,
        stage: Stage,
        *,
        stream: Stream,
        lake: Lake,
        catalog: Catalog,
        executor: Executor,
        objects_url: str,
        batch_size: int = 200,
        poll_timeout: float = 0.2,
        backoff_base: float = 0.5,
        backoff_max: float = 30.0,
        store_opener: str = "",
        store_options: dict[str, str] | None = None,
        placement_check: Callable[[str, str, str], None] | None = None,
    ) -> None:
        """`store_opener`/`store_options` go to every TaskContext (see TaskContext.store);
        `placement_check(project, stage, lineage_id)` runs before each submit and raises AccessDenied
        to refuse the placement (governance residency): the task is quarantined, never retried."""
        self.stage = stage
        self.store_opener = store_opener
        self.store_options = dict(store_options or {})
        self.placement_check = placement_check
        self.stream = stream
        self.lake = lake
        self.catalog = catalog
        self.executor = executor
        self.objects_url = objects_url
        self.batch_size = batch_size
        self.poll_timeout = poll_timeout
        self.backoff_base = backoff_base
        self.backoff_max = backoff_max
        self.code_version = code_version(stage.fn)
        self.stats = WorkerStats()
        self._next_watermark = 0.0
        for topic in (stage.input_topic, dlq_topic(stage.input_topic), stage.output_topic):
            if topic:
                stream.create_topic(topic)
        self.consumer = stream.consumer(stage.name, [stage.input_topic])

    def app_id(self, partition: int) -> str:
        return f"{self.stage.name}:{self.stage.input_topic}:{partition}"

    # -- the loop ----------------------------------------------------------------------------------

    def step(self) -> int:
        """Process one polled batch; returns how many records it covered (0 when none were waiting)."""
        records = self.consumer.poll(max_records=self.batch_size, timeout=self.poll_timeout)
        if not records:
            return self.fire_expired()
        try:
            batch = self._prepare(sorted(records, key=lambda r: (r.partition, r.offset)))
            self._execute(batch)
            self.commit_batch(batch)
        except Exception:
            self._rewind(records)
            raise
        self.stats.batches += 1
        return len(records) + self.fire_expired()

    def fire_expired(self, *, force: bool = False, all_open: bool = False) -> int:
        """Fire the gather groups whose watermark passed (GatherSpec.timeout_s); returns how many.

        Checked at most every min(1 s, timeout/4) unless `force`; a no-op for other stages.
        `all_open` fires every group not fired yet, whatever its age: for a caller that knows the
        input is complete (a batch run through the platform after `run_until_idle`)."""
        spec = self.stage.gather
        if spec is None or (spec.timeout_s is None and not all_open):
            return 0
        now = time.time()
        if not (force or all_open) and now < self._next_watermark:
            return 0
        self._next_watermark = now + min(1.0, float(spec.timeout_s or 0.0) / 4)
        batch = Batch([])
        for key, members, partial in expired_groups(self.catalog, self.stage, now, all_open=all_open):
            lid = task_lineage_id(self.stage.name, self.stage.version, [m.id for m in members])
            rec = Record(self.stage.input_topic, -1, -1, key, members[0].to_json())
            app = watermark_app_id(self.stage, key)
            batch.tasks.append(Task(members, rec, lid, group_key=key, partial=partial, txn_app=app))
        if not batch.tasks:
            return 0
        self._execute(batch)
        self.commit_batch(batch)
        self.stats.watermark_fired += len(batch.tasks)
        return len(batch.tasks)

    def _rewind(self, records: list[Record]) -> None:
        """After a failed batch, read again from the committed offsets (nothing past them is done)."""
        first: dict[TopicPartition, int] = {}
        for r in records:
            first[r.tp] = min(r.offset, first.get(r.tp, r.offset))
        for tp, offset in first.items():
            committed = self.consumer.committed(tp)
            self.consumer.seek(tp, committed if committed is not None else offset)

    # -- batch preparation -------------------------------------------------------------------------

    def _prepare(self, records: list[Record]) -> Batch:
        batch = Batch(records)
        seen: set[str] = set()
        for rec in records:
            try:
                event = Event.from_json(rec.value, source=record_source(rec))
            except InputError as err:
                self._dead(batch, rec, err, quarantine=True)
                continue
            if self.stage.accepts and event.type not in self.stage.accepts:
                self.stats.skipped += 1
                continue
            if self.stage.instruments and event.data.get("instrument") not in self.stage.instruments:
                self.stats.skipped += 1
                continue
            if event.id in seen:
                self.stats.duplicates += 1
                continue
            seen.add(event.id)
            if self.stage.gather is None:
                ids = [event.id]
                batch.tasks.append(
                    Task([event], rec, task_lineage_id(self.stage.name, self.stage.version, ids))
                )
                continue
            try:
                group = collect_group(self.catalog, self.stage, event, rec, batch.fired_groups)
            except InputError as err:
                self._dead(batch, rec, err, quarantine=True, event_id=event.id, project=event.project)
                continue
            if group is None:
                continue
            key, members = group
            lid = task_lineage_id(self.stage.name, self.stage.version, [m.id for m in members])
            batch.tasks.append(Task(members, rec, lid, group_key=key))
        return batch

    def _dead(
        self,
        batch: Batch,
        rec: Record,
        err: Exception,
        *,
        quarantine: bool,
        event_id: str = "",
        project: str = "default",
        attempts: int = 0,
    ) -> None:
        batch.dead.append(DeadLetter(rec, self.stage.name, type(err).__name__, str(err), event_id, attempts))
        if quarantine:
            batch.quarantine.append((event_id or record_source(rec), str(err), project))

    # -- execution with retries --------------------------------------------------------------------

    def _execute(self, batch: Batch) -> None:
        todo: list[Task] = []
        priors = _lineage_many(self.catalog, [t.lineage_id for t in batch.tasks])
        for task in batch.tasks:
            prior = priors.get(task.lineage_id)
            if prior is not None and prior.status == "ok":
                task.done_before = True
                self.stats.duplicates += 1
            elif prior is not None and prior.status in ("failed", "quarantined"):
                task.settled = prior
                self.stats.duplicates += 1
                continue
            todo.append(task)
        attempt = 0
        while todo:
            futures = [(task, self._submit(task)) for task in todo]
            self.stats.in_flight = sum(1 for _, f in futures if f is not None)
            retry: list[Task] = []
            for task, fut in futures:
                self._collect(task, fut)
                if task.failure and task.failure.kind == "error" and task.attempts <= self.stage.max_retries:
                    retry.append(task)
            self.stats.in_flight = 0
            if retry:
                attempt += 1
                self.stats.retries += len(retry)
                delay = min(self.backoff_max, self.backoff_base * 2 ** (attempt - 1))
                log.info("stage %s: retrying %d task(s) in %.2fs", self.stage.name, len(retry), delay)
                time.sleep(delay)
            todo = retry

    def _submit(self, task: Task) -> Any:
        ctx = TaskContext(
            stage=self.stage.name,
            stage_version=self.stage.version,
            events=task.events,
            params=dict(self.stage.params),
            objects_url=self.objects_url,
            lineage_id=task.lineage_id,
            store_opener=self.store_opener,
            store_options=self.store_options,
            partial=task.partial,
        )
        task.attempts += 1
        task.failure = None
        if self.placement_check is not None:
            try:
                self.placement_check(task.project, self.stage.name, task.lineage_id)
            except AccessDenied as err:  # refused by policy: quarantine, no retry
                task.failure = TaskFailure(
                    "denied",
                    type(err).__name__,
                    str(err),
                    "",
                    source=f"{self.stage.name}/{task.events[0].id}",
                    problem=f"placement refused: {err}",
                )
                return None
        try:
            return self.executor.submit(
                run_task,
                TaskSpec(self.stage.fn, ctx, self.stage.resources.gpu),
                resources=self.stage.resources,
            )
        except ComputeError as err:  # can never be placed: no retry
            task.failure = TaskFailure("placement", type(err).__name__, str(err), "")
            return None

    def _collect(self, task: Task, fut: Any) -> None:
        if fut is None:
            return
        try:
            result: TaskResult = fut.result()
        except Exception as err:  # the executor lost the task (worker died, unpicklable output)
            task.failure = TaskFailure("error", type(err).__name__, f"executor: {err}", "")
            return
        task.result = result
        task.failure = result.failure
        if result.output is None:
            return
        try:
            for table, data in result.output.rows.items():
                schema = self.lake.resolve_schema(table, data)
                task.rows[table] = conform(
                    table, data, schema, defaults={"lineage_id": task.lineage_id, "project": task.project}
                )
        except InputError as err:  # rows that do not fit the declared table: bad input, not a retry
            task.rows.clear()
            task.failure = TaskFailure(
                "input", type(err).__name__, str(err), "", source=err.source, problem=err.problem
            )
            return
        ids = [e.id for e in task.events]
        for i, ev in enumerate(result.output.events):
            task.out_events.append(
                Event(
                    type=ev.type,
                    key=ev.key,
                    data=ev.data,
                    refs=ev.refs,
                    parents=(task.lineage_id,),
                    id=output_event_id(self.stage.name, ids, i),
                    created_at=ev.created_at,
                    project=ev.project if ev.project != "default" else task.project,
                )
            )

    # -- the commit --------------------------------------------------------------------------------

    def commit_batch(self, batch: Batch) -> None:
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
            self._dead_task(batch, t)
        # 1. objects
        maybe_crash("after_objects")
        # 2. lake
        last = batch.last_offsets()
        txns = {self.app_id(p): off for p, off in last.items()}
        for table in sorted({name for t in ok for name in t.rows}):
            done = {p: self.lake.txn_version(table, self.app_id(p)) for p in last}
            fresh = [t for t in ok if table in t.rows and not t.done_before and self._fresh(t, table, done)]
            parts = [t.rows[table] for t in fresh if t.rows[table].num_rows]
            if parts:
                own = {t.txn_app: 0 for t in fresh if t.txn_app}  # watermark-fired groups
                self.lake.commit(table, pa.concat_tables(parts), txns={**txns, **own})
                self.stats.rows_written += sum(p.num_rows for p in parts)
        maybe_crash("after_lake_commit")
        # 3. lineage
        records = [build_record(self, t) for t in batch.tasks if not t.done_before and t.settled is None]
        if hasattr(self.catalog, "record_lineage_many"):
            self.catalog.record_lineage_many(records)
        else:  # pragma: no cover - an older catalog
            for rec in records:
                self.catalog.record_lineage(rec)
        for t in ok:  # inputs a successful task skipped as bad (StageOutput.quarantined)
            if not t.done_before and t.result is not None and t.result.output is not None:
                for source, problem in t.result.output.quarantined:
                    batch.quarantine.append((source, problem, t.project))
                    self.stats.quarantined += 1
        for source, problem, project in batch.quarantine:
            self.catalog.quarantine(source, problem, stage=self.stage.name, project=project)
        maybe_crash("after_lineage")
        # 4. publish
        if self.stage.output_topic:
            for t in ok:
                for ev in t.out_events:
                    self.stream.publish(self.stage.output_topic, ev.to_json(), key=ev.key)
        for d in batch.dead:
            self.stream.publish(
                dlq_topic(self.stage.input_topic), d.record.value, key=d.record.key, headers=d.headers()
            )
        self.stream.flush()
        for t in batch.tasks:
            if t.group_key is not None:  # fired once, whether it succeeded or was dead-lettered
                self.catalog.mark_fired(self.stage.name, t.group_key)
        maybe_crash("after_publish")
        # 5. offsets (a batch of watermark-fired groups alone has none)
        if last:
            self.consumer.commit(
                {TopicPartition(self.stage.input_topic, p): off + 1 for p, off in last.items()}
            )
        maybe_crash("after_offset_commit")
        self.stats.processed += sum(1 for t in ok if not t.done_before)
        self.stats.dlq += len(batch.dead)

    def _fresh(self, t: Task, table: str, done: dict[int, int | None]) -> bool:
        """Are `t`'s rows for `table` not yet in the lake, by the Delta transaction that covers it?"""
        if t.txn_app is not None:
            return self.lake.txn_version(table, t.txn_app) is None
        committed = done[t.record.partition]
        return committed is None or t.record.offset > committed

    def _dead_task(self, batch: Batch, t: Task) -> None:
        """A task that failed for good, or that failed before (a replay): to the dead-letter topic."""
        if t.settled is not None:
            batch.dead.append(
                DeadLetter(t.record, self.stage.name, "replayed", t.settled.error or "", t.events[0].id, 0)
            )
            return
        assert t.failure is not None
        err_text = f"{t.failure.error_type}: {t.failure.message}"
        batch.dead.append(
            DeadLetter(t.record, self.stage.name, t.failure.error_type, err_text, t.events[0].id, t.attempts)
        )
        if t.failure.kind in ("input", "denied"):
            self.stats.quarantined += 1
            batch.quarantine.append(
                (t.failure.source or t.events[0].id, t.failure.problem or err_text, t.project)
            )
        else:
            self.stats.failed += 1

    # -- status ------------------------------------------------------------------------------------

    def lag(self) -> int:
        """Records of the input topic not yet committed by this stage's group.

        Exact on sqlite; on Kafka a lower bound (brokers may under-report end offsets): see `idle`."""
        total = 0
        for p, end in self.stream.end_offsets(self.stage.input_topic).items():
            committed = self.consumer.committed(TopicPartition(self.stage.input_topic, p)) or 0
            total += max(0, end - committed)
        return total

    def idle(self) -> bool:
        """Nothing left to do: this consumer has read its partitions to the end it knows of (a fetch's
        high-water mark on Kafka, exact on sqlite) and the group has committed up to the reported ends.
        Call it after a `step()` that returned 0."""
        return self.stats.in_flight == 0 and self.consumer.caught_up() and self.lag() == 0

    def status(self) -> dict[str, Any]:
        s = self.stats
        return {
            "stage": self.stage.name,
            "input_topic": self.stage.input_topic,
            "processed": s.processed,
            "failed": s.failed,
            "quarantined": s.quarantined,
            "dlq": s.dlq,
            "skipped": s.skipped,
            "duplicates": s.duplicates,
            "retries": s.retries,
            "in_flight": s.in_flight,
            "batches": s.batches,
            "rows_written": s.rows_written,
            "watermark_fired": s.watermark_fired,
            "lag": self.lag(),
        }

    def close(self) -> None:
        self.consumer.close()


def _lineage_many(catalog: Catalog, ids: list[str]) -> dict[str, LineageRecord]:
    """Existing lineage records of these task ids: one query where the catalog offers it."""
    if hasattr(catalog, "get_lineage_many"):
        return dict(catalog.get_lineage_many(ids))
    found = {i: catalog.get_lineage(i) for i in ids}  # pragma: no cover - an older catalog
    return {i: r for i, r in found.items() if r is not None}
