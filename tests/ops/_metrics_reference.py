"""The /metrics collector as it was before session 9 (main 7c89824), kept as the reference that
tests/ops/test_ops_metrics_incremental.py holds the incremental one equal to: verbatim where it read
the lineage; the stream-lag read, the histogram bounds and the label formatting, which did not change,
come from the module.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator
from typing import Any

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily

from labstream.ops._pipelines import StagePipelines, milestones
from labstream.ops.cost import cost_rows
from labstream.ops.metrics import BUCKETS, _le, _window
from labstream.ops.metrics import PlatformCollector as Current
from labstream.ops.pricebook import load_price_book
from labstream.ops.slo import WINDOWS, burn_rate, outcomes, parse_slo, slo_clocks
from labstream.ops.turnaround import clock_rows

__all__ = ["PlatformCollector"]


class PlatformCollector(Current):
    """Reads the whole lineage at every scrape (constructor, scope and stream lag: the current ones)."""

    def collect(self) -> Iterator[Any]:
        from labstream.catalog import open_catalog

        with open_catalog(self.settings.catalog_url).upgrade() as cat:
            records = [r for r in cat.list_lineage() if self._mine(r.project)]
            quarantined = [q for q in cat.list_quarantine() if self._mine(q.project)]
        stages = StagePipelines()
        yield from self._tasks(records, stages)
        q = CounterMetricFamily("labstream_quarantined", "Inputs quarantined", labels=["project", "stage"])
        counts: dict[tuple[str, str], int] = defaultdict(int)
        for item in quarantined:
            counts[(item.project, item.stage or "")] += 1
        for labels, n in sorted(counts.items()):
            q.add_metric(list(labels), n)
        yield q
        yield from self._lag({stages.get(r.stage) for r in records} - {"", "ingest"})
        costs = cost_rows(
            records,
            load_price_book(self.settings.price_book or None),
            region=self.settings.region,
            compute_class=self.settings.compute_class,
            stage_pipeline=stages,
        )
        c = CounterMetricFamily(
            "labstream_cost_usd", "Compute cost attributed (USD)", labels=["project", "pipeline"]
        )
        spend: dict[tuple[str, str], float] = defaultdict(float)
        for project, pipeline, usd in zip(
            costs["project"].to_pylist(),
            costs["pipeline"].to_pylist(),
            costs["cost_usd"].to_pylist(),
            strict=True,
        ):
            spend[(project, pipeline)] += usd
        for labels, usd in sorted(spend.items()):
            c.add_metric(list(labels), usd)
        yield c
        yield from self._budgets(costs)
        yield from self._slos(records, stages)

    def _budgets(self, costs: Any) -> Iterator[Any]:
        from labstream.ops.budget import load_budgets, month_spend

        month = GaugeMetricFamily(
            "labstream_cost_month_usd", "Cost this calendar month (USD)", labels=["project"]
        )
        budget = GaugeMetricFamily("labstream_budget_monthly_usd", "Monthly budget (USD)", labels=["project"])
        for project, usd in sorted(month_spend(costs, self.clock()).items()):
            month.add_metric([project], usd)
        if self.settings.budgets:
            for project, b in sorted(load_budgets(self.settings.budgets).items()):
                if self._mine(project):
                    budget.add_metric([project], b.monthly_usd)
        yield month
        yield budget

    def _tasks(self, records: list[Any], stages: StagePipelines) -> Iterator[Any]:
        total = CounterMetricFamily(
            "labstream_tasks", "Tasks finished", labels=["project", "pipeline", "stage", "status"]
        )
        last = GaugeMetricFamily(
            "labstream_stage_last_success_timestamp_seconds",
            "End of the stage's latest ok task",
            labels=["pipeline", "stage"],
        )
        hist = HistogramMetricFamily(
            "labstream_task_duration_seconds", "Wall time per task", labels=["pipeline", "stage"]
        )
        counts: dict[tuple[str, str, str, str], int] = defaultdict(int)
        latest: dict[tuple[str, str], float] = {}
        walls: dict[tuple[str, str], list[float]] = defaultdict(list)
        for r in records:
            pipeline = stages.get(r.stage)
            counts[(r.project, pipeline, r.stage, r.status)] += 1
            walls[(pipeline, r.stage)].append(r.wall_seconds)
            if r.status == "ok":
                latest[(pipeline, r.stage)] = max(latest.get((pipeline, r.stage), 0.0), r.ended_at)
        for labels, n in sorted(counts.items()):
            total.add_metric(list(labels), n)
        for labels2, t in sorted(latest.items()):
            last.add_metric(list(labels2), t)
        for labels2, values in sorted(walls.items()):
            buckets = [(_le(b), float(sum(v <= b for v in values))) for b in BUCKETS]
            hist.add_metric(list(labels2), buckets, sum(values))
        yield total
        yield last
        yield hist

    def _slos(self, records: list[Any], stages: StagePipelines) -> Iterator[Any]:
        from labstream.pipelines import get_contract

        now = self.clock()
        events = CounterMetricFamily(
            "labstream_slo_events", "Entities counted by the SLO", labels=["pipeline", "slo"]
        )
        bad = CounterMetricFamily(
            "labstream_slo_bad_events", "Entities that missed the SLO", labels=["pipeline", "slo"]
        )
        objective = GaugeMetricFamily(
            "labstream_slo_objective", "Fraction that must meet the target", labels=["pipeline", "slo"]
        )
        burn = GaugeMetricFamily(
            "labstream_slo_burn_rate", "Error-budget burn rate", labels=["pipeline", "slo", "window"]
        )
        rows = clock_rows(records, stage_pipeline=stages, milestones=milestones, now=now).to_pylist()
        for pipeline in sorted({r["pipeline"] for r in rows} - {""}):
            for text in get_contract(pipeline).slos:
                slo = parse_slo(pipeline, text)
                seen = outcomes(slo, slo_clocks(slo, rows), now)
                labels = [pipeline, slo.name]
                events.add_metric(labels, len(seen))
                bad.add_metric(labels, sum(e.bad for e in seen))
                objective.add_metric(labels, slo.quantile)
                for window in sorted({w for _, long_w, short_w, _ in WINDOWS for w in (long_w, short_w)}):
                    burn.add_metric([*labels, _window(window)], burn_rate(slo, seen, now, window))
        yield from (events, bad, objective, burn)
