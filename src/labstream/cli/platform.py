"""Platform commands: demo, watch, sql, lineage, status."""

from __future__ import annotations

import sys
from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table

from labstream.core.errors import LabstreamError
from labstream.core.settings import Settings

console = Console()


def _fail(err: Exception) -> typer.Exit:
    console.print(f"[red]error:[/red] {err}")
    return typer.Exit(2)


def register(app: typer.Typer) -> None:
    from labstream.cli import demo as demo_cmd
    from labstream.cli import watch as watch_cmd

    app.command()(demo_cmd.demo)
    app.command()(watch_cmd.watch)

    @app.command()
    def sql(
        query: str = typer.Argument(..., help="a read-only query; every lake table is a view"),
        fmt: str = typer.Option("table", "--format", "-f", help="table | csv | json | parquet"),
        output: Path | None = typer.Option(None, "--output", "-o", help="write to this file"),
        max_rows: int = typer.Option(200, help="rows shown in the human table"),
    ) -> None:
        """Query every lake table with DuckDB."""
        from labstream.cli.render import format_table
        from labstream.lake import LakeSQL, open_lake

        try:
            result = LakeSQL(open_lake(Settings().lake_url)).query(query)
            text = format_table(result, fmt, path=output, max_rows=max_rows)
        except LabstreamError as err:
            raise _fail(err) from err
        if output is None:
            if isinstance(text, bytes):
                sys.stdout.buffer.write(text)
            else:
                sys.stdout.write(text)

    @app.command()
    def lineage(
        ident: str = typer.Argument(..., help="a lineage id (a row's lineage_id), an object URI or a sha256"),
        as_json: bool = typer.Option(False, "--json", help="print JSON"),
    ) -> None:
        """Walk from a row or object back to the instrument file."""
        from labstream.cli.lineage_view import lineage_chain, render_chain

        try:
            chain = lineage_chain(Settings(), ident)
        except LabstreamError as err:
            raise _fail(err) from err
        render_chain(chain, as_json=as_json, console=console)

    @app.command()
    def status() -> None:
        """Topics and consumer lag, lake tables, ingest and quarantine counts."""
        from labstream.cli.status_view import render_status

        render_status(Settings(), console)


def kv_table(title: str, rows: list[tuple[str, object]]) -> Table:
    t = Table(title=title, show_header=False)
    for k, v in rows:
        t.add_row(k, str(v))
    return t
