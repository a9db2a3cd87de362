"""Clinical turnaround: received -> ... -> signed -> delivered, with signing and delivery read from the
governance records (report versions, the audit log), an amendment not moving the first signing, and a
delivery that writes no lineage still reaching the clock on the next refresh."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from sqlalchemy import create_engine
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from labstream.catalog import Catalog
from labstream.catalog.records import IngestedFile, LineageRecord
from labstream.cli.main import app
from labstream.core.settings import Settings
from labstream.governance.audit import AuditLog
from labstream.governance.models import DataObject, ReportVersion
from labstream.ops.clinical import received_at
from labstream.ops.ledger import refresh, turnaround_table
from labstream.ops.slo import parse_slo, slo_clocks
from labstream.ops.turnaround import clock_rows

PLAN = (("ingested", "ingest"), ("primary", "align"), ("report", "report"))


def rec(stage: str, key: str, start: float, end: float, status: str = "ok") -> LineageRecord:
    return LineageRecord(stage=stage, key=key, project="p", status=status, started_at=start, ended_at=end)


def test_clock_rows_with_receipt_and_milestones_after_the_pipeline() -> None:
    records = [
        rec("ingest", "S1", 100.0, 110.0),
        rec("align", "S1", 120.0, 200.0),
        rec("report", "S1", 210.0, 260.0),
        rec("ingest", "S2", 100.0, 105.0),
        rec("align", "S2", 106.0, 150.0, status="failed"),  # not reached
    ]
    got = clock_rows(
        records,
        stage_pipeline={"align": "g", "report": "g"},
        milestones=lambda _p: PLAN,
        now=0.0,
        received={("p", "S1"): 40.0},  # the file arrived 60 s before its ingest started
        after={("p", "S1"): [("signed", 400.0), ("delivered", 460.0)]},
    ).to_pylist()
    s1 = [(r["milestone"], r["position"], r["since_start_s"], r["stage_s"]) for r in got if r["key"] == "S1"]
    assert s1 == [
        ("received", 0, 0.0, 0.0),
        ("ingested", 1, 70.0, 70.0),
        ("primary", 2, 160.0, 90.0),
        ("report", 3, 220.0, 60.0),
        ("signed", 4, 360.0, 140.0),
        ("delivered", 5, 420.0, 60.0),
    ]
    s2 = [(r["milestone"], r["since_start_s"]) for r in got if r["key"] == "S2"]
    assert s2 == [("received", 0.0), ("ingested", 5.0)]  # no receipt known: the ingest start


def test_received_is_the_first_arrival_of_the_entitys_files() -> None:
    files = [
        IngestedFile("a" * 64, "/r/1", 1, object_uri="u1", project="p", first_seen=50.0),
        IngestedFile("b" * 64, "/r/2", 1, object_uri="u2", project="p", first_seen=30.0),
        IngestedFile("c" * 64, "/r/3", 1, object_uri="u3", project="p", first_seen=10.0),
    ]
    assert received_at(files, {"u1": "S1", "u2": "S1", "u3": ""}) == {("p", "S1"): 30.0}


def test_signed_and_delivered_reach_the_turnaround_table(home: Path) -> None:
    settings = Settings()
    t0 = time.time() - 10_000.0
    with Catalog(settings.catalog_url).upgrade() as cat:
        cat.record_lineage_many(
            [
                rec("ingest", "S1", t0, t0 + 10),
                rec("file_stats", "S1", t0 + 20, t0 + 30),
                rec("key_summary", "S1", t0 + 40, t0 + 60),
            ]
        )
    engine = create_engine(settings.catalog_url)
    with Session(engine) as s:
        for oid in ("r1", "r1-v1", "r1-v2d", "r1-v2"):
            s.add(
                DataObject(
                    id=oid,
                    project="p",
                    kind="report",
                    uri=f"file:///x/{oid}",
                    sha256="0",
                    size=1,
                    sample="S1",
                )
            )
        # draft r1 -> signed v1 -> amended draft v2 -> signed v2 (what governance.signoff writes)
        for oid, version, state, parent, at in (
            ("r1-v1", 1, "signed", "r1", t0 + 100),
            ("r1-v2d", 2, "draft", "r1-v1", None),
            ("r1-v2", 2, "signed", "r1-v2d", t0 + 500),
        ):
            s.add(
                ReportVersion(
                    object_id=oid,
                    report_id="r1",
                    version=version,
                    state=state,
                    parent_id=parent,
                    signed_at=at,
                )
            )
        s.commit()
    engine.dispose()

    refresh(settings)
    rows = {r["milestone"]: r for r in turnaround_table(settings).to_pylist()}
    assert list(rows) == ["received", "ingested", "primary", "report", "signed"]
    assert rows["signed"]["reached_at"] == t0 + 100  # the first signing; the amendment does not move it
    assert (
        rows["signed"]["since_start_s"] == pytest.approx(100.0) and rows["signed"]["pipeline"] == "filestats"
    )

    audit = AuditLog(settings.home / "audit" / "audit.db", b"k" * 32)
    audit.record("eve", "report.read", resource="report/r1-v2", project="p", outcome="denied")
    served = audit.record("dr", "report.read", resource="report/r1-v2", project="p")
    audit.close()
    refresh(settings)  # a delivery writes no lineage: the refresh still sees it
    rows = {r["milestone"]: r for r in turnaround_table(settings).to_pylist()}
    assert rows["delivered"]["reached_at"] == pytest.approx(served.ts) and rows["delivered"]["position"] == 5
    assert refresh(settings)["turnaround"] == 0  # nothing changed: nothing re-clocked

    slo = parse_slo("filestats", "received->signed p95 <= 48h")
    assert slo_clocks(slo, turnaround_table(settings).to_pylist()) == [("S1", t0, t0 + 100)]
    res = CliRunner().invoke(app, ["tat", "--format", "json", "--no-refresh"])
    assert res.exit_code == 0, res.output
    assert [r["milestone"] for r in json.loads(res.output)][-2:] == ["signed", "delivered"]
