"""Cost per user and per tag of runs submitted through the API: the run's tasks and its inputs' ingest
tasks carry its user and tags; unclaimed tasks stay in the '' row, so every roll-up sums to the bill."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import create_engine
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from labstream.catalog import Catalog
from labstream.catalog.records import LineageRecord
from labstream.cli.main import app
from labstream.core.settings import Settings
from labstream.governance.models import RunRow
from labstream.ops.attribution import run_owners, with_owners
from labstream.ops.cost import cost_rows, rollup, task_cost
from labstream.ops.pricebook import load_price_book

BOOK = load_price_book("labstream-2026-12")


def task(
    lid: str, stage: str, key: str, wall: float, parents: tuple[str, ...] = (), cpu: int = 1
) -> LineageRecord:
    return LineageRecord(
        id=lid,
        stage=stage,
        key=key,
        project="p",
        status="ok",
        wall_seconds=wall,
        cpu_seconds=wall / 2,
        started_at=100.0,
        ended_at=100.0 + wall,
        parent_ids=list(parents),
        request={"cpu": cpu, "memory_mb": 2048},
    )


def test_cost_by_user_and_tag(home: Path) -> None:
    settings = Settings()
    records = [
        task("ingest-aaa", "ingest", "S1", 2.0),
        task("t1", "file_stats", "S1", 1800.0, ("ingest-aaa",), cpu=2),
        task("ingest-bbb", "ingest", "S2", 3.0),
        task("t2", "file_stats", "S2", 900.0, ("ingest-bbb",)),
        task("ingest-ccc", "ingest", "S3", 1.0),
        task("t3", "file_stats", "S3", 600.0, ("ingest-ccc",)),  # a watched folder's: no run claims it
    ]
    with Catalog(settings.catalog_url).upgrade() as cat:
        cat.record_lineage_many(records)
    engine = create_engine(settings.catalog_url)
    with Session(engine) as s:
        for rid, user, tags, lid in (
            ("r1", "ana", {"study": "X", "grant": "G1"}, "t1"),
            ("r2", "ben", {"study": "Y"}, "t2"),
        ):
            s.add(
                RunRow(
                    id=rid,
                    project="p",
                    user=user,
                    pipeline="filestats",
                    tags=tags,
                    outputs={"lineage_ids": [lid]},
                )
            )
        s.commit()
    engine.dispose()

    owners = run_owners(settings)
    assert {k: v[0] for k, v in owners.items()} == {
        "t1": "ana",
        "ingest-aaa": "ana",
        "t2": "ben",
        "ingest-bbb": "ben",
    }
    rates = BOOK.compute("local", "standard")
    by_hand = {r.id: task_cost(r, rates)["cost_usd"] for r in records}
    costs = cost_rows(records, BOOK, region="local", stage_pipeline={}, now=0.0)
    total = sum(by_hand.values())

    users = {r["user"]: r["cost_usd"] for r in rollup(with_owners(costs, owners, "user"), "user")}
    assert users["ana"] == pytest.approx(by_hand["t1"] + by_hand["ingest-aaa"], rel=1e-12)
    assert users["ben"] == pytest.approx(by_hand["t2"] + by_hand["ingest-bbb"], rel=1e-12)
    assert users[""] == pytest.approx(by_hand["t3"] + by_hand["ingest-ccc"], rel=1e-12)
    assert sum(users.values()) == pytest.approx(total, rel=1e-12)

    tags = rollup(with_owners(costs, owners, "tag"), ["tag", "value"])
    for name in ("study", "grant"):  # each tag's rows sum to the whole bill
        assert sum(r["cost_usd"] for r in tags if r["tag"] == name) == pytest.approx(total, rel=1e-12)
    study = {r["value"]: r["cost_usd"] for r in tags if r["tag"] == "study"}
    assert study["X"] == pytest.approx(users["ana"]) and study["Y"] == pytest.approx(users["ben"])
    grant = {r["value"]: r["tasks"] for r in tags if r["tag"] == "grant"}
    assert grant == {"G1": 2, "": 4}

    res = CliRunner().invoke(app, ["cost", "--by", "user", "--format", "json"])
    assert res.exit_code == 0, res.output
    got = {r["user"]: r["cost_usd"] for r in json.loads(res.output)}
    assert got == pytest.approx(users, rel=1e-12)
    res = CliRunner().invoke(app, ["cost", "--by", "tag", "--format", "json"])
    assert res.exit_code == 0, res.output
    pairs = {(r["tag"], r["value"]) for r in json.loads(res.output)}
    assert pairs == {("grant", "G1"), ("grant", ""), ("study", "X"), ("study", "Y"), ("study", "")}
