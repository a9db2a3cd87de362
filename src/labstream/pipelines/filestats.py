"""A small, real two-stage pipeline over any instrument file: the spine's own end-to-end check.

Stage 1 `file_stats` reads the landed raw object (verified against its sha256) and writes one row per
file to the `files` table; stage 2 `key_summary` keeps a running per-key summary row per file event in
`file_keys`. It exercises everything a science pipeline uses (claim check, executor, lake txn, lineage,
next events) with no science, so the platform can be tested and benchmarked on its own.
"""

from __future__ import annotations

import pyarrow as pa

from labstream.core.events import Event
from labstream.ingest.files import EVENT_TYPE, TOPIC
from labstream.lake import TableSchema, register_schema
from labstream.runtime.stage import Pipeline, Stage, StageOutput, TaskContext

FILES = register_schema(
    TableSchema(
        "files",
        pa.schema(
            [
                ("event_id", pa.string()),
                ("key", pa.string()),
                ("name", pa.string()),
                ("instrument", pa.string()),
                ("sha256", pa.string()),
                ("uri", pa.string()),
                ("size", pa.int64()),
                ("lines", pa.int64()),
                ("landed_at", pa.float64()),
            ]
        ),
        description="one row per ingested instrument file (the spine's demo pipeline)",
    )
)
FILE_KEYS = register_schema(
    TableSchema(
        "file_keys",
        pa.schema([("event_id", pa.string()), ("key", pa.string()), ("size", pa.int64())]),
        description="one row per file event, by entity key (second stage of the demo pipeline)",
    )
)


def file_stats(ctx: TaskContext) -> StageOutput:
    ev = ctx.event
    ref = ev.refs[0]
    data = ctx.store().get_bytes(ref.uri, verify=True)
    row = {
        "event_id": ev.id,
        "key": ev.key,
        "name": ev.data.get("name", ""),
        "instrument": ev.data.get("instrument", "unknown"),
        "sha256": ref.sha256,
        "uri": ref.uri,
        "size": len(data),
        "lines": data.count(b"\n"),
        "landed_at": ev.created_at,
    }
    nxt = Event(type="file.stats", key=ev.key, data={"size": len(data)}, refs=ev.refs, project=ev.project)
    return StageOutput(rows={"files": [row]}, events=[nxt])


def key_summary(ctx: TaskContext) -> StageOutput:
    ev = ctx.event
    return StageOutput(rows={"file_keys": [{"event_id": ev.id, "key": ev.key, "size": int(ev.data["size"])}]})


def pipeline(input_topic: str = TOPIC) -> Pipeline:
    return Pipeline(
        "filestats",
        (
            Stage(
                "file_stats",
                "1",
                input_topic,
                file_stats,
                output_topic="filestats.out",
                accepts=(EVENT_TYPE,),
            ),
            Stage("key_summary", "1", "filestats.out", key_summary, accepts=("file.stats",)),
        ),
    )
