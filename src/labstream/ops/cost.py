"""Cost per task from its lineage record and the price book, and roll-ups over the `costs` rows.

The rule (documented in the `costs` data dictionary, tested to the cent):

    for each attempt of a task (earlier failed attempts from `LineageRecord.attempts`, then the last):
        hours   = wall seconds / 3600
        vcpu    = max(requested cpu,  cpu seconds / wall seconds)
        ram_gb  = max(requested memory_mb / 1024,  peak RSS bytes / 2**30)
        gpus    = max(requested gpu,  gpu seconds / wall seconds)
        cost   += hours * (vcpu * vcpu_hour + ram_gb * gb_ram_hour + gpus * gpu_hour
                           + sum(requested n * accelerator_hour[name] for custom accelerators))

Why max(request, use) x wall: a scheduler reserves what a task asks for whether it uses it or not
(AWS HealthOmics bills the smallest instance that fits the request), and a task that overruns its
request takes the excess from its neighbours. A record with no request (older than catalog
revision 0005) is billed on the defaults of ResourceRequest (1 vCPU, no memory reservation).
Failed and quarantined tasks are billed: the machine ran. A duplicate ingest is free: it records no
task. Costs are kept unrounded in the rows; round only when showing them, so sums stay exact.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import pyarrow as pa

from labstream.catalog.records import LineageRecord
from labstream.core.errors import ConfigError
from labstream.ops.pricebook import ComputeRates, PriceBook
from labstream.ops.tables import COSTS

__all__ = ["BY", "ROLLUP_ITEMS", "cost_rows", "rollup", "task_cost"]

GIB = float(2**30)
FINAL = ("ok", "failed", "quarantined")
ROLLUP_ITEMS = ("cpu_usd", "memory_usd", "gpu_usd", "accelerator_usd", "cost_usd")
# `--by` names -> the column they group on (sample and plate are both an entity key)
BY = {
    "sample": "key",
    "plate": "key",
    "key": "key",
    "project": "project",
    "stage": "stage",
    "pipeline": "pipeline",
    "status": "status",
}


def _attempt_cost(
    usage: Mapping[str, float], req: Mapping[str, Any], rates: ComputeRates, gpu_type: str
) -> tuple[float, float, float, float, tuple[float, float, float]]:
    wall = max(float(usage.get("wall_seconds", 0.0)), 0.0)
    hours = wall / 3600.0
    vcpu = max(float(req.get("cpu", 1.0)), float(usage.get("cpu_seconds", 0.0)) / wall if wall else 0.0)
    ram = max(float(req.get("memory_mb", 0)) / 1024.0, float(usage.get("peak_rss_bytes", 0)) / GIB)
    gpus = max(float(req.get("gpu", 0.0)), float(usage.get("gpu_seconds", 0.0)) / wall if wall else 0.0)
    accel = sum(float(n) * rates.accelerator(name) for name, n in dict(req.get("custom") or {}).items())
    return (
        hours * vcpu * rates.vcpu_hour,
        hours * ram * rates.gb_ram_hour,
        hours * gpus * rates.gpu(gpu_type),
        hours * accel,
        (vcpu, ram, gpus),
    )


def task_cost(rec: LineageRecord, rates: ComputeRates, *, gpu_type: str = "default") -> dict[str, float]:
    """The itemised cost of one task over all its attempts (see the module docstring for the rule)."""
    last = {
        "cpu_seconds": rec.cpu_seconds,
        "wall_seconds": rec.wall_seconds,
        "gpu_seconds": rec.gpu_seconds,
        "peak_rss_bytes": float(rec.peak_rss_bytes),
    }
    req = rec.request or {}
    items = [0.0, 0.0, 0.0, 0.0]
    billed = (0.0, 0.0, 0.0)
    wall = cpu_used = vcpu_s = 0.0
    for usage in [*rec.attempts, last]:
        *parts, billed = _attempt_cost(usage, req, rates, gpu_type)
        items = [a + b for a, b in zip(items, parts, strict=True)]
        wall += float(usage.get("wall_seconds", 0.0))
        cpu_used += float(usage.get("cpu_seconds", 0.0))
        vcpu_s += billed[0] * float(usage.get("wall_seconds", 0.0))
    cpu_usd, memory_usd, gpu_usd, accel_usd = items
    return {
        "attempts": float(len(rec.attempts) + 1),
        "wall_s": wall,
        "cpu_billed": billed[0],
        "memory_gb_billed": billed[1],
        "gpu_billed": billed[2],
        "cpu_used_s": cpu_used,
        "cpu_usd": cpu_usd,
        "memory_usd": memory_usd,
        "gpu_usd": gpu_usd,
        "accelerator_usd": accel_usd,
        "cost_usd": cpu_usd + memory_usd + gpu_usd + accel_usd,
        "efficiency": min(1.0, cpu_used / vcpu_s) if vcpu_s > 0 else 0.0,
    }


def cost_rows(
    records: Iterable[LineageRecord],
    book: PriceBook,
    *,
    region: str,
    compute_class: str = "standard",
    stage_pipeline: Mapping[str, str] | None = None,
    now: float | None = None,
) -> pa.Table:
    """One `costs` row per finished task (running tasks are not priced yet), as an Arrow table in the
    declared schema with `lineage_id` and `project` filled."""
    rates = book.compute(region, compute_class)
    pipelines = stage_pipeline if stage_pipeline is not None else {"ingest": "ingest"}
    stamp = time.time() if now is None else now
    label = f"{book.name}@{book.version}"
    cols: dict[str, list[Any]] = {name: [] for name in COSTS.arrow_schema.names}
    for rec in records:
        if rec.status not in FINAL:
            continue
        c = task_cost(rec, rates)
        values = {
            **c,
            "attempts": int(c["attempts"]),
            "key": rec.key or str(rec.params.get("key", "")),
            "pipeline": pipelines.get(rec.stage, "") or ("ingest" if rec.stage == "ingest" else ""),
            "stage": rec.stage,
            "status": rec.status,
            "started_at": rec.started_at,
            "ended_at": rec.ended_at,
            "price_book": label,
            "region": region,
            "compute_class": compute_class,
            "computed_at": stamp,
            "lineage_id": rec.id,
            "project": rec.project,
            "_ingested_at": None,
        }
        for name in cols:
            cols[name].append(values[name])
    return pa.Table.from_pydict(cols, schema=COSTS.arrow_schema)


def rollup(costs: pa.Table, by: str | Sequence[str]) -> list[dict[str, Any]]:
    """Cost rows summed per `by` ("sample", "plate", "project", "stage", "pipeline" or columns), with
    the items, task and attempt counts, most expensive first; DuckDB over the Arrow table."""
    import duckdb

    names = [by] if isinstance(by, str) else list(by)
    cols = []
    for name in names:
        col = BY.get(name, name)
        if col not in costs.schema.names:
            raise ConfigError(f"cannot roll costs up by {name!r}; use one of: {', '.join(BY)}")
        cols.append(f'"{col}" AS "{name}"')
    sums = ", ".join(f'sum("{c}") AS "{c}"' for c in ROLLUP_ITEMS)
    group = ", ".join(str(i + 1) for i in range(len(cols)))
    con = duckdb.connect()
    try:
        con.register("costs_rows", costs)
        sql = (
            f"SELECT {', '.join(cols)}, count(*) AS tasks, sum(attempts) AS attempts, {sums}, "
            f"sum(wall_s) AS wall_s FROM costs_rows GROUP BY {group} ORDER BY cost_usd DESC, {group}"
        )
        return con.sql(sql).to_arrow_table().to_pylist()
    finally:
        con.close()
