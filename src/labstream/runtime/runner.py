"""PipelineRunner: one StageWorker per stage of a pipeline, over the configured backends.

Embedded default: all workers in one process, each with its own stream connection, sharing the
executor, lake and catalog. `run_until_idle` drives them in turn until every input topic is drained
(used by the demo and tests); `run_forever` gives each worker a thread until the stop event is set.
A stage can also run alone in its own process: `python -m labstream.runtime.worker_main`.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any, Unpack

from labstream.catalog import open_catalog
from labstream.compute import open_executor
from labstream.compute.base import Executor
from labstream.core.settings import Settings
from labstream.lake import open_lake
from labstream.runtime.options import WorkerOptions
from labstream.runtime.stage import Pipeline
from labstream.runtime.worker import StageWorker
from labstream.stream import open_stream

log = logging.getLogger(__name__)


class PipelineRunner:
    """Runs `pipeline` on the backends of `settings` and the executor of `executor_url`."""

    def __init__(
        self,
        settings: Settings,
        pipeline: Pipeline,
        executor_url: str | None = None,
        *,
        executor: Executor | None = None,
        stages: list[str] | None = None,
        **worker_options: Unpack[WorkerOptions],
    ) -> None:
        """`worker_options` (batch size, poll timeout, backoff, and the hooks `store_opener`,
        `store_options`, `placement_check`, `on_outputs` that governance passes:
        labstream.governance.governed.runner_options; `placer`, which picks each task's site, class and
        executor: labstream.sites.SitePlacer) are handed to every StageWorker as given."""
        unknown = sorted(set(worker_options) - set(WorkerOptions.__annotations__))
        if unknown:
            raise TypeError(f"PipelineRunner got unexpected keyword argument(s) {unknown}")
        settings.ensure_home()
        self.settings = settings
        self.pipeline = pipeline
        self._own_executor = executor is None
        self.executor = executor or open_executor(executor_url or settings.executor_url)
        self.executor.check_workers(
            settings.objects_url
        )  # a worker that cannot reach the objects: say so now
        self.lake = open_lake(settings.lake_url)
        self.catalog = open_catalog(settings.catalog_url).upgrade()
        chosen = [s for s in pipeline.stages if stages is None or s.name in stages]
        if stages is not None and len(chosen) != len(set(stages)):
            known = ", ".join(s.name for s in pipeline.stages)
            raise ValueError(f"unknown stage in {stages} for pipeline {pipeline.name!r} (stages: {known})")
        self.workers = [
            StageWorker(
                stage,
                stream=open_stream(settings.stream_url),
                lake=self.lake,
                catalog=self.catalog,
                executor=self.executor,
                objects_url=settings.objects_url,
                **worker_options,
            )
            for stage in chosen
        ]
        self.errors: list[str] = []

    def run_until_idle(self, timeout: float = 120.0) -> dict[str, dict[str, Any]]:
        """Step every worker until a full round finds nothing to do and every worker is `idle()`.

        On a stream whose end offsets are exact (sqlite) one such round is enough; on Kafka, where a
        broker may under-report them, two rounds in a row are required and each consumer must have
        read to the high-water mark its last fetch saw (a consumer still joining its group is not
        idle). Raises TimeoutError (with the status) when that does not happen within `timeout` s."""
        deadline = time.monotonic() + timeout
        need = 1 if all(w.stream.exact_end_offsets for w in self.workers) else 2
        quiet = 0
        while True:
            handled = sum(w.step() for w in self.workers)
            if handled == 0 and all(w.idle() for w in self.workers):
                quiet += 1
                if quiet >= need:
                    return self.status()
            else:
                quiet = 0
            if time.monotonic() > deadline:
                raise TimeoutError(
                    f"pipeline {self.pipeline.name!r} not idle after {timeout}s: {self.status()}"
                )

    def run_forever(self, stop_event: threading.Event, *, error_pause: float = 1.0) -> None:
        """One thread per worker until `stop_event` is set. A failing batch is logged and retried
        from the committed offsets after `error_pause` seconds; the stream keeps flowing."""

        def loop(worker: StageWorker) -> None:
            while not stop_event.is_set():
                try:
                    if worker.step() == 0:
                        stop_event.wait(0.05)
                except Exception as err:  # keep the worker alive; the batch is re-read
                    log.exception("stage %s: batch failed", worker.stage.name)
                    self.errors.append(f"{worker.stage.name}: {type(err).__name__}: {err}")
                    stop_event.wait(error_pause)

        threads = [
            threading.Thread(target=loop, args=(w,), name=f"stage-{w.stage.name}", daemon=True)
            for w in self.workers
        ]
        for t in threads:
            t.start()
        for t in threads:
            t.join()

    def is_idle(self) -> bool:
        """Every stage `idle()`: nothing in flight, read to the end, no lag (does not step; safe to call
        from another thread while `run_forever` runs)."""
        return all(w.idle() for w in self.workers)

    def status(self) -> dict[str, dict[str, Any]]:
        """Per stage: processed, failed, quarantined, dlq, skipped, duplicates, retries, lag, in_flight."""
        return {w.stage.name: w.status() for w in self.workers}

    def close(self) -> None:
        for w in self.workers:
            w.close()
            w.stream.close()
        if self._own_executor:
            self.executor.close()
        self.catalog.close()

    def __enter__(self) -> PipelineRunner:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
