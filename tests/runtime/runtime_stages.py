"""Stage functions the runtime tests run (module level, so process pools and Dask workers import them)."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pyarrow as pa

from labstream.core.errors import InputError
from labstream.core.events import Event
from labstream.lake import TableSchema, register_schema
from labstream.runtime.stage import GatherSpec, Pipeline, Stage, StageOutput, TaskContext

register_schema(
    TableSchema(
        "rt_measure",
        pa.schema(
            [("file", pa.string()), ("sample", pa.string()), ("line", pa.int64()), ("value", pa.float64())]
        ),
    )
)
register_schema(
    TableSchema(
        "rt_summary",
        pa.schema(
            [("file", pa.string()), ("n", pa.int64()), ("total", pa.float64()), ("report_uri", pa.string())]
        ),
    )
)
register_schema(
    TableSchema(
        "rt_plate",
        pa.schema(
            [
                ("plate", pa.string()),
                ("sites", pa.int64()),
                ("site_ids", pa.string()),
                ("total", pa.float64()),
            ]
        ),
    )
)
register_schema(TableSchema("rt_simple", pa.schema([("n", pa.int64()), ("event_id", pa.string())])))


def parse(ctx: TaskContext) -> StageOutput:
    """CSV lines `sample,value` -> one row per line; a JSON report object; one event per file."""
    ev = ctx.event
    ref = ev.refs[0]
    store = ctx.store()
    text = store.get_bytes(ref.uri).decode()
    rows = []
    for i, line in enumerate(text.splitlines()):
        sample, _, value = line.partition(",")
        try:
            rows.append({"file": ev.data["name"], "sample": sample, "line": i, "value": float(value)})
        except ValueError as err:
            raise InputError(ev.data["name"], f"line {i + 1}: value {value!r} is not a number") from err
    total = sum(r["value"] for r in rows)
    report = store.put_bytes(
        json.dumps({"file": ev.data["name"], "n": len(rows), "total": total}).encode(),
        suffix=".json",
        media_type="application/json",
    )
    nxt = Event(
        type="file.parsed",
        key=ev.key,
        refs=(report,),
        data={"name": ev.data["name"], "n": len(rows), "total": total},
    )
    return StageOutput(rows={"rt_measure": rows}, objects=[report], events=[nxt])


def summarise(ctx: TaskContext) -> StageOutput:
    ev = ctx.event
    row = {
        "file": ev.data["name"],
        "n": ev.data["n"],
        "total": ev.data["total"],
        "report_uri": ev.refs[0].uri,
    }
    return StageOutput(rows={"rt_summary": pa.Table.from_pylist([row])})


def two_stage(input_topic: str = "ingest.files") -> Pipeline:
    return Pipeline(
        "rt_two_stage",
        (
            Stage("rt_parse", "1", input_topic, parse, output_topic="rt.parsed", accepts=("file.landed",)),
            Stage("rt_summarise", "1", "rt.parsed", summarise, accepts=("file.parsed",)),
        ),
    )


def flaky(ctx: TaskContext) -> StageOutput:
    """Fails `fail_times` times per event (attempts logged in `state_dir`), then succeeds."""
    ev = ctx.event
    log = Path(ctx.params["state_dir"]) / f"{ev.id}.attempts"
    with log.open("a") as fh:
        fh.write(f"{time.time()}\n")
    attempts = len(log.read_text().splitlines())
    if ev.data.get("always_fail") or attempts <= int(ctx.params.get("fail_times", 0)):
        raise RuntimeError(f"transient failure {attempts} of event {ev.data.get('n')}")
    if ev.data.get("bad"):
        raise InputError(f"event {ev.id}", "field 'n' is negative", record=str(ev.data.get("n")))
    return StageOutput(rows={"rt_simple": [{"n": int(ev.data["n"]), "event_id": ev.id}]})


def plate_summary(ctx: TaskContext) -> StageOutput:
    plate = ctx.events[0].data["plate"]
    sites = sorted(e.data["site"] for e in ctx.events)
    total = float(sum(e.data["value"] for e in ctx.events))
    row = {"plate": plate, "sites": len(sites), "site_ids": ",".join(sites), "total": total}
    return StageOutput(
        rows={"rt_plate": [row]},
        events=[Event(type="plate.done", key=plate, data={"plate": plate, "sites": len(sites)})],
    )


PLATE_GATHER = GatherSpec(
    group_key=lambda e: e.data["plate"],
    expected=lambda e: e.data["expected"],
    member_id=lambda e: e.data["site"],
)
