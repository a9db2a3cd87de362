"""Alerts on the `ops.alerts` topic: published when they start and when they stop firing, once each."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa

from labstream.catalog.records import LineageRecord
from labstream.core.settings import Settings
from labstream.core.topics import ALERTS_TOPIC
from labstream.ops.alerts import AlertState, publish_alerts
from labstream.ops.cost import cost_rows
from labstream.ops.pricebook import load_price_book
from labstream.ops.tables import TURNAROUND

NOW = 1_765_000_000.0


class ListStream:
    def __init__(self) -> None:
        self.sent: list[tuple[str, dict]] = []

    def publish(self, topic: str, value: bytes, key: str | None = None) -> None:
        self.sent.append((topic, json.loads(value)))

    def flush(self) -> None:
        pass


def clocks(late: int, on_time: int) -> pa.Table:
    rows = []
    for i in range(late + on_time):
        took = 7200.0 if i < late else 60.0
        for milestone, at in (("ingested", NOW - took - 60), ("report", NOW - 60)):
            rows.append(
                {
                    "key": f"s{i}",
                    "pipeline": "filestats",
                    "milestone": milestone,
                    "stage": "",
                    "position": 0,
                    "reached_at": at,
                    "since_start_s": 0.0,
                    "stage_s": 0.0,
                    "computed_at": NOW,
                    "lineage_id": None,
                    "project": "p",
                    "_ingested_at": None,
                }
            )
    return pa.Table.from_pylist(rows, schema=TURNAROUND.arrow_schema)


def test_budget_and_burn_rate_alerts_fire_once_and_resolve(tmp_path: Path) -> None:
    budgets = tmp_path / "b.toml"
    budgets.write_text("[projects.p]\nmonthly_usd = 0.05\n")
    settings = Settings(home=tmp_path / "home", budgets=str(budgets))
    book = load_price_book("labstream-2026-12")
    costs = cost_rows(
        [LineageRecord(stage="s", project="p", wall_seconds=3600.0, ended_at=NOW - 10)], book, region="local"
    )  # $0.04: 80% of the budget
    stream, state = ListStream(), AlertState()
    slos = {"filestats": ("ingested->report p95 <= 1h",)}.get
    sent = publish_alerts(settings, stream, state, costs, clocks(late=10, on_time=0), slos, now=NOW)
    names = sorted((e.data["name"], e.data["severity"], e.data["status"]) for e in sent)
    assert ("budget_threshold", "warning", "firing") in names
    assert ("turnaround_burn_rate", "page", "firing") in names
    assert all(topic == ALERTS_TOPIC for topic, _ in stream.sent) and len(stream.sent) == len(sent)
    # the same state again: nothing new is published
    assert publish_alerts(settings, stream, state, costs, clocks(late=10, on_time=0), slos, now=NOW) == []
    # turnaround recovers: the burn-rate alerts resolve, the budget one keeps firing
    sent = publish_alerts(settings, stream, state, costs, clocks(late=0, on_time=50), slos, now=NOW)
    assert sent and {(e.data["name"], e.data["status"]) for e in sent} == {
        ("turnaround_burn_rate", "resolved")
    }
