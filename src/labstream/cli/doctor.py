"""`labstream doctor`: check the configured backends (LABSTREAM_*), one line each; exit 1 if any fails."""

from __future__ import annotations

import typer
from rich.console import Console
from rich.markup import escape

console = Console()


def register(app: typer.Typer) -> None:
    @app.command()
    def doctor(
        require: list[str] = typer.Option(
            [], "--require", help="a Dask worker resource some worker must advertise (GPU, TPU); repeatable"
        ),
        deadline: float = typer.Option(8.0, help="seconds each backend has to answer"),
        migrate: bool = typer.Option(
            False, "--migrate", help="migrate the catalog to the code's schema first"
        ),
    ) -> None:
        """Check the stream, object store, lake, catalog and executor (each Dask worker) of the settings."""
        from labstream.core.settings import Settings
        from labstream.deploy.doctor import run_doctor

        settings = Settings()
        if migrate:
            from labstream.catalog import open_catalog

            open_catalog(settings.catalog_url).upgrade().close()
        checks = run_doctor(settings, require=tuple(require), deadline=deadline)
        for c in checks:
            colour = "green" if c.ok else "red"
            console.print(f"[{colour}]{escape(c.line())}[/{colour}]", soft_wrap=True)
        if not all(c.ok for c in checks):
            raise typer.Exit(1)
