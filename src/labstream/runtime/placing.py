"""Where each task runs: the runtime's placement hooks, called by a StageWorker before each submit.

Two hooks, both optional and both given by a higher layer (the runtime never imports them):
- `placement_check(project, stage, lineage_id)`: a yes/no guard (governance residency); AccessDenied
  refuses the task.
- `placer(stage, events, lineage_id) -> TaskPlacement`: chooses where the task runs (labstream.sites:
  site and compute class by residency, locality, resources and cost). The placement's `lineage`
  mapping (site, class, region, cost, reason) is written into the task's lineage record
  (`request["placement"]`), its executor runs the task and its `executor_url` is recorded.

A refusal is never retried: AccessDenied (policy, e.g. residency) quarantines the task, ComputeError
(nothing can run it, e.g. no class fits) fails it; both dead-letter it with the refusal's message.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from labstream.compute.base import Executor
from labstream.core.errors import AccessDenied, ComputeError
from labstream.core.events import Event
from labstream.runtime.stage import Stage
from labstream.runtime.task import TaskFailure

__all__ = ["PlacementCheck", "Placer", "TaskPlacement", "decide_placement"]


@dataclass(frozen=True)
class TaskPlacement:
    """Where a task runs and why: `lineage` goes into its lineage record; `executor` runs it (None:
    the worker's own executor); `executor_url` is recorded as the record's executor."""

    lineage: dict[str, Any] = field(default_factory=dict)
    executor: Executor | None = None
    executor_url: str = ""


PlacementCheck = Callable[[str, str, str], None]
Placer = Callable[[Stage, list[Event], str], TaskPlacement]


def decide_placement(
    stage: Stage,
    events: list[Event],
    lineage_id: str,
    check: PlacementCheck | None,
    placer: Placer | None,
) -> TaskPlacement | TaskFailure | None:
    """Run the hooks for one task: its placement (None when no placer), or the failure refusing it."""
    source = f"{stage.name}/{events[0].id}"
    try:
        if check is not None:
            check(events[0].project, stage.name, lineage_id)
        return placer(stage, events, lineage_id) if placer is not None else None
    except AccessDenied as err:  # refused by policy: quarantine, no retry
        msg = str(err)
        return TaskFailure(
            "denied", type(err).__name__, msg, "", source=source, problem=f"placement refused: {msg}"
        )
    except ComputeError as err:  # nothing may run it: fail, no retry
        return TaskFailure("placement", type(err).__name__, str(err), "", source=source)
