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
from typing import Any

from labstream.catalog import CatalogStore
from labstream.compute.base import Executor
from labstream.compute.preflight import WORKER_HINT
from labstream.core.errors import ComputeError, InputError
from labstream.core.events import Event
from labstream.lake.base import LakeTables
from labstream.lake.schema import conform
from labstream.runtime.batch import Batch, Task, WorkerStats
from labstream.runtime.commit import CommitParts, OutputsHook, commit_batch
from labstream.runtime.dlq import DeadLetter, dlq_topic, record_source
from labstream.runtime.gather import collect_group, expired_groups, watermark_app_id
from labstream.runtime.lineage import code_version
from labstream.runtime.placing import PlacementCheck, Placer, decide_placement
from labstream.runtime.replay import REPLAY_HEADER
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


class StageWorker:
    """Runs `stage` from its input topic; see the module docstring for the exactly-once argument."""

    def __init__(
        self,
        stage: Stage,
        *,
        stream: Stream,
        lake: LakeTables,
        catalog: CatalogStore,
        executor: Executor,
        objects_url: str,
        batch_size: int = 200,
        poll_timeout: float = 0.2,
        backoff_base: float = 0.5,
        backoff_max: float = 30.0,
        store_opener: str = "",
        store_options: dict[str, str] | None = None,
        placement_check: PlacementCheck | None = None,
        on_outputs: OutputsHook | None = None,
        placer: Placer | None = None,
    ) -> None:
        """`store_opener`/`store_options` go to every TaskContext (see TaskContext.store);
        `on_outputs` sees each successful task's stored objects at commit (runtime/commit.py, step 1);
        `placement_check(project, stage, lineage_id)` runs before each submit and raises AccessDenied
        to refuse the placement (governance residency): the task is quarantined, never retried;
        `placer` picks each task's site, class and executor (runtime/placing.py, labstream.sites)."""
        self.stage = stage
        self.store_opener = store_opener
        self.store_options = dict(store_options or {})
        self.placement_check = placement_check
        self.placer = placer
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
        self.parts = CommitParts(
            stage,
            stream,
            self.consumer,
            lake,
            catalog,
            self.stats,
            self.code_version,
            executor.url,
            on_outputs,
        )

    def app_id(self, partition: int) -> str:
        return self.parts.app_id(partition)

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
                self._dead(batch, rec, err)
                continue
            if self.stage.accepts and event.type not in self.stage.accepts:
                self.stats.skipped += 1
                continue
            if self.stage.instruments and event.data.get("instrument") not in self.stage.instruments:
                self.stats.skipped += 1
                continue
            if self.stage.select is not None and not self.stage.select(event):
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
                self._dead(batch, rec, err, event)
                continue
            if group is None:
                continue
            key, members = group
            lid = task_lineage_id(self.stage.name, self.stage.version, [m.id for m in members])
            batch.tasks.append(Task(members, rec, lid, group_key=key))
        return batch

    def _dead(self, batch: Batch, rec: Record, err: InputError, event: Event | None = None) -> None:
        """A record the stage cannot take (no readable event, or a bad group member): dead-lettered and
        quarantined under its event id (the record's source when no event could be read)."""
        event_id, project = (event.id, event.project) if event is not None else ("", "default")
        batch.dead.append(DeadLetter(rec, self.stage.name, type(err).__name__, str(err), event_id))
        batch.quarantine.append((event_id or record_source(rec), str(err), project))

    # -- execution with retries --------------------------------------------------------------------

    def _execute(self, batch: Batch) -> None:
        todo: list[Task] = []
        priors = self.catalog.get_lineage_many([t.lineage_id for t in batch.tasks])
        for task in batch.tasks:
            prior = priors.get(task.lineage_id)
            if prior is not None and prior.status == "ok":
                task.done_before = True
                self.stats.duplicates += 1
            elif prior is not None and prior.status in ("failed", "quarantined") and not _replayed(task):
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
        if task.result is not None:  # a retry: the earlier attempt's usage is billed too (ops/cost)
            u = task.result.usage
            task.earlier.append(
                {
                    "cpu_seconds": u.cpu_seconds,
                    "wall_seconds": u.wall_seconds,
                    "gpu_seconds": u.gpu_seconds,
                    "peak_rss_bytes": float(u.peak_rss_bytes),
                }
            )
            task.result = None
        task.failure = None
        decision = decide_placement(
            self.stage, task.events, task.lineage_id, self.placement_check, self.placer
        )
        if isinstance(decision, TaskFailure):
            task.failure = decision
            return None
        task.placement = decision
        executor = decision.executor if decision is not None and decision.executor else self.executor
        try:
            return executor.submit(
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
            message = f"executor: {err}"
            if "deserializ" in str(err):  # Dask's words for a worker whose environment differs
                message += f" [a worker could not rebuild the task; {WORKER_HINT}]"
            task.failure = TaskFailure("error", type(err).__name__, message, "")
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

    def commit_batch(self, batch: Batch) -> None:
        """Commit one processed batch in the five numbered steps of `runtime.commit.commit_batch`."""
        commit_batch(self.parts, batch)

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


def _replayed(task: Task) -> bool:
    """A dead letter replayed after a fix (runtime/replay.py): run it again despite its failed lineage."""
    return REPLAY_HEADER in (task.record.headers or {})
