"""SLOs from the contract text, error budgets, and multiwindow burn-rate alerts driven by a fake clock
(hours of traffic in microseconds: nothing sleeps)."""

from __future__ import annotations

import pytest

from labstream.core.errors import ConfigError
from labstream.ops.slo import BurnRateMonitor, outcomes, parse_slo, slo_clocks
from labstream.pipelines import get_contract

H = 3600.0


class FakeClock:
    def __init__(self, t: float = 1_000_000.0) -> None:
        self.t = t

    def __call__(self) -> float:
        return self.t

    def advance(self, seconds: float) -> None:
        self.t += seconds


def test_parse_and_the_shipped_contract_slo() -> None:
    slo = parse_slo("genomics", "ingested->report p95 <= 48h")
    assert (slo.start, slo.end, slo.quantile, slo.target_s) == ("ingested", "report", 0.95, 48 * H)
    assert slo.budget == pytest.approx(0.05)
    for text in get_contract("filestats").slos:
        assert parse_slo("filestats", text).end == "report"
    with pytest.raises(ConfigError, match="not of the form.*ingested->report p95 <= 48h"):
        parse_slo("genomics", "report in two days")


def test_an_open_sample_past_its_target_counts_as_bad_before_it_finishes() -> None:
    slo = parse_slo("g", "ingested->report p95 <= 1h")
    events = outcomes(slo, [("a", 0.0, 1800.0), ("b", 0.0, None), ("c", 0.0, 5000.0)], now=4000.0)
    assert [(e.key, e.at, e.bad) for e in events] == [
        ("a", 1800.0, False),
        ("b", 3600.0, True),
        ("c", 3600.0, True),
    ]


def test_fast_burn_pages_within_minutes_and_stops_when_the_problem_does() -> None:
    slo = parse_slo("g", "ingested->report p95 <= 2h")
    clock = FakeClock()
    monitor = BurnRateMonitor(slo, clock)
    clocks: list[tuple[str, float, float | None]] = []
    # six healthy hours: one sample a minute, each reported in 30 min
    for _ in range(6 * 60):
        clocks.append((f"s{len(clocks)}", clock() - 1800, clock()))
        clock.advance(60)
    assert monitor.alerts(clocks) == []
    assert monitor.error_budget(clocks)["remaining"] == pytest.approx(1.0)
    # the sequencer's analysis stalls: every new sample now takes 5 h (breaches at 2 h, counted then)
    paged_after = None
    for minute in range(1, 121):
        start = clock() - 2 * H - 1  # samples started 2 h ago are now late, one a minute
        clocks.append((f"s{len(clocks)}", start, None))
        clock.advance(60)
        alerts = monitor.alerts(clocks)
        if any(a.severity == "page" and a.long_window_s == H for a in alerts):
            paged_after = minute
            break
    # 14.4x a 5% budget is 72% bad in the last hour: with 60 good samples in it, ~30 min of full breach;
    # the 5 min window is bad from the first minute, so the 1 h window decides
    assert paged_after is not None and paged_after <= 60, paged_after
    page = next(a for a in monitor.alerts(clocks) if a.long_window_s == H)
    assert page.burn_long >= 14.4 and page.burn_short >= 14.4 and "labstream tat" in page.message()
    # the problem is fixed: healthy samples again; the short window clears the page within minutes
    for _ in range(6):
        clocks.append((f"s{len(clocks)}", clock() - 1800, clock()))
        clock.advance(60)
    assert not any(a.long_window_s == H for a in monitor.alerts(clocks))
    assert monitor.error_budget(clocks)["remaining"] < 0  # the month's budget is spent


def test_slow_burn_opens_a_ticket_not_a_page() -> None:
    slo = parse_slo("g", "ingested->report p95 <= 2h")
    clock = FakeClock()
    clocks: list[tuple[str, float, float | None]] = []
    for i in range(3 * 24 * 60):  # three days, one sample a minute, 7% late (1.4x the budget)
        late = i % 100 < 7
        clocks.append((f"s{i}", clock() - (3 * H if late else H), clock()))
        clock.advance(60)
    alerts = BurnRateMonitor(slo, clock).alerts(clocks)
    assert [a.severity for a in alerts] == ["ticket"]


def test_clocks_from_turnaround_rows() -> None:
    slo = parse_slo("filestats", "ingested->report p95 <= 1h")
    rows = [
        {"project": "p", "key": "a", "pipeline": "filestats", "milestone": "ingested", "reached_at": 10.0},
        {"project": "p", "key": "a", "pipeline": "filestats", "milestone": "report", "reached_at": 70.0},
        {"project": "p", "key": "b", "pipeline": "filestats", "milestone": "ingested", "reached_at": 20.0},
        {"project": "p", "key": "c", "pipeline": "genomics", "milestone": "ingested", "reached_at": 20.0},
    ]
    assert sorted(slo_clocks(slo, rows), key=lambda c: c[0]) == [("a", 10.0, 70.0), ("b", 20.0, None)]
