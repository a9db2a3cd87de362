"""Signals: the shipped alert rules pass `promtool test rules` (simulated breaches page within their
windows), and /metrics exposes the platform's throughput, latency, cost and SLO series, scoped to the
caller's projects."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from labstream.core.settings import Settings
from labstream.ops.cost import rollup
from labstream.ops.ledger import costs_table, refresh
from labstream.ops.metrics import render_metrics

RULES = Path(__file__).resolve().parents[2] / "deploy" / "prometheus"


def promtool() -> str:
    """promtool is required, not optional: CI must never skip the rules test."""
    found = shutil.which("promtool")
    assert found, "promtool is missing: run scripts/setup-debian.sh (Debian package `prometheus`)"
    return found


def test_rules_are_valid_and_their_unit_tests_pass() -> None:
    check = subprocess.run(
        [promtool(), "check", "rules", "rules.yml"], cwd=RULES, capture_output=True, text=True
    )
    assert check.returncode == 0, check.stdout + check.stderr
    done = subprocess.run(
        [promtool(), "test", "rules", "rules_test.yml"],
        cwd=RULES,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0 and "SUCCESS" in done.stdout, done.stdout + done.stderr


def _samples(text: bytes) -> dict[str, list[tuple[dict[str, str], float]]]:
    out: dict[str, list[tuple[dict[str, str], float]]] = {}
    for fam in text_string_to_metric_families(text.decode()):
        for s in fam.samples:
            out.setdefault(s.name, []).append((dict(s.labels), s.value))
    return out


def test_metrics_from_a_real_run(ran: Settings, tmp_path: Path) -> None:
    budgets = tmp_path / "budgets.toml"
    budgets.write_text("[projects.alpha]\nmonthly_usd = 50\n[projects.beta]\nmonthly_usd = 5\n")
    settings = ran.model_copy(update={"budgets": str(budgets)})
    m = _samples(render_metrics(settings))
    tasks = {(lab["project"], lab["stage"], lab["status"]): v for lab, v in m["labstream_tasks_total"]}
    assert tasks[("alpha", "file_stats", "ok")] == 5 and tasks[("beta", "key_summary", "ok")] == 1
    assert tasks[("alpha", "ingest", "ok")] == 5  # the duplicate ingest is no task
    counts = [v for lab, v in m["labstream_task_duration_seconds_count"] if lab["stage"] == "file_stats"]
    assert counts == [6.0]
    lag = {lab["stage"]: v for lab, v in m["labstream_stage_lag"]}
    assert lag == {"file_stats": 0.0, "key_summary": 0.0}
    refresh(ran)
    per_project = {r["project"]: r["cost_usd"] for r in rollup(costs_table(ran), "project")}
    cost: dict[str, float] = {}
    for lab, v in m["labstream_cost_usd_total"]:  # per project and pipeline (ingest, filestats)
        cost[lab["project"]] = cost.get(lab["project"], 0.0) + v
    for project, usd in per_project.items():
        assert cost[project] == pytest.approx(usd, rel=1e-9)
    assert {lab["project"]: v for lab, v in m["labstream_budget_monthly_usd"]} == {"alpha": 50.0, "beta": 5.0}
    slo = {lab["slo"]: v for lab, v in m["labstream_slo_events_total"] if lab["pipeline"] == "filestats"}
    assert slo == {"ingested->report p95": 3.0}
    assert all(v == 0 for _, v in m["labstream_slo_bad_events_total"])
    assert {lab["window"] for lab, _ in m["labstream_slo_burn_rate"]} >= {"1h", "5m", "6h", "30m"}
    # scoped: a caller of project beta sees nothing of alpha
    scoped = render_metrics(settings, projects=["beta"]).decode()
    assert 'project="alpha"' not in scoped and 'project="beta"' in scoped


def test_dashboard_summary_is_scoped_and_shows_the_slo(ran: Settings) -> None:
    from labstream.ops.summary import ops_summary

    refresh(ran)
    beta = ops_summary(ran, ["beta"])
    assert [r["project"] for r in beta["costs"]] == ["beta"] and beta["costs"][0]["cpu_hours"] > 0
    assert {r["milestone"] for r in beta["turnaround"]} == {"received", "ingested", "primary", "report"}
    report = next(r for r in beta["turnaround"] if r["milestone"] == "report")
    assert report["slo"] == "ingested->report p95 <= 1h" and report["slo_met"] and report["entities"] == 1
    assert beta["alerts"] == []
    both = ops_summary(ran, ["alpha", "beta"])
    assert sorted(r["project"] for r in both["costs"]) == ["alpha", "beta"]
    assert next(r for r in both["turnaround"] if r["milestone"] == "report")["entities"] == 3


def test_dashboard_cost_per_day_adds_up_to_the_cost(ran: Settings) -> None:
    import time as _time
    from collections import defaultdict

    from labstream.ops.ledger import costs_table
    from labstream.ops.summary import ops_summary

    refresh(ran)
    both = ops_summary(ran, ["alpha", "beta"])
    expected: dict[tuple[str, str], float] = defaultdict(float)
    for r in costs_table(ran).to_pylist():  # the UTC day of each task's end, by Python's clock
        expected[(_time.strftime("%Y-%m-%d", _time.gmtime(r["ended_at"])), r["project"])] += r["cost_usd"]
    got = {(r["day"], r["project"]): r["cost_usd"] for r in both["cost_by_day"]}
    assert got == pytest.approx(dict(expected), rel=1e-12) and got
    assert ops_summary(ran, ["beta"], now=_time.time() + 40 * 86400)["cost_by_day"] == []  # 30-day window
