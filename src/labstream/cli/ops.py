"""`labstream cost`, `labstream tat` and `labstream ops ...`: what the lab's work cost and how long
it took, from the lineage (labstream.ops).

Both commands refresh the `costs` and `turnaround` lake tables first (a task is priced once), so what
they print is never older than the lineage; `--no-refresh` reads the tables as they are.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import pyarrow as pa
import typer

from labstream.cli._options import FormatOpt
from labstream.core.errors import ConfigError, InputError
from labstream.core.settings import Settings

app = typer.Typer(
    suggest_commands=False, no_args_is_help=True, help="Operating layer: budgets, reconciliation, SLOs."
)

BY_CHOICES = ("sample", "plate", "run", "project", "stage", "pipeline", "task", "user", "tag")


def _print(rows: list[dict[str, object]] | pa.Table, fmt: str, title: str, *, empty: str = "") -> None:
    """Rows as a table (or csv/json/parquet); an empty table says why it is empty (`empty`, or that
    the home has recorded nothing yet) instead of printing a blank line."""
    from labstream.cli.render import format_table

    table = rows if isinstance(rows, pa.Table) else pa.Table.from_pylist(rows)
    if table.num_rows == 0 and fmt == "table":  # an empty home printed a blank line
        home = Settings().home
        why = empty or f"nothing recorded yet in {home}; run `labstream watch` (or `labstream demo`) first"
        typer.echo(f"{title}: {why}")
        return
    text = format_table(table, fmt, title=title)
    if isinstance(text, bytes):
        sys.stdout.buffer.write(text)
    else:
        sys.stdout.write(text)


def _refreshed(settings: Settings, no_refresh: bool) -> None:
    if not no_refresh:
        from labstream.ops.ledger import refresh

        refresh(settings)


def cost(
    by: str = typer.Option(
        "sample", "--by", help="sample | plate | run | project | stage | pipeline | task | user | tag"
    ),
    fmt: FormatOpt = "table",
    project: str | None = typer.Option(None, "--project", help="only this project"),
    no_refresh: bool = typer.Option(False, "--no-refresh", help="read the costs table as it is"),
) -> None:
    """Cost of the lab's work from the price book, per sample, plate, run, project or other key.

    Keys: sample, plate, run, project, stage, pipeline, task, or user and tag of runs submitted through
    the API."""
    import pyarrow.compute as pc

    from labstream.ops.cost import ROLLUP_ITEMS, rollup
    from labstream.ops.ledger import costs_table

    if by not in BY_CHOICES:
        raise InputError("--by", f"cannot group costs by {by!r}", hint=f"use one of {', '.join(BY_CHOICES)}")
    settings = Settings()
    _refreshed(settings, no_refresh)
    costs = costs_table(settings)
    if project is not None:
        costs = costs.filter(pc.equal(costs["project"], project))
    if by == "task":
        cols = [
            "project",
            "key",
            "pipeline",
            "stage",
            "status",
            "attempts",
            "wall_s",
            *ROLLUP_ITEMS,
            "lineage_id",
        ]
        _print(costs.select(cols), fmt, "cost per task (USD)")
        return
    group = ["project", by] if by in ("sample", "plate", "run", "stage", "pipeline", "user") else [by]
    if by in ("run", "stage", "pipeline", "user", "tag"):  # storage billed to the task that wrote it
        costs = _with_task_storage(settings, costs)
    if by in ("user", "tag"):  # who submitted the run, its tags (labstream.ops.attribution)
        from labstream.ops.attribution import run_owners, with_owners

        owners = run_owners(settings)
        if by == "tag":  # and the tags a sample sheet or platemap gives the sample / plate
            owners = _with_sheet_tags(settings, costs, owners)
        costs = with_owners(costs, owners, by)
        group = ["project", "tag", "value"] if by == "tag" else group
    rows = rollup(costs, group)
    if by in ("sample", "plate", "project"):
        _add_storage(settings, rows, by)
    _print(rows, fmt, f"cost per {by} (USD)")


def _add_storage(settings: Settings, rows: list[dict[str, object]], by: str) -> None:
    """Storage of the raw objects and stage outputs beside compute, per tier (labstream.ops.storage):
    stored_bytes, storage_<tier>_usd, storage_usd, storage_fees_usd, total_usd."""
    from labstream.objects.tiers import TIERS
    from labstream.ops.pricebook import load_price_book
    from labstream.ops.stored import storage_inventory

    book = load_price_book(settings.price_book or None)
    stored, _ = storage_inventory(settings, book=book)
    egress = _egress(settings, book) if by == "project" else {}
    for row in rows:
        match = [
            v for (p, k), v in stored.items() if p == row["project"] and (by == "project" or k == row[by])
        ]
        row["stored_bytes"] = sum(v["bytes"] for v in match)
        for tier in TIERS:
            row[f"storage_{tier}_usd"] = sum(v.get(f"storage_{tier}_usd", 0.0) for v in match)
        row["storage_usd"] = sum(v["storage_usd"] for v in match)
        row["storage_fees_usd"] = sum(v["fees_usd"] for v in match)
        total = float(row["cost_usd"]) + row["storage_usd"] + row["storage_fees_usd"]  # type: ignore[arg-type]
        if by == "project":
            served = egress.get(str(row["project"]), {"bytes": 0.0, "egress_usd": 0.0})
            row["egress_bytes"], row["egress_usd"] = served["bytes"], served["egress_usd"]
            total += served["egress_usd"]
        row["total_usd"] = total


def _with_sheet_tags(settings: Settings, costs: pa.Table, owners: dict) -> dict:  # type: ignore[type-arg]
    from labstream.catalog import open_catalog
    from labstream.objects import open_store
    from labstream.ops.entity_tags import entity_tags, merged_owners

    with open_catalog(settings.catalog_url).upgrade() as cat:
        files, records = cat.list_ingested(), cat.list_lineage()
    tags = entity_tags(files, records, open_store(settings.objects_url).get_bytes)
    tasks = zip(*(costs[c].to_pylist() for c in ("lineage_id", "project", "key")), strict=True)
    return merged_owners(owners, tasks, tags)


def _with_task_storage(settings: Settings, costs: pa.Table) -> pa.Table:
    """`costs` with the storage of the objects billed to each task (its ingest's raw objects, the
    outputs it wrote first): stored_bytes, storage_<tier>_usd, storage_usd, storage_fees_usd."""
    from labstream.objects.tiers import TIERS
    from labstream.ops.stored import storage_by_task

    stored = storage_by_task(settings)
    ids = costs["lineage_id"].to_pylist()
    empty: dict[str, float] = {}
    cols = {
        "stored_bytes": pa.array([stored.get(i, empty).get("bytes", 0) for i in ids], pa.int64()),
        **{
            f"storage_{t}_usd": pa.array([stored.get(i, empty).get(f"storage_{t}_usd", 0.0) for i in ids])
            for t in TIERS
        },
        "storage_usd": pa.array([stored.get(i, empty).get("storage_usd", 0.0) for i in ids], pa.float64()),
        "storage_fees_usd": pa.array([stored.get(i, empty).get("fees_usd", 0.0) for i in ids], pa.float64()),
    }
    for name, col in cols.items():
        costs = costs.append_column(name, col.cast(pa.int64() if name == "stored_bytes" else pa.float64()))
    return costs


def _egress(settings: Settings, book: object) -> dict[str, dict[str, float]]:
    """Bytes the governed API served per project, from its audit log (none when never served)."""
    from labstream.ops.egress import egress_costs, served_records

    return egress_costs(served_records(settings), book, region=settings.region)  # type: ignore[arg-type]


def tat(
    summary: bool = typer.Option(False, "--summary", help="p50/p90/p95 per pipeline and milestone"),
    by_project: bool = typer.Option(False, "--by-project", help="with --summary: also per project"),
    fmt: FormatOpt = "table",
    no_refresh: bool = typer.Option(False, "--no-refresh", help="read the turnaround table as it is"),
) -> None:
    """Turnaround time: one row per sample (plate) and milestone, or percentiles with --summary."""
    from labstream.ops.ledger import turnaround_table
    from labstream.ops.turnaround import percentiles

    settings = Settings()
    _refreshed(settings, no_refresh)
    rows = turnaround_table(settings)
    if summary:
        by = ("project", "pipeline", "milestone") if by_project else ("pipeline", "milestone")
        _print(percentiles(rows, by), fmt, "turnaround percentiles (s)")
        return
    cols = ["project", "pipeline", "key", "milestone", "stage", "reached_at", "since_start_s", "stage_s"]
    _print(rows.select(cols), fmt, "turnaround per entity and milestone (s)")


@app.command()
def budgets(
    file: Path | None = typer.Option(None, "--file", help="budgets TOML (default: LABSTREAM_BUDGETS)"),
    fmt: FormatOpt = "table",
) -> None:
    """This month's spend per project against its budget, with the thresholds crossed."""
    from labstream.ops.budget import budget_alerts, load_budgets, month_spend
    from labstream.ops.ledger import costs_table, refresh

    settings = Settings()
    path = file or (Path(settings.budgets) if settings.budgets else None)
    if path is None:
        raise ConfigError("no budgets file; give --file budgets.toml or set LABSTREAM_BUDGETS")
    refresh(settings)
    spend = month_spend(costs_table(settings), time.time())
    alerts = {a.project: a for a in budget_alerts(spend, load_budgets(path))}
    rows = []
    for name, b in sorted(load_budgets(path).items()):
        a = alerts.get(name)
        rows.append(
            {
                "project": name,
                "spent_usd": spend.get(name, 0.0),
                "budget_usd": b.monthly_usd,
                "threshold_crossed": a.threshold if a else None,
                "severity": a.severity if a else "ok",
            }
        )
    _print(rows, fmt, "budgets this month (USD)")


@app.command()
def reconcile(
    export: Path = typer.Argument(..., help="cloud billing export CSV (AWS CUR or Google Cloud)"),
    tolerance: float = typer.Option(0.02, help="difference accepted, as a fraction of the bill"),
    fmt: FormatOpt = "table",
) -> None:
    """Compare labstream's cost attribution per project with a cloud billing export."""
    from labstream.ops.cost import rollup
    from labstream.ops.ledger import costs_table, refresh
    from labstream.ops.reconcile import read_billing_export
    from labstream.ops.reconcile import reconcile as compare

    settings = Settings()
    refresh(settings)
    attributed = {r["project"]: r["cost_usd"] for r in rollup(costs_table(settings), "project")}
    _print(compare(attributed, read_billing_export(export), tolerance), fmt, "attribution vs bill (USD)")


@app.command()
def slo(fmt: FormatOpt = "table") -> None:
    """Each pipeline's turnaround SLOs: error budget left over 30 days, burn rates, alerts firing."""
    from labstream.ops.ledger import refresh, turnaround_table
    from labstream.ops.slo import WINDOWS, BurnRateMonitor, burn_rate, outcomes, parse_slo, slo_clocks
    from labstream.pipelines import get_contract

    settings = Settings()
    refresh(settings)
    clocks = turnaround_table(settings).to_pylist()
    now = time.time()
    out = []
    for pipeline in sorted({r["pipeline"] for r in clocks} - {""}):
        for text in get_contract(pipeline).slos:
            objective = parse_slo(pipeline, text)
            entities = slo_clocks(objective, clocks)
            monitor = BurnRateMonitor(objective, lambda: now)
            budget = monitor.error_budget(entities)
            seen = outcomes(objective, entities, now)
            row: dict[str, object] = {"pipeline": pipeline, "slo": text, **budget}
            _, long_w, short_w, _ = WINDOWS[0]  # the fast-burn page: 1 h and 5 min
            row["burn_1h"] = burn_rate(objective, seen, now, long_w)
            row["burn_5m"] = burn_rate(objective, seen, now, short_w)
            row["alerts"] = ", ".join(
                f"{a.severity} ({a.long_window_s / 3600:g} h)" for a in monitor.alerts(entities)
            )
            out.append(row)
    _print(out, fmt, "turnaround SLOs")


@app.command()
def maintain(
    min_files: int = typer.Option(32, min=2, help="compact a table once it holds this many files"),
    retention_hours: int = typer.Option(
        168, min=1, help="vacuum files compaction replaced longer ago than this (time travel inside it)"
    ),
    dry_run: bool = typer.Option(False, "--dry-run", help="say what it would compact and vacuum"),
    fmt: FormatOpt = "table",
) -> None:
    """Compact the lake's small files and vacuum the ones compaction replaced (watch does it hourly)."""
    from labstream.lake import open_lake
    from labstream.ops.maintenance import maintain as run

    lake = open_lake(Settings().lake_url)
    rows = run(lake, min_files=min_files, retention_hours=retention_hours, dry_run=dry_run)
    _print(rows, fmt, "lake maintenance" + (" (dry run: nothing written)" if dry_run else ""))


def register(root: typer.Typer) -> None:
    root.command()(cost)
    root.command()(tat)
    root.add_typer(app, name="ops")
