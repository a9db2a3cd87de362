"""Budgets per project, with alerts at spending thresholds.

A lab writes its budgets in a TOML file (`LABSTREAM_BUDGETS=budgets.toml`):

    [projects.oncology]
    monthly_usd = 1200.0
    thresholds = [0.5, 0.8, 1.0]     # alert at 50%, 80% and 100% of the month's budget

Why thresholds rather than one limit: a budget is a promise to a finance team; the 50% alert in the
first week is what lets a lab act before the 100% one. Spend is the calendar month's (UTC) sum of
`costs.cost_usd` by the task's end.
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc

from labstream.core.errors import ConfigError

__all__ = ["Budget", "BudgetAlert", "budget_alerts", "load_budgets", "month_spend", "month_start"]


@dataclass(frozen=True)
class Budget:
    project: str
    monthly_usd: float
    thresholds: tuple[float, ...] = (0.5, 0.8, 1.0)


@dataclass(frozen=True)
class BudgetAlert:
    project: str
    threshold: float
    spent_usd: float
    budget_usd: float
    severity: str  # "warning" below 100%, "critical" at or over it

    def message(self) -> str:
        return (
            f"project {self.project!r} has spent ${self.spent_usd:,.2f} of its ${self.budget_usd:,.2f} "
            f"monthly budget ({self.spent_usd / self.budget_usd:.0%}, threshold {self.threshold:.0%}); "
            f"see `labstream cost --by stage` for where it went"
        )


def load_budgets(path: str | Path) -> dict[str, Budget]:
    p = Path(path)
    try:
        data = tomllib.loads(p.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"budgets file {p} does not exist; set LABSTREAM_BUDGETS to a TOML file") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as err:
        raise ConfigError(f"budgets file {p} is not valid TOML ({err}); fix the line it names") from None
    out = {}
    for project, entry in dict(data.get("projects", {})).items():
        try:
            amount = float(entry["monthly_usd"])
            thresholds = tuple(sorted(float(t) for t in entry.get("thresholds", (0.5, 0.8, 1.0))))
        except (KeyError, TypeError, ValueError) as err:
            raise ConfigError(
                f"budgets file {p}, project {project!r}: needs monthly_usd = <number> and optional "
                f"thresholds = [fractions] ({err}); fix that entry"
            ) from None
        if amount <= 0 or any(t <= 0 for t in thresholds):
            raise ConfigError(f"budgets file {p}, project {project!r}: amounts and thresholds must be > 0")
        out[project] = Budget(project, amount, thresholds)
    return out


def month_start(now: float) -> float:
    """The start of `now`'s calendar month (UTC), epoch seconds."""
    t = datetime.fromtimestamp(now, UTC)
    return datetime(t.year, t.month, 1, tzinfo=UTC).timestamp()


def month_spend(costs: pa.Table, now: float) -> dict[str, float]:
    """Cost per project of tasks that ended in `now`'s calendar month (UTC)."""
    start = month_start(now)
    rows = costs.filter(
        pc.and_(pc.greater_equal(costs["ended_at"], start), pc.less_equal(costs["ended_at"], now))
    )
    out: dict[str, float] = {}
    for project, cost in zip(rows["project"].to_pylist(), rows["cost_usd"].to_pylist(), strict=True):
        out[project] = out.get(project, 0.0) + cost
    return out


def budget_alerts(spend: Mapping[str, float], budgets: Mapping[str, Budget]) -> list[BudgetAlert]:
    """The highest threshold each project has crossed (none for a project under its lowest)."""
    alerts = []
    for project, budget in sorted(budgets.items()):
        spent = float(spend.get(project, 0.0))
        crossed = [t for t in budget.thresholds if spent >= t * budget.monthly_usd]
        if crossed:
            top = max(crossed)
            alerts.append(
                BudgetAlert(project, top, spent, budget.monthly_usd, "critical" if top >= 1.0 else "warning")
            )
    return alerts
