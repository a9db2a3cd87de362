"""RunExecutor: consumes `labstream.submissions` and runs each submitted pipeline through the runtime.

A run moves QUEUED -> RUNNING -> COMPLETE | EXECUTOR_ERROR (| CANCELED, honoured before and during the
run). For each submission it:
1 marks the run RUNNING (skipped when it is CANCELED or already finished: redeliveries are harmless);
2 ingests the submitted inputs (paths under the inbox, `settings.home/inbox`) through GovernedIngest on a
  topic of the run's own, so encryption, pseudonyms and residency apply;
3 builds the named pipeline from its contract (labstream.pipelines; `pipeline_params` are its settings,
  validated first; files are data objects of the run's project named by id, never server paths:
  governance/run_params.py) and runs it with a governed PipelineRunner until idle,
  checking for cancellation between rounds;
4 records the outputs (the run's lineage ids, produced objects, rows per lake table) found by walking
  lineage forward from the inputs' ingest tasks, and the final state;
5 commits the submission's offset.
A crash before 5 redelivers the submission; the run is then executed again, which the exactly-once
runtime makes safe.
"""

from __future__ import annotations

import logging
import threading
import time
from pathlib import Path
from typing import Any

from labstream.core.events import Event
from labstream.governance.models import RunRow
from labstream.governance.run_params import resolved_params
from labstream.governance.runs import SUBMISSIONS_TOPIC, TERMINAL, input_paths
from labstream.governance.service import Governance

log = logging.getLogger(__name__)
GROUP = "labstream.run-executor"


class RunCanceled(Exception):
    """The run was canceled while it ran."""


class ExecutorStopping(Exception):
    """stop() was called while a run ran: the run is left RUNNING and its submission uncommitted, so
    the next executor runs it again (the exactly-once runtime makes that safe)."""


class RunExecutor:
    def __init__(
        self,
        gov: Governance,
        *,
        site: str | None = None,
        executor_url: str | None = None,
        poll_timeout: float = 0.5,
        run_timeout: float = 600.0,
    ) -> None:
        from labstream.stream import open_stream

        self.gov = gov
        self.settings = gov.settings
        self.site = site
        self.executor_url = executor_url
        self.poll_timeout = poll_timeout
        self.run_timeout = run_timeout
        self.stream = open_stream(self.settings.stream_url)
        self.stream.create_topic(SUBMISSIONS_TOPIC, partitions=1)
        self.consumer = self.stream.consumer(GROUP, [SUBMISSIONS_TOPIC])
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._executor: Any = None

    # -- loop --------------------------------------------------------------------------------------

    def step(self) -> int:
        """Handle the submissions waiting now; returns how many records were read."""
        from labstream.stream.base import TopicPartition

        records = self.consumer.poll(max_records=10, timeout=self.poll_timeout)
        for rec in records:
            try:
                event = Event.from_json(rec.value, source=f"{rec.topic}/{rec.partition}@{rec.offset}")
            except Exception as err:  # a malformed submission is skipped, never blocks the queue
                log.warning("skipping malformed submission: %s", err)
            else:
                self.handle(event)
            self.consumer.commit({TopicPartition(rec.topic, rec.partition): rec.offset + 1})
        return len(records)

    def start(self) -> threading.Thread:
        """Run in a background thread until stop()."""

        def loop() -> None:
            while not self._stop.is_set():
                try:
                    if self.step() == 0:
                        self._stop.wait(0.05)
                except ExecutorStopping:
                    break
                except Exception:  # keep serving; the submission is redelivered
                    log.exception("run executor: step failed")
                    self._stop.wait(1.0)

        self._thread = threading.Thread(target=loop, name="run-executor", daemon=True)
        self._thread.start()
        return self._thread

    def stop(self, timeout: float = 30.0) -> None:
        """End the loop (a run in progress stops between rounds and is redelivered), then close. The
        stream is never closed under a thread still inside it: native code freed beneath a running
        thread aborts the process at exit."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
            if self._thread.is_alive():
                log.warning(
                    "run executor: its thread did not stop in %.0f s; its stream is left open", timeout
                )
                return
        self.consumer.close()
        self.stream.close()
        if self._executor is not None:
            self._executor.close()

    # -- one run -----------------------------------------------------------------------------------

    def _set(self, run_id: str, *, expect: set[str] | None = None, **values: Any) -> bool:
        """Update the run unless its state moved away from `expect` (a cancel wins over the executor)."""
        with self.gov.sessions.begin() as s:
            row = s.get(RunRow, run_id)
            if row is None or (expect is not None and row.state not in expect):
                return False
            for k, v in values.items():
                setattr(row, k, v)
            row.updated_at = time.time()
            return True

    def state(self, run_id: str) -> str:
        with self.gov.sessions() as s:
            row = s.get(RunRow, run_id)
            return row.state if row else ""

    def handle(self, event: Event) -> str:
        """Execute the run named by a `pipeline.submitted` event; returns its final state."""
        run_id = str(event.data.get("run_id", ""))
        with self.gov.sessions() as s:
            row = s.get(RunRow, run_id)
        if row is None or row.state in TERMINAL:
            return row.state if row else ""
        if not self._set(run_id, expect={"QUEUED", "RUNNING"}, state="RUNNING", started_at=time.time()):
            return self.state(run_id)
        try:
            outputs = self._execute(row)
        except RunCanceled:
            self._set(run_id, ended_at=time.time())
            return "CANCELED"
        except ExecutorStopping:
            raise
        except Exception as err:  # any failure of the run is the run's, not the service's
            log.warning("run %s failed: %s", run_id, err)
            self._set(
                run_id,
                expect={"RUNNING"},
                state="EXECUTOR_ERROR",
                ended_at=time.time(),
                error=f"{type(err).__name__}: {err}"[:4000],
            )
            return self.state(run_id)
        bad = outputs.get("problems") or []
        self._set(
            run_id,
            expect={"RUNNING"},
            state="EXECUTOR_ERROR" if bad else "COMPLETE",
            ended_at=time.time(),
            outputs=outputs,
            error="; ".join(bad)[:4000] if bad else None,
        )
        return self.state(run_id)

    def _runner_executor(self) -> Any:
        if self._executor is None:
            from labstream.compute import open_executor

            self._executor = open_executor(self.executor_url or self.settings.executor_url)
        return self._executor

    def _execute(self, row: RunRow) -> dict[str, Any]:
        """Run it; pipeline_params are checked again and object ids resolved (governance/run_params)."""
        params = dict(row.params or {})
        paths = input_paths(self.settings, params.get("inputs", []))
        with resolved_params(self.gov, row.project, params.get("pipeline_params")) as factory_kw:
            return self._execute_with(row, params, paths, factory_kw)

    def _execute_with(
        self, row: RunRow, params: dict[str, Any], paths: list[Path], factory_kw: dict[str, Any]
    ) -> dict[str, Any]:
        from labstream.governance.governed import GovernedIngest, runner_options
        from labstream.pipelines import build_pipeline
        from labstream.runtime.runner import PipelineRunner

        topic = f"labstream.runs.{row.id}"
        pipeline = build_pipeline(row.pipeline, factory_kw, input_topic=topic, source=f"run {row.id}")
        problems: list[str] = []
        inputs: list[dict[str, Any]] = []
        ingest = GovernedIngest(self.gov, topic=pipeline.stages[0].input_topic, partitions=1)
        try:
            for path in paths:
                res = ingest.ingest_file(path, project=row.project, data={"run_id": row.id})
                inputs.append({"name": path.name, "status": res.status, "sha256": res.sha256})
                if res.status in ("quarantined", "denied"):
                    problems.append(f"input {path.name}: {res.error}")
        finally:
            ingest.close()
        site = params.get("site")
        opts = runner_options(self.gov, site=str(site) if site else self.site)
        deadline = time.monotonic() + self.run_timeout
        with PipelineRunner(
            self.settings, pipeline, executor=self._runner_executor(), poll_timeout=0.1, **opts
        ) as runner:
            while True:
                handled = sum(w.step() for w in runner.workers)
                if self.state(row.id) == "CANCELED":
                    raise RunCanceled(row.id)
                if self._stop.is_set():
                    raise ExecutorStopping(row.id)
                if handled == 0 and all(w.lag() == 0 for w in runner.workers):
                    break
                if time.monotonic() > deadline:
                    raise TimeoutError(f"run {row.id} not finished after {self.run_timeout}s")
            status = runner.status()
            outputs = collect_outputs(runner, row.project, [i["sha256"] for i in inputs if i["sha256"]])
        for name, st in status.items():
            if st["failed"] or st["quarantined"]:
                problems.append(f"stage {name}: {st['failed']} failed, {st['quarantined']} quarantined")
        return {**outputs, "inputs": inputs, "stages": status, "problems": problems}


def collect_outputs(runner: Any, project: str, input_shas: list[str]) -> dict[str, Any]:
    """The run's tasks (found by walking lineage forward from the inputs' ingest tasks), the objects
    they produced, and how many lake rows each table holds for them."""
    import pyarrow.compute as pc

    catalog, lake = runner.catalog, runner.lake
    roots = {f"ingest-{sha[:32]}" for sha in input_shas}
    records = catalog.list_lineage(project=project)
    mine: set[str] = set(roots)
    changed = True
    while changed:
        changed = False
        for rec in records:
            if rec.id not in mine and any(p in mine for p in rec.parent_ids):
                mine.add(rec.id)
                changed = True
    tasks = [r for r in records if r.id in mine and r.id not in roots]
    objects = sorted({(o.uri, o.sha256) for r in tasks for o in r.outputs})
    tables: dict[str, int] = {}
    ids = sorted(mine)
    for table in lake.tables():
        try:
            if "lineage_id" not in lake.schema(table).names:
                continue
            n = lake.read(table, filter=pc.field("lineage_id").isin(ids), columns=["lineage_id"]).num_rows
        except Exception as err:  # a table another writer is creating right now: left out of the count
            log.debug("run outputs: cannot count table %s: %s", table, err)
            continue
        if n:
            tables[table] = n
    return {
        "lineage_ids": [r.id for r in tasks],
        "objects": [{"name": Path(u).name, "sha256": s} for u, s in objects],  # never a storage URI
        "tables": tables,
    }
