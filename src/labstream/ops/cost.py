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
revision 0006) is billed on the defaults of ResourceRequest (1 vCPU, no memory reservation).
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
from labstream.core.settings import Settings
from labstream.ops.pricebook import ComputeRates, PriceBook
from labstream.ops.tables import COSTS

__all__ = ["BY", "ROLLUP_ITEMS", "cost_rows", "rollup", "site_cost_rows", "task_cost"]

GIB = float(2**30)
FINAL = ("ok", "failed", "quarantined")
ROLLUP_ITEMS = ("cpu_usd", "memory_usd", "gpu_usd", "accelerator_usd", "cost_usd")
# `--by` names -> the column they group on: sample and plate are both an entity key; the rest are columns
BY = {
    "sample": "key",
    "plate": "key",
    **{c: c for c in ("key", "project", "stage", "pipeline", "run", "status")},
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


def _money(cpu_usd: Any, memory_usd: Any, gpu_usd: Any, accel_usd: Any) -> dict[str, Any]:
    """The money columns of a cost row (scalars or per-task arrays alike); the total is their sum."""
    return {
        "cpu_usd": cpu_usd,
        "memory_usd": memory_usd,
        "gpu_usd": gpu_usd,
        "accelerator_usd": accel_usd,
        "cost_usd": cpu_usd + memory_usd + gpu_usd + accel_usd,
    }


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
        **_money(cpu_usd, memory_usd, gpu_usd, accel_usd),
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
    declared schema with `lineage_id` and `project` filled. The rule of `task_cost`, vectorised over
    every attempt of every task with numpy (tests hold the two equal)."""
    rates = book.compute(region, compute_class)
    pipelines = stage_pipeline if stage_pipeline is not None else {"ingest": "ingest"}
    stamp = time.time() if now is None else now
    recs = [r for r in records if r.status in FINAL]
    n = len(recs)
    num = _priced(recs, rates)
    keys = [r.key or str(r.params.get("key", "")) for r in recs]
    # an entity's run, from any of its tasks that names one: the ingest task of a file names none
    runs = {
        (r.project, k): str(r.params["run"]) for r, k in zip(recs, keys, strict=True) if r.params.get("run")
    }
    text = {
        "key": keys,
        "run": [runs.get((r.project, k), "") for r, k in zip(recs, keys, strict=True)],
        "pipeline": [pipelines.get(r.stage, "") or ("ingest" if r.stage == "ingest" else "") for r in recs],
        "stage": [r.stage for r in recs],
        "status": [r.status for r in recs],
        "lineage_id": [r.id for r in recs],
        "project": [r.project for r in recs],
    }
    const = {
        "price_book": f"{book.name}@{book.version}",
        "region": region,
        "compute_class": compute_class,
        "computed_at": stamp,
    }
    arrays = []
    for f in COSTS.arrow_schema:
        if f.name in num:
            arrays.append(pa.array(num[f.name], type=f.type))
        elif f.name in text:
            arrays.append(pa.array(text[f.name], type=f.type))
        elif f.name in const:
            arrays.append(pa.array([const[f.name]] * n, type=f.type))
        else:  # _ingested_at: set by the lake on commit
            arrays.append(pa.nulls(n, type=f.type))
    return pa.Table.from_arrays(arrays, schema=COSTS.arrow_schema)


def site_cost_rows(
    records: Iterable[LineageRecord],
    book: PriceBook,
    settings: Settings,
    stage_pipeline: Mapping[str, str],
    now: float | None = None,
) -> pa.Table:
    """`cost_rows` at the site's region and compute class (`settings`)."""
    return cost_rows(
        records,
        book,
        region=settings.region,
        compute_class=settings.compute_class,
        stage_pipeline=stage_pipeline,
        now=now,
    )


def _priced(recs: Sequence[LineageRecord], rates: ComputeRates) -> dict[str, Any]:
    """The numeric columns of `cost_rows`: one numpy row per attempt, summed per task."""
    import numpy as np

    n = len(recs)
    idx: list[int] = []
    usage: list[tuple[float, float, float, float]] = []
    req = np.zeros((n, 4))  # cpu, memory_mb, gpu, accelerator price per hour
    accel_cache: dict[tuple[tuple[str, float], ...], float] = {}
    for i, r in enumerate(recs):
        q = r.request or {}
        custom = tuple(sorted((str(k), float(v)) for k, v in dict(q.get("custom") or {}).items()))
        if custom not in accel_cache:
            accel_cache[custom] = sum(v * rates.accelerator(k) for k, v in custom)
        req[i] = (
            float(q.get("cpu", 1.0)),
            float(q.get("memory_mb", 0)),
            float(q.get("gpu", 0.0)),
            accel_cache[custom],
        )
        for a in r.attempts:
            idx.append(i)
            usage.append(
                (
                    float(a.get("wall_seconds", 0.0)),
                    float(a.get("cpu_seconds", 0.0)),
                    float(a.get("gpu_seconds", 0.0)),
                    float(a.get("peak_rss_bytes", 0.0)),
                )
            )
        idx.append(i)
        usage.append((r.wall_seconds, r.cpu_seconds, r.gpu_seconds, float(r.peak_rss_bytes)))
    at = np.asarray(idx, dtype=np.int64)
    u = np.asarray(usage, dtype=np.float64).reshape(-1, 4)
    wall, cpu, gpu, rss = np.maximum(u[:, 0], 0.0), u[:, 1], u[:, 2], u[:, 3]
    hours = wall / 3600.0
    with np.errstate(divide="ignore", invalid="ignore"):
        cpu_rate = np.where(wall > 0, cpu / wall, 0.0)
        gpu_rate = np.where(wall > 0, gpu / wall, 0.0)
    vcpu = np.maximum(req[at, 0], cpu_rate)
    ram = np.maximum(req[at, 1] / 1024.0, rss / GIB)
    gpus = np.maximum(req[at, 2], gpu_rate)

    def per_task(values: Any) -> Any:
        return np.bincount(at, weights=values, minlength=n)

    cpu_usd = per_task(hours * vcpu * rates.vcpu_hour)
    memory_usd = per_task(hours * ram * rates.gb_ram_hour)
    gpu_usd = per_task(hours * gpus * rates.gpu("default"))
    accel_usd = per_task(hours * req[at, 3])
    last = np.zeros(n, dtype=np.int64)
    last[at] = np.arange(len(at))  # the last attempt row of each task wins
    cpu_used = per_task(cpu)
    vcpu_s = per_task(vcpu * u[:, 0])
    with np.errstate(divide="ignore", invalid="ignore"):
        efficiency = np.where(vcpu_s > 0, np.minimum(1.0, cpu_used / vcpu_s), 0.0)
    return {
        "attempts": np.bincount(at, minlength=n).astype(np.int64),
        "started_at": np.array([r.started_at for r in recs], dtype=np.float64),
        "ended_at": np.array([r.ended_at for r in recs], dtype=np.float64),
        "wall_s": per_task(u[:, 0]),
        "cpu_billed": vcpu[last],
        "memory_gb_billed": ram[last],
        "gpu_billed": gpus[last],
        "cpu_used_s": cpu_used,
        **_money(cpu_usd, memory_usd, gpu_usd, accel_usd),
        "efficiency": efficiency,
    }


def rollup(costs: pa.Table, by: str | Sequence[str]) -> list[dict[str, Any]]:
    """Cost rows summed per `by` ("sample", "plate", "project", "stage", "pipeline" or columns), with
    the items, task and attempt counts, most expensive first; DuckDB over the Arrow table. Storage
    columns a caller added per task (stored_bytes, storage_*) are summed too, with `total_usd`."""
    import duckdb

    names = [by] if isinstance(by, str) else list(by)
    cols = []
    for name in names:
        col = BY.get(name, name)
        if col not in costs.schema.names:
            raise ConfigError(f"cannot roll costs up by {name!r}; use one of: {', '.join(BY)}")
        cols.append(f'"{col}" AS "{name}"')
    items = [
        *ROLLUP_ITEMS,
        *(c for c in costs.schema.names if c.startswith("storage_") or c == "stored_bytes"),
    ]
    sums = ", ".join(
        f'CAST(sum("{c}") AS BIGINT) AS "{c}"' if c == "stored_bytes" else f'sum("{c}") AS "{c}"'
        for c in items
    )
    if "storage_usd" in costs.schema.names:  # storage per task (labstream.ops.stored.storage_by_task)
        sums += ', sum("cost_usd" + "storage_usd" + "storage_fees_usd") AS total_usd'

    group = ", ".join(str(i + 1) for i in range(len(cols)))
    con = duckdb.connect()
    try:
        con.register("costs_rows", costs)
        sql = (
            f"SELECT {', '.join(cols)}, count(*) AS tasks, CAST(sum(attempts) AS BIGINT) AS attempts, "
            f"{sums}, sum(wall_s) AS wall_s FROM costs_rows GROUP BY {group} ORDER BY cost_usd DESC, {group}"
        )
        return con.sql(sql).to_arrow_table().to_pylist()
    finally:
        con.close()
