"""The two-stage pipeline the chaos test runs in a separate, repeatedly killed worker process."""

from __future__ import annotations

import pyarrow as pa

from labstream.core.events import Event
from labstream.lake import TableSchema, register_schema
from labstream.runtime.stage import Pipeline, Stage, StageOutput, TaskContext

register_schema(TableSchema("chaos_first", pa.schema([("seq", pa.int64()), ("event_id", pa.string())])))
register_schema(TableSchema("chaos_second", pa.schema([("seq", pa.int64()), ("event_id", pa.string())])))


def first(ctx: TaskContext) -> StageOutput:
    ev = ctx.event
    seq = int(ev.data["seq"])
    return StageOutput(
        rows={"chaos_first": [{"seq": seq, "event_id": ev.id}]},
        events=[Event(type="chaos.seen", key=ev.key, data={"seq": seq})],
    )


def second(ctx: TaskContext) -> StageOutput:
    ev = ctx.event
    return StageOutput(rows={"chaos_second": [{"seq": int(ev.data["seq"]), "event_id": ev.id}]})


def pipeline() -> Pipeline:
    return Pipeline(
        "chaos",
        (
            Stage("chaos_first", "1", "chaos.in", first, output_topic="chaos.mid"),
            Stage("chaos_second", "1", "chaos.mid", second),
        ),
    )
