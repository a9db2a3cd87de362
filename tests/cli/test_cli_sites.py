"""`labstream sites check|place`: a newcomer's view of the sites file, and a refusal as one line."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from labstream.cli.main import app

SITES = """
[sites.edge-lab]
region = "eu-west-1"
jurisdiction = "EU"
role = "edge"
executor = "dask://edge:8786"
[sites.edge-lab.classes.gpu]
cpu = 16
memory_mb = 65536
gpu = { A10G = 1 }

[sites.cloud-us]
region = "us-east-1"
jurisdiction = "US"
[sites.cloud-us.classes.h100]
cpu = 32
memory_mb = 262144
gpu = { H100 = 8 }
"""


def test_check_and_place_and_a_refusal(tmp_path: Path) -> None:
    f = tmp_path / "sites.toml"
    f.write_text(SITES)
    res = CliRunner().invoke(app, ["sites", "check", str(f)])
    assert res.exit_code == 0, res.output
    assert "edge-lab" in res.output and "1xA10G" in res.output and "USD/h" in res.output
    res = CliRunner().invoke(
        app, ["sites", "place", str(f), "--regions", "eu-west-1", "--gpu", "1", "--data-site", "edge-lab"]
    )
    assert res.exit_code == 0, res.output
    assert "site=edge-lab class=gpu" in res.output and "data-local at edge-lab" in res.output
    res = CliRunner().invoke(
        app, ["sites", "place", str(f), "--regions", "eu-west-1", "--gpu-type", "H100", "--gpu", "1"]
    )
    assert res.exit_code == 2 and "Traceback" not in res.output
    errors = [line for line in res.output.splitlines() if line.startswith("error: ")]
    assert len(errors) == 1 and "(resources)" in errors[0] and "add a compute class" in errors[0]
