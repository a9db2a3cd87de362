"""wes-service's `wes-client` (its own venv) against the server: --info, --list, --get and --log, whose
run_log.stderr it fetches as a URL."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from conftest import World

pytestmark = [pytest.mark.integration, pytest.mark.slow]


@pytest.fixture(scope="module")
def wes_client(tmp_path_factory: pytest.TempPathFactory) -> str:
    venv = tmp_path_factory.mktemp("wes-client") / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120)
    pip = subprocess.run([str(venv / "bin" / "pip"), "install", "-q", "wes-service==5.0"],
                         capture_output=True, text=True, timeout=300)  # fmt: skip
    if pip.returncode != 0:
        pytest.skip(f"wes-service could not be installed: {pip.stderr[-300:]}")
    return str(venv / "bin" / "wes-client")


def _run(exe: str, server: str, token: str, *args: str) -> subprocess.CompletedProcess[str]:
    host = server.removeprefix("http://")
    env = {**os.environ, "WES_API_HOST": host, "WES_API_PROTO": "http", "WES_API_AUTH": f"Bearer {token}"}
    return subprocess.run([exe, *args], capture_output=True, text=True, env=env, timeout=120)


def test_wes_client_info_list_get_log(server: str, world: World, wes_client: str) -> None:
    token = world.tokens["viewer_alpha"]
    info = _run(wes_client, server, token, "--info")
    assert info.returncode == 0, info.stderr
    assert "supported_wes_versions" in info.stdout
    listed = _run(wes_client, server, token, "--list")
    assert listed.returncode == 0, listed.stderr
    run = world.runs["alpha"][0]
    assert run in listed.stdout and world.runs["beta"][0] not in listed.stdout
    got = _run(wes_client, server, token, f"--get={run}")
    assert got.returncode == 0, got.stderr
    doc = json.loads(got.stdout)
    assert doc["run_id"] == run and doc["run_log"]["stderr"].endswith(f"/ga4gh/wes/v1/runs/{run}/stderr")
    log = _run(wes_client, server, token, f"--log={run}")
    assert log.returncode == 0, log.stderr
    other = _run(wes_client, server, token, f"--get={world.runs['beta'][0]}")
    assert other.returncode != 0 or "404" in other.stdout + other.stderr
