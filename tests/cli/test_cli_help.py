"""Every command's summary is one line: the group listings (`labstream --help`) print it with its line
breaks kept, so a wrapped first paragraph shows as a sentence cut in two."""

from __future__ import annotations

import inspect

import click
import typer

from labstream.cli.main import app


def _commands(cmd: click.Command, path: str) -> list[tuple[str, click.Command]]:
    out = [(path, cmd)]
    if isinstance(cmd, click.Group):
        for name, sub in cmd.commands.items():
            out += _commands(sub, f"{path} {name}")
    return out


def test_every_command_summary_is_one_line() -> None:
    commands = _commands(typer.main.get_command(app), "labstream")
    assert len(commands) > 60
    wrapped = [path for path, cmd in commands if "\n" in inspect.cleandoc(cmd.help or "").split("\n\n")[0]]
    assert wrapped == [], (
        f"first paragraph of the help wraps: {wrapped}; end it at the line's end and go on after a blank line"
    )
