"""A stage that keeps failing (here: a damaged Delta log) stops `watch --idle-exit` with one clear line
naming the table, instead of running forever (found by the hostile corpus)."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from labstream.cli.main import app


def test_damaged_delta_log_stalls_watch_with_a_clear_error(home: Path, tmp_path: Path, watch_cli) -> None:
    inbox = tmp_path / "in"
    inbox.mkdir()
    (inbox / "a.txt").write_text("a\n")
    watch_cli(inbox, "--pipeline", "filestats")
    first = home / "lake" / "files" / "_delta_log" / "00000000000000000000.json"
    first.write_text("garbage{{{")
    (inbox / "b.txt").write_text("b\n")
    res = CliRunner().invoke(app, ["watch", str(inbox), "--idle-exit", "3", "--settle", "0.1"])
    assert res.exit_code == 2, res.output
    assert "stalled: no progress" in res.output
    assert f"lake table 'files' at {home / 'lake' / 'files'} is unreadable" in res.output
    assert "Traceback" not in res.output
