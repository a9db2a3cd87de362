"""A small run through the platform (filestats): each sample's cost equals a hand computation from the
price book's numbers and the recorded resources, to the cent, and the sum over samples is the sum
over tasks; `labstream cost` and `labstream tat` print machine-readable rows."""

from __future__ import annotations

import json
import tomllib
from importlib import resources
from pathlib import Path

import pytest
from ops_run import SAMPLES, hand_price
from typer.testing import CliRunner

from labstream.cli.main import app
from labstream.core.settings import Settings
from labstream.ops.cost import rollup
from labstream.ops.ledger import costs_table, refresh, turnaround_table


def test_sample_cost_equals_hand_computation_and_sums_match(ran: Settings) -> None:
    from labstream.catalog import Catalog

    refresh(ran)
    assert costs_table(ran).num_rows == 3 * 6  # ingest, file_stats, key_summary per file
    assert refresh(ran) == {"costs": 0, "turnaround": 0}  # priced once
    book = tomllib.loads((resources.files("labstream.ops") / "pricebooks/labstream-2026-12.toml").read_text())
    with Catalog(ran.catalog_url) as cat:
        records = cat.list_lineage()
    assert all(r.request for r in records if r.stage != "ingest")
    hand: dict[tuple[str, str], float] = {}
    for r in records:
        hand[(r.project, r.key)] = hand.get((r.project, r.key), 0.0) + hand_price(r, book)
    costs = costs_table(ran)
    rows = costs.to_pylist()
    ours: dict[tuple[str, str], float] = {}
    for r in rows:
        ours[(r["project"], r["key"])] = ours.get((r["project"], r["key"]), 0.0) + r["cost_usd"]
    assert set(ours) == set(SAMPLES)
    for ent, value in hand.items():
        assert round(ours[ent], 2) == round(value, 2)  # to the cent
        assert ours[ent] == pytest.approx(value, rel=1e-9)  # and in fact to the float
    assert sum(ours.values()) == pytest.approx(sum(r["cost_usd"] for r in rows), rel=1e-12)
    assert {r["pipeline"] for r in rows} == {"ingest", "filestats"}
    assert all(r["cost_usd"] > 0 for r in rows if r["stage"] != "ingest")

    # the CLI: one JSON row per (project, sample), with its itemised cost
    cli = CliRunner()
    out = cli.invoke(
        app, ["cost", "--by", "sample", "--format", "json"], env={"LABSTREAM_HOME": str(ran.home)}
    )
    assert out.exit_code == 0, out.output
    by_sample = json.loads(out.stdout)
    assert {(r["project"], r["sample"]) for r in by_sample} == set(SAMPLES)
    sizes: dict[tuple[str, str], int] = {}
    with Catalog(ran.catalog_url) as cat:
        for f in cat.list_ingested():
            ent = (f.project, f.identity.split("/")[-1].split("_")[0] if f.identity else "")
            sizes[ent] = sizes.get(ent, 0) + f.size
    for r in by_sample:
        assert r["cost_usd"] == pytest.approx(ours[(r["project"], r["sample"])], rel=1e-9)
        assert r["stored_bytes"] == sizes[(r["project"], r["sample"])] and r["storage_usd"] > 0
        assert r["total_usd"] == pytest.approx(r["cost_usd"] + r["storage_usd"])
        assert r["cost_usd"] == pytest.approx(
            r["cpu_usd"] + r["memory_usd"] + r["gpu_usd"] + r["accelerator_usd"]
        )
        assert r["tasks"] == 3 * SAMPLES[(r["project"], r["sample"])]
    out = cli.invoke(
        app, ["cost", "--by", "project", "--format", "json"], env={"LABSTREAM_HOME": str(ran.home)}
    )
    by_project = json.loads(out.stdout)
    assert all(r["egress_bytes"] == 0 and r["total_usd"] >= r["cost_usd"] for r in by_project)  # no API here
    projects = {r["project"]: r["cost_usd"] for r in by_project}
    assert projects["alpha"] == pytest.approx(ours[("alpha", "S1")] + ours[("alpha", "S2")], rel=1e-9)


def test_turnaround_rows_per_sample_and_milestone(ran: Settings) -> None:
    refresh(ran)
    rows = turnaround_table(ran).to_pylist()
    got = {(r["key"], r["milestone"]) for r in rows}
    assert got == {(s, m) for _, s in SAMPLES for m in ("received", "ingested", "primary", "report")}
    for r in rows:
        assert r["since_start_s"] >= r["stage_s"] >= 0 and r["pipeline"] == "filestats"
    out = CliRunner().invoke(app, ["tat", "--format", "json"], env={"LABSTREAM_HOME": str(ran.home)})
    assert out.exit_code == 0, out.output
    printed = json.loads(out.stdout)
    assert len(printed) == 12 and {"key", "milestone", "since_start_s", "stage_s"} <= set(printed[0])
    out = CliRunner().invoke(
        app, ["tat", "--summary", "--format", "json"], env={"LABSTREAM_HOME": str(ran.home)}
    )
    summary = json.loads(out.stdout)
    assert [r["milestone"] for r in summary] == ["received", "ingested", "primary", "report"]
    assert all(r["entities"] == 3 and r["total_p50_s"] <= r["total_p95_s"] for r in summary)


def test_ops_cli_budgets_reconcile_and_mistakes(ran: Settings, tmp_path: Path) -> None:
    env = {"LABSTREAM_HOME": str(ran.home)}
    cli = CliRunner()
    refresh(ran)
    per_project = {r["project"]: r for r in rollup(costs_table(ran), "project")}
    budgets = tmp_path / "budgets.toml"
    tiny = per_project["alpha"]["cost_usd"] / 0.9  # alpha has spent 90% of it
    budgets.write_text(f"[projects.alpha]\nmonthly_usd = {tiny!r}\n[projects.beta]\nmonthly_usd = 1000\n")
    out = cli.invoke(app, ["ops", "budgets", "--file", str(budgets), "--format", "json"], env=env)
    assert out.exit_code == 0, out.output
    rows = {r["project"]: r for r in json.loads(out.stdout)}
    assert rows["alpha"]["threshold_crossed"] == 0.8 and rows["alpha"]["severity"] == "warning"
    assert rows["beta"]["severity"] == "ok"
    export = tmp_path / "cur.csv"
    export.write_text(
        "lineItem/UnblendedCost,resourceTags/user:project\n"
        f"{per_project['alpha']['cost_usd'] * 1.01!r},alpha\n{per_project['beta']['cost_usd'] * 1.5!r},beta\n"
    )
    out = cli.invoke(app, ["ops", "reconcile", str(export), "--format", "json"], env=env)
    assert out.exit_code == 0, out.output
    rec = {r["project"]: r for r in json.loads(out.stdout)}
    assert rec["alpha"]["within_tolerance"] and not rec["beta"]["within_tolerance"]
    bad = cli.invoke(app, ["cost", "--by", "colour"], env=env)
    assert bad.exit_code == 2 and "cannot group costs by 'colour'" in bad.output
    out = cli.invoke(app, ["cost", "--by", "task", "--format", "json", "--project", "beta"], env=env)
    assert {r["project"] for r in json.loads(out.stdout)} == {"beta"}


def test_ops_slo_cli(ran: Settings) -> None:
    out = CliRunner().invoke(app, ["ops", "slo", "--format", "json"], env={"LABSTREAM_HOME": str(ran.home)})
    assert out.exit_code == 0, out.output
    (row,) = json.loads(out.stdout)
    assert row["pipeline"] == "filestats" and row["slo"] == "ingested->report p95 <= 1h"
    assert row["events"] == 3 and row["bad"] == 0 and row["remaining"] == 1.0 and row["alerts"] == ""


def test_concurrent_refreshers_price_each_task_once(ran: Settings, tmp_path: Path) -> None:
    """Four refreshers race on a fresh lake over the same catalog: every task is priced exactly once."""
    import threading

    from labstream.lake import open_lake

    fresh = Settings(home=tmp_path / "other", catalog_url=ran.catalog_url)
    open_lake(fresh.lake_url)
    barrier = threading.Barrier(4)
    errors: list[BaseException] = []

    def go() -> None:
        try:
            barrier.wait()
            refresh(fresh)
        except BaseException as err:  # noqa: BLE001 - reported below
            errors.append(err)

    threads = [threading.Thread(target=go) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    refresh(fresh)  # whoever lost a race prices what is left
    ids = costs_table(fresh)["lineage_id"].to_pylist()
    assert len(ids) == len(set(ids)) == 3 * 6
