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
from labstream.runtime.contract import Faces, PipelineContract, PipelineSettings, Summary
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
        docs={
            "event_id": "id of the file's file.landed event (deterministic from its identity and content)",
            "key": "entity the file belongs to (plate or sample), from its layout",
            "name": "file name as it landed",
            "instrument": "microscope, sequencer or unknown, from its layout",
            "sha256": "sha256 of the file's bytes",
            "uri": "the raw object the file was stored as (content-addressed)",
            "size": "file size (bytes)",
            "lines": "newline characters in the file (count)",
            "landed_at": "when the file's event was made (seconds since the epoch, UTC)",
        },
    )
)
FILE_KEYS = register_schema(
    TableSchema(
        "file_keys",
        pa.schema([("event_id", pa.string()), ("key", pa.string()), ("size", pa.int64())]),
        description="one row per file event, by entity key (second stage of the demo pipeline)",
        docs={"event_id": "the file's file.landed event", "key": "plate or sample", "size": "bytes"},
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


class FilestatsSettings(PipelineSettings):
    """filestats takes no settings: it runs on any file."""


CONTRACT = PipelineContract(
    name="filestats",
    summary="any instrument file -> one row with its size, lines and checksum (the platform's own check)",
    settings=FilestatsSettings,
    layouts=(),
    tables=(FILES, FILE_KEYS),
    build=lambda settings, input_topic: pipeline(input_topic),
    faces=Faces(
        summaries=(
            Summary(
                "files per instrument",
                "SELECT instrument, count(*) AS files, sum(size) AS bytes FROM files GROUP BY 1 ORDER BY 1",
            ),
        )
    ),
    milestones=(("primary", "file_stats"), ("report", "key_summary")),
    slos=("ingested->report p95 <= 1h",),
)
