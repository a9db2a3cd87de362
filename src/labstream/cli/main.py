"""The `labstream` command: one entry point, one module per command group."""

from __future__ import annotations

import typer

from labstream.cli._boundary import BoundaryGroup

# BoundaryGroup: every user mistake of every command is one red `error: ...` line, exit code 2
# (LABSTREAM_DEBUG=1 shows the traceback); see cli/_boundary.py.
app = typer.Typer(
    suggest_commands=False,
    cls=BoundaryGroup,
    no_args_is_help=True,
    add_completion=False,
    help="labstream: instrument to insight.",
)


def _register() -> None:
    import importlib
    import importlib.util

    from labstream.cli import platform, replay

    platform.register(app)
    replay.register(app)
    for name in (
        "pipelines",
        "phenomics",
        "genomics",
        "cohort",
        "admin",
        "audit",
        "lifecycle",
        "sites",
        "models",
    ):
        if importlib.util.find_spec(f"labstream.cli.{name}") is None:
            continue
        module = importlib.import_module(f"labstream.cli.{name}")
        app.add_typer(module.app, name=name)
    from labstream.cli import capacity, doctor, ops

    ops.register(app)
    doctor.register(app)
    capacity.register(app)
    if importlib.util.find_spec("labstream.cli.serve") is not None:
        from labstream.cli import serve

        serve.register(app)


_register()

if __name__ == "__main__":
    app()
