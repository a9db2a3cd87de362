"""What the dashboard's operations panel shows, read from the `costs` and `turnaround` lake tables as
the refresher left them (a dashboard reads; it never prices): cost and CPU/GPU hours per project, cost
per day over the last 30,
storage by tier (objects, bytes, USD a month now), turnaround p95 per pipeline and milestone against
its SLO, and the alerts firing now.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

import pyarrow.compute as pc

from labstream.core.settings import Settings
from labstream.ops.alerts import current_alerts
from labstream.ops.cost import rollup
from labstream.ops.ledger import costs_table, turnaround_table
from labstream.ops.slo import parse_slo
from labstream.ops.turnaround import percentiles

__all__ = ["cost_by_day", "ops_summary"]


def _slos(pipeline: str) -> tuple[str, ...]:
    from labstream.core.errors import ConfigError
    from labstream.pipelines import get_contract

    try:
        return get_contract(pipeline).slos
    except ConfigError:  # a pipeline no longer registered: its rows stay, without a promise
        return ()


def ops_summary(settings: Settings, projects: Sequence[str], now: float | None = None) -> dict[str, Any]:
    stamp = time.time() if now is None else now
    allowed = list(projects)
    costs = costs_table(settings)
    costs = costs.filter(pc.is_in(costs["project"], value_set=_strings(allowed)))
    clocks = turnaround_table(settings)
    clocks = clocks.filter(pc.is_in(clocks["project"], value_set=_strings(allowed)))
    by_project = rollup(costs, "project") if costs.num_rows else []
    hours = {}
    for project, billed, wall, gpus in zip(
        costs["project"].to_pylist(),
        costs["cpu_billed"].to_pylist(),
        costs["wall_s"].to_pylist(),
        costs["gpu_billed"].to_pylist(),
        strict=True,
    ):
        cpu_h, gpu_h = hours.get(project, (0.0, 0.0))
        hours[project] = (cpu_h + billed * wall / 3600.0, gpu_h + gpus * wall / 3600.0)
    for row in by_project:
        row["cpu_hours"], row["gpu_hours"] = hours.get(row["project"], (0.0, 0.0))
    tat = percentiles(clocks, ("pipeline", "milestone")) if clocks.num_rows else []
    for row in tat:
        row["slo"], row["slo_target_s"] = "", None
        for text in _slos(row["pipeline"]):
            slo = parse_slo(row["pipeline"], text)
            if slo.end == row["milestone"]:
                row["slo"], row["slo_target_s"] = slo.text, slo.target_s
                row["slo_met"] = (row["total_p95_s"] or 0.0) <= slo.target_s
    alerts = current_alerts(settings, costs, clocks, _slos, stamp)
    from labstream.ops.stored import storage_inventory

    _, tiers = storage_inventory(settings, now=stamp)
    return {
        "projects": allowed,
        "costs": by_project,
        "cost_by_day": cost_by_day(costs, stamp),
        "storage": [r for r in tiers if r["project"] in allowed],
        "turnaround": tat,
        "alerts": [a for a in alerts.values() if not a["project"] or a["project"] in allowed],
    }


def cost_by_day(costs: Any, now: float, days: int = 30) -> list[dict[str, Any]]:
    """Compute cost per UTC day (of each task's end) and project over the last `days` days, oldest
    first: the dashboard's cost over time."""
    import duckdb

    if costs.num_rows == 0:
        return []
    con = duckdb.connect()
    try:
        con.register("costs_rows", costs.select(["project", "ended_at", "cost_usd"]))
        sql = (
            "SELECT strftime(to_timestamp(ended_at) AT TIME ZONE 'UTC', '%Y-%m-%d') AS day, project, "
            "count(*) AS tasks, sum(cost_usd) AS cost_usd FROM costs_rows WHERE ended_at >= ? "
            "GROUP BY day, project ORDER BY day, project"
        )
        cur = con.execute(sql, [now - days * 86400.0])
        names = [d[0] for d in cur.description]
        return [dict(zip(names, row, strict=True)) for row in cur.fetchall()]
    finally:
        con.close()


def _strings(values: list[str]) -> Any:
    import pyarrow as pa

    return pa.array(values, type=pa.string())
