"""Run one bench's child measurement on the code of a git ref (the named baseline) and on this tree, each
size in its own process, so both are measured in the same run on the same machine."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def baseline_src(ref: str, into: Path) -> Path:
    """`src/` of `ref`, extracted from `git archive` into `into`."""
    archive = into / "src.tar"
    subprocess.run(["git", "-C", str(REPO), "archive", "-o", str(archive), ref, "src"], check=True)
    with tarfile.open(archive) as tar:
        tar.extractall(into, filter="data")
    return into / "src"


def old_and_new(script: str, sizes: list[int], ref: str, *child_args: str) -> dict[str, dict[str, dict]]:
    """{"old": {size: result}, "new": {...}}: `script --child SIZE *child_args` run with the baseline's
    and this tree's `src/` on PYTHONPATH (LABSTREAM_ settings cleared); each prints its result as JSON."""
    out: dict[str, dict[str, dict]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        trees = {"old": baseline_src(ref, Path(tmp)), "new": REPO / "src"}
        for name, src in trees.items():
            env = {k: v for k, v in os.environ.items() if not k.startswith("LABSTREAM_")}
            env["PYTHONPATH"] = str(src)
            per = {}
            for n in sizes:
                cmd = [sys.executable, script, "--child", str(n), *child_args]
                run = subprocess.run(cmd, check=True, capture_output=True, text=True, env=env)
                per[str(n)] = json.loads(run.stdout.strip().splitlines()[-1])
            out[name] = per
    return out
