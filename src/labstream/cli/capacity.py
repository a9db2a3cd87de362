"""`labstream capacity WORKLOAD`: nodes, GPUs, broker partitions, storage per tier and dollars per week
for a weekly workload, from the rates this code's benchmarks measured (labstream.ops.capacity)."""

from __future__ import annotations

import json
from importlib import resources
from pathlib import Path

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

console = Console()


def _number(value: float) -> str:
    if value == int(value) and abs(value) < 1e15:
        return f"{int(value):,}"
    return f"{value:,.2f}" if abs(value) >= 1 else f"{value:.3g}"


def register(app: typer.Typer) -> None:
    @app.command()
    def capacity(
        workload: str = typer.Argument(
            ..., help="a workload TOML file, or a shipped one: cell-painting-2m-wells, clinical-500-genomes"
        ),
        bench: list[Path] = typer.Option(
            [], "--bench", help="JSON printed by bench/phenomics.py, genomics.py or stream.py; repeatable"
        ),
        measured: str = typer.Option(
            "this-machine-2026-12", "--measured", help="the shipped rates to start from (or a TOML path)"
        ),
        region: str = typer.Option("", "--region", help="price-book region (default LABSTREAM_REGION)"),
        price_book: str = typer.Option("", "--price-book", help="price book name or TOML path"),
        policy: str = typer.Option("", "--policy", help="lifecycle policy TOML (default: the shipped one)"),
        fmt: str = typer.Option("table", "--format", "-f", help="table | json"),
    ) -> None:
        """Size a deployment for a week of work.

        Every figure says what it rests on: see the assumptions printed under the table."""
        from labstream.core.errors import InputError
        from labstream.core.settings import Settings
        from labstream.ops.capacity import plan_capacity
        from labstream.ops.capacity_inputs import load_measured, load_workload, rates_from_bench
        from labstream.ops.lifecycle import load_policy
        from labstream.ops.pricebook import load_price_book

        if fmt not in ("table", "json"):
            raise InputError("--format", f"unknown format {fmt!r}", hint="use table or json")
        settings = Settings()
        rates = rates_from_bench(bench, load_measured(measured)) if bench else load_measured(measured)
        policy_path = policy or str(resources.files("labstream.ops") / "policies" / "lab-default.toml")
        plan = plan_capacity(
            load_workload(workload),
            rates,
            load_price_book(price_book or None),
            load_policy(policy_path),
            region=region or settings.region,
        )
        if fmt == "json":
            typer.echo(
                json.dumps(
                    {"workload": plan.workload, "rows": plan.to_dicts(), "assumptions": plan.assumptions},
                    indent=2,
                )
            )
            return
        table = Table(title=f"capacity: {escape(plan.workload)}")
        for col, justify in (("section", "left"), ("quantity", "left"), ("value", "right"), ("unit", "left")):
            table.add_column(col, justify=justify)  # type: ignore[arg-type]
        for section, quantity, value, unit in plan.rows:
            table.add_row(section, quantity, _number(value), escape(unit))
        console.print(table)
        console.print("[bold]assumptions[/bold]")
        for line in plan.assumptions:
            console.print(f"- {escape(line)}", soft_wrap=True)
