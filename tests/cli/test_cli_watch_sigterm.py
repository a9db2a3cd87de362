"""`kill` (SIGTERM: how systemd and Kubernetes stop a service) ends `labstream watch` like Ctrl-C: its
stages and pool close and it prints its summary, exit 0 (before: killed mid-loop, no summary, and the
pool's semaphores leaked)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path


def test_sigterm_stops_watch_cleanly(tmp_path: Path) -> None:
    inbox = tmp_path / "in"
    inbox.mkdir()
    (inbox / "a.txt").write_text("a\n")
    home = tmp_path / "home"
    env = {**os.environ, "LABSTREAM_HOME": str(home), "LABSTREAM_EXECUTOR_URL": "local?cpu=1"}
    cmd = [sys.executable, "-m", "labstream.cli.main", "watch", str(inbox), "--settle", "0.1"]
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.monotonic() + 90
        lake = home / "lake" / "files" / "_delta_log"
        while not (lake.is_dir() and any(lake.glob("*.json"))):  # the file went through the pipeline
            assert proc.poll() is None and time.monotonic() < deadline, "watch ended or never processed a.txt"
            time.sleep(0.2)
        proc.send_signal(signal.SIGTERM)
        out, _ = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, out
    assert "ingested 1, duplicates 0, quarantined 0" in out and "leaked" not in out, out
