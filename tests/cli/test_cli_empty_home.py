"""A fresh home has recorded nothing: the ops, storage, dead-letter and model lists say so in one
line (they printed a blank line or nothing before), while csv and json stay machine-readable and empty."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from labstream.cli.main import app


@pytest.mark.parametrize(
    ("args", "why"),
    [
        (["cost"], "nothing recorded yet"),
        (["tat", "--summary", "--by-project"], "nothing recorded yet"),
        (["ops", "slo"], "nothing recorded yet"),
        (["lifecycle", "plan"], "no object in this home is old enough"),
        (["replay", "--list"], "no dead letters"),
        (["replay"], "no dead letters to replay"),
        (["models", "list"], "no model registered yet"),
        (["audit", "show"], "no audit record yet"),
    ],
)
def test_an_empty_home_says_why_the_report_is_empty(tmp_path: Path, args: list[str], why: str) -> None:
    res = CliRunner().invoke(app, args, env={"LABSTREAM_HOME": str(tmp_path / "home")})
    assert res.exit_code == 0, res.output
    lines = [line for line in res.output.splitlines() if line.strip()]
    assert len(lines) == 1 and why in lines[0], res.output


def test_json_of_an_empty_home_is_an_empty_list(tmp_path: Path) -> None:
    res = CliRunner().invoke(app, ["cost", "--format", "json"], env={"LABSTREAM_HOME": str(tmp_path / "h")})
    assert res.exit_code == 0 and json.loads(res.output) == [], res.output
