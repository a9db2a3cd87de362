"""The operating layer: what the lab's work cost, how long it took against its promises, and the
signals that say so before a promise is broken. Everything is derived from the lineage record of each
task (labstream.runtime.lineage), so nothing in the stages changes to be measured.

    cost.py        price a task from its lineage and the price book (pricebook.py); roll costs up
    turnaround.py  each sample's / plate's clock by milestone; p50/p90/p95
    slo.py         SLOs from the contracts, error budgets, multiwindow burn-rate alerts
    budget.py      monthly budgets per project with threshold alerts
    reconcile.py   attribution vs a cloud billing export (AWS CUR, Google Cloud)
    ledger.py      the `costs` and `turnaround` lake tables (tables.py), refreshed from the lineage
    maintenance.py compact the lake's small files and vacuum what compaction replaced (hourly in watch)
    metrics.py     Prometheus metrics for `GET /metrics`; alert rules in deploy/prometheus/
    metrics_state.py  what a scrape reports, folded from the lineage written since the last scrape
    slo_index.py   one SLO's events kept sorted: a scrape counts them and their burn by bisection
    storage.py     storage cost per tier (stored.py: the inventory from catalog, store, storage_moves)
    lifecycle.py   lifecycle policies, plans, a year's replay (pure); lifecycle_run.py applies them
    attribution.py cost per user and tag of API-submitted runs; entity_tags.py tags from sample
                   sheets and platemaps
    report_cost.py a sample's itemised cost for its signed report (governance sign-off shows it)
    egress.py      bytes the API served, priced; _db.py one engine per catalog for the readers
    clinical.py    received / signed / delivered milestones of the turnaround clock
    capacity.py    nodes, partitions, storage per tier and dollars for a weekly workload (pure);
                   capacity_inputs.py reads the workload TOML and the benchmarks' JSON
"""

from labstream.ops.cost import cost_rows, rollup, task_cost
from labstream.ops.ledger import costs_table, refresh, turnaround_table
from labstream.ops.pricebook import PriceBook, load_price_book
from labstream.ops.slo import SLO, BurnRateMonitor, parse_slo
from labstream.ops.turnaround import clock_rows, percentiles

__all__ = [
    "SLO",
    "BurnRateMonitor",
    "PriceBook",
    "clock_rows",
    "cost_rows",
    "costs_table",
    "load_price_book",
    "parse_slo",
    "percentiles",
    "refresh",
    "rollup",
    "task_cost",
    "turnaround_table",
]
