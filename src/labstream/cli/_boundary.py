"""The CLI's one error boundary: a user mistake is one red line and exit code 2, never a traceback.

Why one boundary at the top and not `try/except` in each command: every command (watch, demo, sql,
genomics, phenomics, admin, ...) raises the same labstream errors, and a command added tomorrow is
covered without remembering to. What counts as a user mistake: any `labstream.core.errors` error (bad
input, configuration, an unreachable executor, refused access), and the OS errors of things the user
named (a missing file, a refused connection). Anything else is a bug and keeps its traceback.
`LABSTREAM_DEBUG=1` re-raises everything, with its traceback, for a bug report.
"""

from __future__ import annotations

import logging
import os
import sys
from typing import Any

import click
import typer
from typer.core import TyperGroup

from labstream.core.errors import LabstreamError

DEBUG_ENV = "LABSTREAM_DEBUG"
USER_OS_ERRORS = (FileNotFoundError, PermissionError, IsADirectoryError, NotADirectoryError, ConnectionError)


def user_message(err: BaseException) -> str | None:
    """The one line to show for a user mistake, or None when `err` is a bug (keep the traceback)."""
    if isinstance(err, (LabstreamError, *USER_OS_ERRORS)) or type(err) is TimeoutError:
        text = " ".join(str(err).split()) or type(err).__name__
        return text if isinstance(err, LabstreamError) else f"{type(err).__name__}: {text}"
    return None


class _CurrentStderr(logging.StreamHandler):  # type: ignore[type-arg]
    """Writes to whatever sys.stderr is when a record is emitted (a test runner may swap it)."""

    @property  # type: ignore[override]
    def stream(self) -> Any:
        return sys.stderr

    @stream.setter
    def stream(self, _value: Any) -> None:
        pass


class _OneLine(logging.Formatter):
    """`warning: message`, one line: a user gets what happened, never a traceback
    (LABSTREAM_DEBUG=1 and the process's own logging keep the details)."""

    def format(self, record: logging.LogRecord) -> str:
        return "warning: " + " ".join(record.getMessage().split())


def show_warnings() -> None:
    """labstream's warnings (a stale index rebuilt, a file quarantined) reach the user as `warning: ...`
    lines on stderr, whatever logging the host process has set up."""
    logger = logging.getLogger("labstream")
    if not any(isinstance(h, _CurrentStderr) for h in logger.handlers):
        handler = _CurrentStderr()
        handler.setLevel(logging.WARNING)
        handler.setFormatter(_OneLine())
        logger.addHandler(handler)
        logger.propagate = False


class BoundaryGroup(TyperGroup):
    """The root command group: runs the command and turns user mistakes (and a subcommand's usage
    errors: an unknown option, a missing argument) into `error: ...`, exit 2."""

    def invoke(self, ctx: click.Context) -> Any:
        show_warnings()
        try:
            return super().invoke(ctx)
        except click.UsageError as err:  # a typo'd option or command: one line, not click's framed box
            see = f" (see `{err.ctx.command_path} --help`)" if err.ctx is not None else ""
            typer.secho(f"error: {err.format_message()}{see}", fg=typer.colors.RED, err=True)
            raise typer.Exit(err.exit_code) from None
        except (click.exceptions.Exit, click.ClickException, click.Abort):
            raise
        except BrokenPipeError:  # `labstream ... | head`: the reader left; nothing to report
            raise typer.Exit(0) from None
        except Exception as err:
            message = user_message(err)
            if message is None or os.environ.get(DEBUG_ENV, "") not in ("", "0"):
                raise
            typer.secho(f"error: {message}", fg=typer.colors.RED, err=True)
            raise typer.Exit(2) from None


__all__ = ["DEBUG_ENV", "BoundaryGroup", "show_warnings", "user_message"]
