"""Alerts as events: budget thresholds and turnaround burn-rate pages on the `ops.alerts` topic.

Prometheus (deploy/prometheus/rules.yml) is the alerting path of an operated site; the topic is the
platform's own, so a lab with no Prometheus still gets told, and anything on the stream (a notifier,
the dashboard, a LIMS) can subscribe. Each alert is published when it starts firing and again, as
`resolved`, when it stops; a refresher that restarts re-announces what is firing (at least once).

    state = AlertState()
    publish_alerts(settings, stream, state, now=time.time())   # each refresh tick
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa

from labstream.core.events import Event
from labstream.core.settings import Settings
from labstream.core.topics import ALERTS_TOPIC
from labstream.ops.budget import budget_alerts, load_budgets, month_spend
from labstream.ops.slo import BurnRateMonitor, parse_slo, slo_clocks
from labstream.stream.base import Stream

__all__ = ["ALERT_EVENT", "AlertState", "current_alerts", "publish_alerts"]

ALERT_EVENT = "ops.alert"


@dataclass
class AlertState:
    """What is firing now, by alert identity, so only transitions are published."""

    firing: dict[str, dict[str, Any]] = field(default_factory=dict)


def current_alerts(
    settings: Settings,
    costs: pa.Table,
    clocks: pa.Table,
    slos: Callable[[str], tuple[str, ...]],
    now: float,
) -> dict[str, dict[str, Any]]:
    """Every alert firing at `now`, by identity (name + subject + severity)."""
    out: dict[str, dict[str, Any]] = {}
    if settings.budgets:
        for a in budget_alerts(month_spend(costs, now), load_budgets(settings.budgets)):
            alert = {
                "name": "budget_threshold",
                "severity": a.severity,
                "project": a.project,
                "subject": a.project,
                "threshold": a.threshold,
                "message": a.message(),
            }
            out[f"budget:{a.project}:{a.threshold}"] = alert
    rows = clocks.to_pylist()
    for pipeline in sorted({r["pipeline"] for r in rows} - {""}):
        for text in slos(pipeline):
            slo = parse_slo(pipeline, text)
            for a in BurnRateMonitor(slo, lambda: now).alerts(slo_clocks(slo, rows)):
                alert = {
                    "name": "turnaround_burn_rate",
                    "severity": a.severity,
                    "project": "",
                    "subject": f"{pipeline} {a.slo}",
                    "window_s": a.long_window_s,
                    "burn_rate": a.burn_long,
                    "message": a.message(),
                }
                out[f"slo:{pipeline}:{a.slo}:{a.long_window_s:g}"] = alert
    return out


def publish_alerts(
    settings: Settings,
    stream: Stream,
    state: AlertState,
    costs: pa.Table,
    clocks: pa.Table,
    slos: Callable[[str], tuple[str, ...]],
    now: float | None = None,
) -> list[Event]:
    """Publish the alerts that started or stopped firing since the last call; returns them."""
    stamp = time.time() if now is None else now
    firing = current_alerts(settings, costs, clocks, slos, stamp)
    events = []
    for ident, alert in firing.items():
        if ident not in state.firing:
            events.append(_event(ident, {**alert, "status": "firing"}, stamp))
    for ident, alert in state.firing.items():
        if ident not in firing:
            events.append(_event(ident, {**alert, "status": "resolved"}, stamp))
    for ev in events:
        stream.publish(ALERTS_TOPIC, ev.to_json(), key=ev.key)
    if events:
        stream.flush()
    state.firing = firing
    return events


def _event(ident: str, data: dict[str, Any], now: float) -> Event:
    digest = hashlib.sha256(f"{ident}:{data['status']}:{now}".encode()).hexdigest()[:32]
    return Event(
        type=ALERT_EVENT,
        key=ident,
        data=data,
        id=digest,
        created_at=now,
        project=data.get("project") or "default",
    )
