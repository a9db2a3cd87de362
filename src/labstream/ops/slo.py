"""Turnaround SLOs, error budgets and multiwindow burn-rate alerts (SRE workbook, chapter 5).

An SLO is declared in a pipeline's contract as text, so a lab reads its promise where the pipeline
is declared:

    "ingested->report p95 <= 48h"    95% of entities reach `report` within 48 h of `ingested`

Each entity is one event of the SLO: good when it reached the end milestone within the target, bad
when it took longer, and bad as soon as it has been open longer than the target (a sample stuck in
the pipeline must page before it finishes). The error budget is the bad fraction allowed, 1 - 0.95.
The burn rate over a window is (bad / all events in the window) / budget: 1 spends the budget
exactly over the SLO period. Alerts follow the workbook's multiwindow table: both the long and the
short window must burn, so a page starts fast and stops soon after the problem does.

Time is always passed in (`now`) or read from an injected clock, so tests drive hours of traffic
with a fake clock instead of sleeping.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from labstream.core.errors import ConfigError

__all__ = [
    "SLO",
    "WINDOWS",
    "Alert",
    "BurnRateMonitor",
    "Outcome",
    "burn_rate",
    "outcomes",
    "parse_slo",
    "slo_clocks",
]

_UNITS = {"s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}
_SLO = re.compile(
    r"^\s*(?P<start>[a-z][a-z0-9_]*)\s*->\s*(?P<end>[a-z][a-z0-9_]*)\s+p(?P<q>\d{1,2}(?:\.\d+)?)"
    r"\s*<=\s*(?P<n>\d+(?:\.\d+)?)\s*(?P<unit>[smhd])\s*$"
)
# (severity, long window s, short window s, burn-rate threshold): SRE workbook, table 5-8
WINDOWS: tuple[tuple[str, float, float, float], ...] = (
    ("page", 3600.0, 300.0, 14.4),
    ("page", 6 * 3600.0, 1800.0, 6.0),
    ("ticket", 3 * 86400.0, 6 * 3600.0, 1.0),
)


@dataclass(frozen=True)
class SLO:
    pipeline: str
    start: str
    end: str
    quantile: float  # 0.95
    target_s: float
    text: str

    @property
    def budget(self) -> float:
        """The bad fraction allowed (1 - quantile)."""
        return 1.0 - self.quantile

    @property
    def name(self) -> str:
        return f"{self.start}->{self.end} p{round(self.quantile * 100)}"


def parse_slo(pipeline: str, text: str) -> SLO:
    """`"ingested->report p95 <= 48h"` -> SLO; ConfigError naming the text and the form expected."""
    m = _SLO.match(text)
    if m is None:
        raise ConfigError(
            f"pipeline {pipeline!r}: SLO {text!r} is not of the form "
            f"'START->END pNN <= N(s|m|h|d)'; write e.g. 'ingested->report p95 <= 48h'"
        )
    q = float(m["q"]) / 100.0
    if not 0.0 < q < 1.0:
        raise ConfigError(f"pipeline {pipeline!r}: SLO {text!r} needs a percentile between p1 and p99.9")
    return SLO(pipeline, m["start"], m["end"], q, float(m["n"]) * _UNITS[m["unit"]], text)


@dataclass(frozen=True)
class Outcome:
    """One entity against one SLO: `at` is when it counted (reached the end, or breached while open)."""

    key: str
    at: float
    bad: bool


def outcomes(slo: SLO, clocks: Iterable[tuple[str, float, float | None]], now: float) -> list[Outcome]:
    """From (key, start time, end time or None while open) to the SLO's events as of `now`."""
    out = []
    for key, start, end in clocks:
        if end is not None and end <= now:
            out.append(Outcome(key, end, end - start > slo.target_s))
        elif now - start > slo.target_s:  # still open and already late: bad from the moment it breached
            out.append(Outcome(key, start + slo.target_s, True))
    return out


@dataclass(frozen=True)
class Alert:
    slo: str
    pipeline: str
    severity: str
    long_window_s: float
    short_window_s: float
    burn_long: float
    burn_short: float
    threshold: float

    def message(self) -> str:
        return (
            f"{self.pipeline} {self.slo}: burning the error budget {self.burn_long:.1f}x over "
            f"{self.long_window_s / 3600:g} h and {self.burn_short:.1f}x over "
            f"{self.short_window_s / 60:g} min "
            f"(threshold {self.threshold}x); look at `labstream tat` for the stage that is late"
        )


def burn_rate(slo: SLO, events: list[Outcome], now: float, window_s: float) -> float:
    """(bad / all events in (now - window, now]) / budget; 0 when the window holds no event."""
    inside = [e for e in events if now - window_s < e.at <= now]
    if not inside:
        return 0.0
    return sum(e.bad for e in inside) / len(inside) / slo.budget


class BurnRateMonitor:
    """Evaluates one SLO's multiwindow burn-rate alerts at the injected clock's time."""

    def __init__(self, slo: SLO, clock: Callable[[], float] = time.time) -> None:
        self.slo = slo
        self.clock = clock

    def alerts(self, clocks: Iterable[tuple[str, float, float | None]]) -> list[Alert]:
        now = self.clock()
        events = outcomes(self.slo, clocks, now)
        fired = []
        for severity, long_w, short_w, threshold in WINDOWS:
            b_long = burn_rate(self.slo, events, now, long_w)
            b_short = burn_rate(self.slo, events, now, short_w)
            if b_long >= threshold and b_short >= threshold:
                fired.append(
                    Alert(
                        self.slo.name,
                        self.slo.pipeline,
                        severity,
                        long_w,
                        short_w,
                        b_long,
                        b_short,
                        threshold,
                    )
                )
        return fired

    def error_budget(
        self, clocks: Iterable[tuple[str, float, float | None]], period_s: float = 30 * 86400.0
    ) -> dict[str, float]:
        """Over the SLO period: events, bad events, bad allowed, and the budget fraction left (<0: blown)."""
        now = self.clock()
        inside = [e for e in outcomes(self.slo, clocks, now) if now - period_s < e.at <= now]
        bad = sum(e.bad for e in inside)
        allowed = self.slo.budget * len(inside)
        return {
            "events": float(len(inside)),
            "bad": float(bad),
            "allowed": allowed,
            "remaining": 1.0 - bad / allowed if allowed else 1.0,
        }


def slo_clocks(
    slo: SLO, turnaround_rows: Iterable[dict[str, object]]
) -> list[tuple[str, float, float | None]]:
    """(key, start milestone reached, end milestone reached or None) per entity of the SLO's pipeline,
    from `turnaround` rows (dicts)."""
    starts: dict[tuple[str, str], float] = {}
    ends: dict[tuple[str, str], float] = {}
    for r in turnaround_rows:
        if r["pipeline"] != slo.pipeline:
            continue
        ent = (str(r["project"]), str(r["key"]))
        if r["milestone"] == slo.start:
            starts[ent] = float(r["reached_at"])  # type: ignore[arg-type]
        elif r["milestone"] == slo.end:
            ends[ent] = float(r["reached_at"])  # type: ignore[arg-type]
    return [(key, start, ends.get((p, key))) for (p, key), start in starts.items()]
