"""`labstream demo`: the README's main job (filled in as the pipelines land)."""

from __future__ import annotations

import typer


def demo() -> None:
    """Stream a simulated plate and sequencing run through the platform and print what it found."""
    typer.echo("demo: not yet wired")
    raise typer.Exit(1)
