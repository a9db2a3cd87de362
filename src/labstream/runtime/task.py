"""One task on an executor: the measuring wrapper around a stage function, and deterministic ids.

`run_task(spec)` runs in the executor's worker process (a pool process or a Dask worker). It never
raises for the stage function's sake: it returns a TaskResult carrying the output or a TaskFailure
(kind "input" for InputError, "error" otherwise) plus what the task used: cpu seconds (user + system of
this process, or of this thread on a multi-threaded worker, plus waited-for child processes such as
aligners), wall seconds, peak RSS (the kernel's high-water mark, reset at task start where Linux
allows), gpu seconds (wall seconds x GPUs allocated: what the task holds is what it costs), host, start
and end.

Ids are deterministic so that a replay is recognisable: the same stage, version and input events give
the same lineage id, and the i-th event a task publishes has an id derived from that task.
"""

from __future__ import annotations

import resource
import socket
import tempfile
import threading
import time
import traceback
import uuid
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from labstream.core.errors import InputError
from labstream.core.resources import ResourceUsage
from labstream.runtime.stage import StageOutput, TaskContext

NAMESPACE = uuid.UUID("6c616273-7472-6561-6d2d-6c696e656167")  # fixed: ids must be stable forever


def task_lineage_id(stage: str, version: str, event_ids: list[str]) -> str:
    """Lineage id of the task running `stage`@`version` on these events (order-independent)."""
    return uuid.uuid5(NAMESPACE, f"task\0{stage}\0{version}\0" + "\0".join(sorted(event_ids))).hex


def output_event_id(stage: str, event_ids: list[str], index: int) -> str:
    """Id of the index-th event a task of `stage` publishes for these input events."""
    return uuid.uuid5(NAMESPACE, f"event\0{stage}\0" + "\0".join(sorted(event_ids)) + f"\0{index}").hex


@dataclass
class TaskSpec:
    fn: Any  # Callable[[TaskContext], StageOutput], module level so it pickles by reference
    context: TaskContext
    gpus: float = 0.0


@dataclass
class TaskFailure:
    kind: str  # "input" (bad input: quarantine, no retry) | "error" (retry, then dead-letter)
    error_type: str
    message: str
    traceback: str
    source: str = ""  # InputError only: the file or record named
    problem: str = ""


@dataclass
class TaskResult:
    usage: ResourceUsage
    output: StageOutput | None = None
    failure: TaskFailure | None = None


def _cpu_seconds(thread_scope: bool) -> float:
    who = resource.RUSAGE_THREAD if thread_scope else resource.RUSAGE_SELF
    own = resource.getrusage(who)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


def _reset_peak_rss() -> None:
    try:  # Linux >= 4.0: "5" resets the VmHWM high-water mark of this process
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        pass


def _peak_rss_bytes() -> int:
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                own = int(line.split()[1]) * 1024
                break
        else:
            own = 0
    except OSError:
        own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    kids = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024
    return max(own, kids)


def run_task(spec: TaskSpec) -> TaskResult:
    """Run the stage function once, measured; see the module docstring."""
    thread_scope = threading.current_thread() is not threading.main_thread()
    if not thread_scope:
        _reset_peak_rss()
    started = time.time()
    t0 = time.perf_counter()
    cpu0 = _cpu_seconds(thread_scope)
    output: StageOutput | None = None
    failure: TaskFailure | None = None
    with tempfile.TemporaryDirectory(prefix=f"labstream-{spec.context.stage}-") as scratch:
        try:
            output = spec.fn(replace(spec.context, scratch_dir=scratch))
            if not isinstance(output, StageOutput):
                raise TypeError(
                    f"stage {spec.context.stage!r} returned {type(output).__name__}, not a StageOutput"
                )
        except InputError as err:
            output = None
            failure = TaskFailure(
                "input",
                type(err).__name__,
                str(err),
                traceback.format_exc(),
                source=err.source,
                problem=err.problem,
            )
        except Exception as err:  # any other failure is worth a retry
            output = None
            failure = TaskFailure("error", type(err).__name__, str(err), traceback.format_exc())
    wall = time.perf_counter() - t0
    usage = ResourceUsage(
        cpu_seconds=max(0.0, _cpu_seconds(thread_scope) - cpu0),
        wall_seconds=wall,
        peak_rss_bytes=_peak_rss_bytes(),
        gpu_seconds=wall * float(spec.gpus),
        host=socket.gethostname(),
        started_at=started,
        ended_at=time.time(),
    )
    return TaskResult(usage=usage, output=output, failure=failure)
