"""Platform commands: demo, watch, sql, lineage, status."""

from __future__ import annotations

import typer


def register(app: typer.Typer) -> None:
    @app.command()
    def demo() -> None:
        """Stream a simulated plate and sequencing run through the platform and print what it found."""
        typer.echo("demo: not yet implemented")
        raise typer.Exit(1)
