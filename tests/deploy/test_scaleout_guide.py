"""docs/scale-out.md, run as written: every `bash` block in order, in one shell (a broker, an S3 API
server, PostgreSQL, a Dask scheduler with a CPU and a GPU worker, doctor, watch, sql, stop). Then the
same files through the embedded defaults must give the same lake rows."""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
GUIDE_MD = ROOT / "docs" / "scale-out.md"

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def guide_script() -> str:
    blocks = re.findall(r"```bash\n(.*?)```", GUIDE_MD.read_text(), flags=re.S)
    assert len(blocks) == 6, "the guide's runnable steps changed: update this test's expectations"
    return "\n".join(blocks)


def free_ports(n: int) -> list[int]:
    socks = [socket.socket() for _ in range(n)]
    for s in socks:
        s.bind(("127.0.0.1", 0))
    ports = [int(s.getsockname()[1]) for s in socks]
    for s in socks:
        s.close()
    return ports


def clean_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LABSTREAM_", "AWS_"))}
    env["PATH"] = f"{Path(sys.executable).parent}:{env['PATH']}"
    env["PYTHONPATH"] = os.pathsep.join(p for p in sys.path if p)
    return {**env, **extra}


def test_the_scaleout_guide_runs_and_matches_the_embedded_defaults() -> None:
    guide = Path(tempfile.mkdtemp(prefix="labstream-guide-"))
    kafka, s3, pg, dask = free_ports(4)
    env = clean_env(
        VENV=sys.prefix,
        GUIDE=str(guide),
        KAFKA_PORT=str(kafka),
        S3_PORT=str(s3),
        PG_PORT=str(pg),
        DASK_PORT=str(dask),
    )
    proc = subprocess.Popen(
        ["bash", "-euo", "pipefail", "-c", guide_script()],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    try:
        out, _ = proc.communicate(timeout=240)
        assert proc.returncode == 0, out[-4000:] + _logs(guide)
        doctor = [line for line in out.splitlines() if line.startswith(("ok", "FAIL"))]
        assert doctor and all(line.startswith("ok") for line in doctor[-7:]), out
        assert any(line.startswith("ok   worker gpu-0") for line in doctor), out
        assert f"tasks ran on: dask://127.0.0.1:{dask} (" in out, out
        scaled = (guide / "files.csv").read_text()
        assert scaled.count("plate") == 3, scaled

        # the same files on the embedded defaults (SQLite, local files, process pool)
        embedded = clean_env(LABSTREAM_HOME=str(guide / "embedded"))
        labstream = [sys.executable, "-m", "labstream.cli.main"]
        subprocess.run(
            [*labstream, "watch", str(guide / "inbox"), "--pipeline", "filestats", "--idle-exit", "3"],
            env=embedded,
            check=True,
            capture_output=True,
            timeout=120,
        )
        sql = "SELECT name, sha256, size FROM files ORDER BY name"
        got = subprocess.run(
            [*labstream, "sql", sql, "--format", "csv"],
            env=embedded,
            check=True,
            capture_output=True,
            text=True,
        )
        assert got.stdout == scaled
    finally:
        if proc.poll() is None:
            proc.kill()
        try:
            os.killpg(proc.pid, signal.SIGTERM)  # anything the guide started and did not stop
        except ProcessLookupError:
            pass
        pgdata = guide / "pg"
        if (pgdata / "postmaster.pid").exists():
            pg_ctl = sorted(Path("/usr/lib/postgresql").glob("*/bin/pg_ctl"))[-1]
            as_pg = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
            subprocess.run(
                [*as_pg, str(pg_ctl), "-D", str(pgdata), "-m", "immediate", "-w", "stop"], check=False
            )
        shutil.rmtree(guide, ignore_errors=True)


def _logs(guide: Path) -> str:
    return "".join(
        f"\n--- {p.name}\n{p.read_text(errors='replace')[-1500:]}" for p in sorted(guide.glob("*.log"))
    )
