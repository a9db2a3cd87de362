"""The `labstream` command: one entry point, one module per command group."""

from __future__ import annotations

import typer

app = typer.Typer(no_args_is_help=True, add_completion=False, help="labstream: instrument to insight.")


def _register() -> None:
    from labstream.cli import platform

    platform.register(app)
    for name in ("phenomics", "genomics", "admin", "audit"):
        try:
            module = __import__(f"labstream.cli.{name}", fromlist=["app"])
        except ModuleNotFoundError as err:
            if err.name != f"labstream.cli.{name}":
                raise
            continue
        app.add_typer(module.app, name=name)
    try:
        from labstream.cli import serve
    except ModuleNotFoundError as err:
        if err.name != "labstream.cli.serve":
            raise
    else:
        serve.register(app)


_register()

if __name__ == "__main__":
    app()
