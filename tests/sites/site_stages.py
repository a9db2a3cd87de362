"""Stage functions the sites tests run on a site's executor (module level, so process pools import them)."""

from __future__ import annotations

import os

from labstream.runtime.stage import StageOutput, TaskContext


def where(ctx: TaskContext) -> StageOutput:
    """One row naming the event and the process that ran it (so a test can tell executors apart)."""
    ev = ctx.event
    return StageOutput(
        rows={"placed_rows": [{"n": int(ev.data["n"]), "pid": os.getpid(), "event_id": ev.id}]}
    )
