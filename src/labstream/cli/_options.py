"""Options declared once: those several command groups take, in Typer's `Annotated` form (a command
gives the default: `fmt: FormatOpt = "table"`), and options made from settings declared elsewhere."""

from __future__ import annotations

from typing import Annotated, Any

import typer

FormatOpt = Annotated[str, typer.Option("--format", "-f", help="table | csv | json")]


def read_option(name: str) -> Any:
    """`phenomics profile`'s option of one read setting: its default and help are the setting's
    (labstream.phenomics.read_settings.ReadOptions)."""
    from labstream.phenomics.read_settings import ReadOptions

    setting = ReadOptions.model_fields[name]
    return typer.Option(setting.default, "--" + name.replace("_", "-"), help=setting.description)
