"""Turnaround time: each entity's (sample's, plate's) clock, read from its tasks' lineage.

One definition for every pipeline: the clock starts when the entity is received, the first arrival
of any of its files at the platform (the catalog's `first_seen`; the start of its first ingest task
when that is not known). "ingested" is reached when its last file is ingested, and each later
milestone when the last successful task of the milestone's stage for that entity ends. The milestones
are the contract's (`PipelineContract.milestones`, e.g. primary -> secondary -> report), else one per
stage. Milestones reached outside the pipeline follow (`after`): a clinical report's `signed` and
`delivered` (labstream.ops.clinical), so a clinical TAT is received -> signed.
Why lineage and not wall-clock reports: the lineage holds every task's start and end already, for
every pipeline, so a clock needs no extra instrumentation and can be recomputed at any time.
"""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

import pyarrow as pa

from labstream.catalog.records import LineageRecord
from labstream.core.errors import ConfigError
from labstream.ops.tables import TURNAROUND

__all__ = ["QUANTILES", "clock_rows", "percentiles"]

QUANTILES = (0.5, 0.9, 0.95)
Milestones = Callable[[str], Sequence[tuple[str, str]]]


def clock_rows(
    records: Iterable[LineageRecord],
    *,
    stage_pipeline: Mapping[str, str],
    milestones: Milestones,
    now: float | None = None,
    received: Mapping[tuple[str, str], float] | None = None,
    after: Mapping[tuple[str, str], Sequence[tuple[str, float]]] | None = None,
) -> pa.Table:
    """One `turnaround` row per (project, key, milestone reached), in the declared schema: "received"
    first, the pipeline's milestones, then the entity's `after` milestones (name, reached at)."""
    stamp = time.time() if now is None else now
    # (project, key) -> stage -> [first start, last ok end]; and the tasks that set them (lineage_id)
    spans: dict[tuple[str, str], dict[str, list[float]]] = defaultdict(dict)
    first: dict[tuple[str, str], tuple[float, str]] = {}
    last_ok: dict[tuple[str, str, str], str] = {}
    pipeline_of: dict[tuple[str, str], str] = {}
    for rec in records:
        key = rec.key or str(rec.params.get("key", ""))
        if not key:
            continue
        ent = (rec.project, key)
        span = spans[ent].setdefault(rec.stage, [rec.started_at, float("nan")])
        span[0] = min(span[0], rec.started_at)
        if ent not in first or rec.started_at < first[ent][0]:
            first[ent] = (rec.started_at, rec.id)
        if rec.status == "ok" and not rec.ended_at <= span[1]:
            span[1] = rec.ended_at
            last_ok[(*ent, rec.stage)] = rec.id
        if rec.stage != "ingest" and ent not in pipeline_of:
            name = stage_pipeline.get(rec.stage, "")
            if name:
                pipeline_of[ent] = name
    cols: dict[str, list[Any]] = {n: [] for n in TURNAROUND.arrow_schema.names}
    for (project, key), stages in spans.items():
        pipeline = pipeline_of.get((project, key), "")
        plan = list(milestones(pipeline)) if pipeline else [("ingested", "ingest")]
        start = min(s[0] for s in stages.values())
        start = min(start, (received or {}).get((project, key), start))
        reached_at = [("received", "ingest", start, first[(project, key)][1])]
        for milestone, stage in plan:
            span = stages.get(stage)
            if span is not None and span[1] == span[1]:  # NaN: no ok task yet
                reached_at.append((milestone, stage, span[1], last_ok[(project, key, stage)]))
        offset = len(plan) + 1
        reached_at += [(m, m, at, None) for m, at in (after or {}).get((project, key), ())]
        positions = {m: i + 1 for i, (m, _) in enumerate(plan)} | {"received": 0}
        prev = start
        for milestone, stage, reached, lineage_id in reached_at:  # the task that reached it, if any
            if milestone not in positions:
                positions[milestone] = offset
                offset += 1
            row = {
                "key": key,
                "pipeline": pipeline,
                "milestone": milestone,
                "stage": stage,
                "position": positions[milestone],
                "reached_at": reached,
                "since_start_s": reached - start,
                "stage_s": reached - prev,
                "computed_at": stamp,
                "lineage_id": lineage_id,
                "project": project,
                "_ingested_at": None,
            }
            prev = reached
            for n in cols:
                cols[n].append(row[n])
    return pa.Table.from_pydict(cols, schema=TURNAROUND.arrow_schema)


def percentiles(rows: pa.Table, by: Sequence[str] = ("pipeline", "milestone")) -> list[dict[str, Any]]:
    """p50/p90/p95 of `since_start_s` and `stage_s` per `by` (columns of the turnaround rows), with
    the number of entities; milestones in pipeline order."""
    import duckdb

    for col in by:
        if col not in rows.schema.names:
            raise ConfigError(f"cannot group turnaround by {col!r}; use: project, pipeline, milestone, stage")
    keys = ", ".join(f'"{c}"' for c in by)
    qs = ", ".join(
        f"quantile_cont({col}, {q}) AS {name}_p{round(q * 100)}_s"
        for col, name in (("since_start_s", "total"), ("stage_s", "stage"))
        for q in QUANTILES
    )
    order = ", ".join("min(position)" if c == "milestone" else f'"{c}"' for c in by)
    con = duckdb.connect()
    try:
        con.register("tat_rows", rows)
        sql = f"SELECT {keys}, count(*) AS entities, {qs} FROM tat_rows GROUP BY {keys} ORDER BY {order}"
        return con.sql(sql).to_arrow_table().to_pylist()
    finally:
        con.close()
