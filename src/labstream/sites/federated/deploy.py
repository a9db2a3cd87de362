"""Run a federation with Flower's deployment engine on one machine: a SuperLink, one SuperNode per site
and `flwr run`, all processes on 127.0.0.1 (no Ray, no simulation engine).

Each SuperNode reaches the SuperLink through its own relay (labstream.testing-style CuttableLink), so
everything a site sends or receives crosses a boundary that is counted and, on request, recorded:
what the caller checks to say that no row left a site.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from labstream.core.errors import ComputeError, MissingDependencyError
from labstream.sites.link import CuttableLink

__all__ = ["FederatedSite", "FederationResult", "run_federation"]

_PYPROJECT = """[build-system]
requires = ["hatchling"]
build-backend = "hatchling.build"

[project]
name = "labstream-fl"
version = "1.0.0"
dependencies = []

[tool.hatch.build.targets.wheel]
packages = ["."]

[tool.flwr.app]
publisher = "labstream"

[tool.flwr.app.components]
serverapp = "labstream_fl:server"
clientapp = "labstream_fl:client"

[tool.flwr.app.config]
sites = 3
rounds = 10
epochs = 5
lr = 0.5
test = ""
out = ""
dp_noise = 0.0
dp_clip = 1.0
dp_delta = 1e-5
dp_moments_noise = 0.0
bounds = ""
"""


@dataclass(frozen=True)
class FederatedSite:
    name: str
    lake: str
    table: str = "training_rows"


@dataclass
class FederationResult:
    rounds: int
    seconds: float
    accuracy: dict[int, float]
    model_path: Path
    bytes_by_site: dict[str, int]
    traffic: dict[str, bytes] = field(repr=False, default_factory=dict)
    train_metrics: dict[str, Any] = field(default_factory=dict)
    privacy: dict[str, float] | None = None  # noise_multiplier, clip, delta, epsilon when DP was on
    lineage: list[dict[str, Any]] = field(
        default_factory=list
    )  # per round and site: lake, table, version, rows
    # secure=True: per round, how many distinct parameter vectors the server's strategy was handed
    distinct_vectors_seen: dict[int, int] = field(default_factory=dict)


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait_port(port: int, proc: subprocess.Popen[bytes], what: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise ComputeError(f"{what} exited with code {proc.returncode}; see its log")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=0.2):
            return
        time.sleep(0.1)
    raise ComputeError(f"{what} did not listen on 127.0.0.1:{port} within {timeout:.0f} s")


def _tool(name: str) -> str:
    path = Path(sys.executable).parent / name
    if path.exists():
        return str(path)
    found = shutil.which(name)
    if found is None:
        raise MissingDependencyError("flwr", "sites")
    return found


def run_federation(
    sites: list[FederatedSite],
    *,
    workdir: Path,
    test_npz: Path,
    rounds: int = 10,
    epochs: int = 5,
    lr: float = 0.5,
    record_traffic: bool = False,
    dp_noise: float = 0.0,
    dp_clip: float = 1.0,
    dp_delta: float = 1e-5,
    dp_moments_noise: float = 2.0,
    bounds_npz: Path | None = None,
    secure: bool = False,
    timeout: float = 300,
) -> FederationResult:
    """Train across `sites` (each reading only its own lake table) and return the model and numbers.

    With `dp_noise` > 0 the moments round is noised too (`dp_moments_noise`; it needs public feature
    bounds, `bounds_npz` with `lo` and `hi`) and the reported epsilon covers everything sent.
    `secure=True` runs the SecAgg+ app instead (flower_secagg.py: the server learns only sums; it needs
    `bounds_npz` to scale the moments; no DP)."""
    workdir.mkdir(parents=True, exist_ok=True)
    app = workdir / "app"
    app.mkdir(exist_ok=True)
    (app / "pyproject.toml").write_text(_PYPROJECT)
    module = "flower_secagg" if secure else "flower_app"
    (app / "labstream_fl.py").write_text(
        f"from labstream.sites.federated.{module} import client, server\n\n__all__ = ['client', 'server']\n"
    )
    home = workdir / "flwr-home"
    home.mkdir(exist_ok=True)
    fleet, control, appio = _port(), _port(), _port()
    (home / "config.toml").write_text(
        f'[superlink]\ndefault = "labstream"\n\n[superlink.labstream]\naddress = "127.0.0.1:{control}"\n'
        "insecure = true\n"
    )
    src = str(Path(__file__).resolve().parents[3])
    env = {
        **os.environ,
        "FLWR_HOME": str(home),
        "PYTHONPATH": os.pathsep.join([src, os.environ.get("PYTHONPATH", "")]),
        # the SuperLink and SuperNodes start flower-superexec / flwr-* helpers by name
        "PATH": os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")]),
    }
    out = workdir / "result.json"
    procs: list[subprocess.Popen[bytes]] = []
    with contextlib.ExitStack() as stack:

        def start(args: list[str], log: str) -> subprocess.Popen[bytes]:
            fh = stack.enter_context((workdir / log).open("wb"))
            p = subprocess.Popen(  # own process group: stopping it stops the helpers it spawned too
                args, env=env, stdout=fh, stderr=subprocess.STDOUT, cwd=workdir, start_new_session=True
            )
            procs.append(p)
            return p

        stack.callback(_stop_all, procs)
        link = start(
            [
                _tool("flower-superlink"),
                "--insecure",
                f"--fleet-api-address=127.0.0.1:{fleet}",
                f"--control-api-address=127.0.0.1:{control}",
                f"--serverappio-api-address=127.0.0.1:{appio}",
            ],
            "superlink.log",
        )
        _wait_port(control, link, "flower-superlink")
        _wait_port(fleet, link, "flower-superlink")
        relays = {
            s.name: stack.enter_context(CuttableLink(("127.0.0.1", fleet), record=record_traffic))
            for s in sites
        }
        for s in sites:
            start(
                [
                    _tool("flower-supernode"),
                    "--insecure",
                    f"--superlink=127.0.0.1:{relays[s.name].port}",
                    f"--clientappio-api-address=127.0.0.1:{_port()}",
                    f'--node-config=site="{s.name}" lake="{s.lake}" table="{s.table}"',
                ],
                f"supernode-{s.name}.log",
            )
        config = (
            f'sites={len(sites)} rounds={rounds} epochs={epochs} lr={lr} test="{test_npz}" out="{out}" '
            f"dp_noise={float(dp_noise)} dp_clip={float(dp_clip)} dp_delta={float(dp_delta)} "
            f'dp_moments_noise={float(dp_moments_noise)} bounds="{bounds_npz or ""}"'
        )
        t0 = time.monotonic()
        submit = start(
            [_tool("flwr"), "run", str(app), "labstream", "--run-config", config, "--stream"], "flwr-run.log"
        )
        while not out.exists() and time.monotonic() - t0 < timeout and submit.poll() in (None, 0):
            time.sleep(0.2)
        if not out.exists():
            tail = (workdir / "flwr-run.log").read_text(errors="replace")[-1500:]
            raise ComputeError(
                f"the federated run wrote no result in {time.monotonic() - t0:.0f} s "
                f"(flwr run: {submit.poll()}); its log ends: {tail}"
            )
        res = json.loads(out.read_text())
        return FederationResult(
            rounds=res["rounds"],
            seconds=res["seconds"],
            accuracy={int(k): v for k, v in res["accuracy"].items()},
            model_path=out.with_suffix(".npz"),
            bytes_by_site={n: r.bytes_total for n, r in relays.items()},
            traffic={n: r.recorded() for n, r in relays.items()},
            train_metrics=res["train_metrics"],
            privacy=res.get("privacy"),
            lineage=res.get("lineage", []),
            distinct_vectors_seen={int(k): v for k, v in res.get("distinct_vectors_seen", {}).items()},
        )
    raise AssertionError("unreachable")  # pragma: no cover


def _signal_group(p: subprocess.Popen[bytes], sig: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(p.pid, sig)  # the group of a process we started in its own session


def _stop_all(procs: list[subprocess.Popen[bytes]]) -> None:
    for p in reversed(procs):
        _signal_group(p, signal.SIGTERM)
    for p in reversed(procs):
        try:
            p.wait(timeout=10)
        except subprocess.TimeoutExpired:
            _signal_group(p, signal.SIGKILL)
            p.wait()
    time.sleep(0.2)
    for p in procs:  # helpers that outlived their parent (flwr-serverapp, flwr-clientapp)
        _signal_group(p, signal.SIGKILL)
