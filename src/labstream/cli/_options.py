"""Options that several command groups take, declared once in Typer's `Annotated` form; a command
gives the default: `fmt: FormatOpt = "table"`."""

from __future__ import annotations

from typing import Annotated

import typer

FormatOpt = Annotated[str, typer.Option("--format", "-f", help="table | csv | json")]
