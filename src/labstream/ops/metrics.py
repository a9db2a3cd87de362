"""Prometheus metrics of the platform, read from the catalog, stream and price book on each scrape.

Why a custom collector over the catalog instead of counters incremented in the workers: stages run in
many processes (pools, Dask workers, one process per stage), and the catalog's lineage is the one
place every task reports to, so one API process can expose the whole platform's truth, restarts
included, with no push gateway. Counters are derived from the lineage, so they only grow (lineage
records are never deleted), which is what `rate()` needs.

Exposed (every series labelled by project where one exists, and only the caller's projects):

    labstream_tasks_total{project,pipeline,stage,status}          throughput and failures
    labstream_task_duration_seconds{pipeline,stage} (histogram)   stage latency (wall time per task)
    labstream_quarantined_total{project,stage}                    bad input set aside
    labstream_stage_lag{pipeline,stage}                           records not yet committed by the stage
    labstream_stage_last_success_timestamp_seconds{pipeline,stage}
    labstream_cost_usd_total{project,pipeline}                    compute cost (price book)
    labstream_cost_month_usd{project}, labstream_budget_monthly_usd{project}   budgets (LABSTREAM_BUDGETS)
    labstream_slo_events_total / labstream_slo_bad_events_total{pipeline,slo}
    labstream_slo_objective{pipeline,slo}, labstream_slo_burn_rate{pipeline,slo,window}
"""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily
from prometheus_client.registry import Collector

from labstream.core.settings import Settings
from labstream.ops.metrics_state import BUCKETS, Hist, MetricsState, state_for
from labstream.ops.slo import WINDOWS

__all__ = ["BUCKETS", "PlatformCollector", "render_metrics", "warm_up"]


class PlatformCollector(Collector):
    """Reads the platform at scrape time; `projects` limits every per-project series (None: all)."""

    def __init__(
        self,
        settings: Settings,
        *,
        projects: Iterable[str] | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.settings = settings
        self.projects = None if projects is None else set(projects)
        self.clock = clock

    def _mine(self, project: str) -> bool:
        return self.projects is None or project in self.projects

    def collect(self) -> Iterator[Any]:
        from labstream.catalog import open_catalog

        state = state_for(self.settings)
        with open_catalog(self.settings.catalog_url).upgrade() as cat, state.lock:
            state.fold(cat)
            families = list(self._families(cat, state))
        yield from families

    def _families(self, cat: Any, state: MetricsState) -> Iterator[Any]:
        quarantined = cat.quarantine_counts()
        yield from self._tasks(state)
        q = CounterMetricFamily("labstream_quarantined", "Inputs quarantined", labels=["project", "stage"])
        for labels, n in sorted(quarantined.items()):
            if self._mine(labels[0]):
                q.add_metric(list(labels), n)
        yield q
        stages = state.stages
        used = {stages.get(stage) for project, stage, _ in state.counts if self._mine(project)}
        yield from self._lag(used - {"", "ingest"})
        c = CounterMetricFamily(
            "labstream_cost_usd", "Compute cost attributed (USD)", labels=["project", "pipeline"]
        )
        for (project, pipeline), (tasks, usd) in sorted(state.spend.items()):
            if tasks and self._mine(project):
                c.add_metric([project, pipeline], usd)
        yield c
        yield from self._budgets(state.month_spend(self.clock(), self._mine))
        yield from self._slos(state)

    def _budgets(self, spend: dict[str, float]) -> Iterator[Any]:
        from labstream.ops.budget import load_budgets

        month = GaugeMetricFamily(
            "labstream_cost_month_usd", "Cost this calendar month (USD)", labels=["project"]
        )
        budget = GaugeMetricFamily("labstream_budget_monthly_usd", "Monthly budget (USD)", labels=["project"])
        for project, usd in sorted(spend.items()):
            month.add_metric([project], usd)
        if self.settings.budgets:
            for project, b in sorted(load_budgets(self.settings.budgets).items()):
                if self._mine(project):
                    budget.add_metric([project], b.monthly_usd)
        yield month
        yield budget

    def _tasks(self, state: MetricsState) -> Iterator[Any]:
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
        stages = state.stages
        counts = {
            (project, stages.get(stage), stage, status): n
            for (project, stage, status), n in state.counts.items()
            if self._mine(project)
        }
        latest: dict[tuple[str, str], float] = {}
        for (project, stage), t in state.last_ok.items():
            if self._mine(project):
                group = (stages.get(stage), stage)
                latest[group] = max(latest.get(group, 0.0), t)
        walls: dict[tuple[str, str], Hist] = defaultdict(Hist)
        for (project, stage), h in state.hist.items():
            if self._mine(project):
                merged = walls[(stages.get(stage), stage)]
                merged.buckets = [a + b for a, b in zip(merged.buckets, h.buckets, strict=True)]
                merged.n += h.n
                merged.total += h.total
        for labels, n in sorted(counts.items()):
            total.add_metric(list(labels), n)
        for labels2, t in sorted(latest.items()):
            last.add_metric(list(labels2), t)
        for labels2, h in sorted(walls.items()):
            buckets = [(_le(b), float(n)) for b, n in zip(BUCKETS, h.buckets, strict=True)]
            hist.add_metric(list(labels2), buckets, h.total)
        yield total
        yield last
        yield hist

    def _lag(self, pipelines: set[str]) -> Iterator[Any]:
        from labstream.pipelines import get_contract
        from labstream.stream import open_stream

        lag = GaugeMetricFamily(
            "labstream_stage_lag",
            "Records of the input topic not yet committed",
            labels=["pipeline", "stage"],
        )
        if pipelines:
            stream = open_stream(self.settings.stream_url)
            try:
                known = set(stream.topics())
                for name in sorted(pipelines):
                    for s in get_contract(name).stages():
                        if s.input_topic not in known:
                            continue
                        ends = stream.end_offsets(s.input_topic)
                        done = stream.committed_offsets(s.name, s.input_topic, list(ends))
                        lag.add_metric(
                            [name, s.name],
                            float(sum(max(0, e - (done.get(p) or 0)) for p, e in ends.items())),
                        )
            finally:
                stream.close()
        yield lag

    def _slos(self, state: MetricsState) -> Iterator[Any]:
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
        windows = sorted({w for _, long_w, short_w, _ in WINDOWS for w in (long_w, short_w)})
        for pipeline in sorted({p for (project, p) in state.pipelines if self._mine(project)}):
            for slo in state.slos(pipeline):
                mine = [
                    index
                    for (project, p, text), index in state.events.items()
                    if p == pipeline and text == slo.text and self._mine(project)
                ]
                counted = [index.events(now) for index in mine]
                labels = [pipeline, slo.name]
                events.add_metric(labels, sum(n for n, _, _ in counted))
                bad.add_metric(labels, sum(b for _, b, _ in counted))
                objective.add_metric(labels, slo.quantile)
                for window in windows:
                    inside = [index.window(now, window) for index in mine]
                    n, n_bad = sum(i for i, _ in inside), sum(b for _, b in inside)
                    burn.add_metric([*labels, _window(window)], n_bad / n / slo.budget if n else 0.0)
        yield from (events, bad, objective, burn)


def _le(bound: float) -> str:
    return "+Inf" if bound == float("inf") else repr(bound)


def _window(seconds: float) -> str:
    return f"{int(seconds // 3600)}h" if seconds >= 3600 else f"{int(seconds // 60)}m"


def render_metrics(settings: Settings, *, projects: Iterable[str] | None = None) -> bytes:
    """The Prometheus text exposition of the platform, for `/metrics`."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(PlatformCollector(settings, projects=projects))
    return generate_latest(registry)


def warm_up(settings: Settings) -> int:
    """Fold the whole lineage into this process's metrics state now (`labstream serve` does it in the
    background at start), so the first scrape reads only what is new instead of the lab's history,
    which at a million records takes longer than Prometheus waits. Returns the records read."""
    from labstream.catalog import open_catalog

    state = state_for(settings)
    with open_catalog(settings.catalog_url).upgrade() as cat, state.lock:
        before = state.decoded
        state.fold(cat)
        return state.decoded - before
