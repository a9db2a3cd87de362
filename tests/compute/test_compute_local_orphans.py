"""A pool worker leaves when the process that owns the pool is SIGKILLed (an OOM kill of `watch`), with
spawn and forkserver starts: before, it waited on its task queue forever, holding its memory."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time

import psutil
import pytest

OWNER = textwrap.dedent(
    """
    import os, sys, time
    from labstream.compute.local import LocalExecutor
    ex = LocalExecutor(sys.argv[1])
    print(ex.submit(os.getpid).result(timeout=120), flush=True)
    time.sleep(600)
    """
)


def _gone(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


@pytest.mark.parametrize("start", ["fork", "spawn", "forkserver"])
def test_workers_leave_when_their_owner_is_killed(start: str) -> None:
    owner = subprocess.Popen(
        [sys.executable, "-c", OWNER, f"local?cpu=1&start={start}"],
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)},
    )
    try:
        worker = int(owner.stdout.readline())  # type: ignore[union-attr]
        assert worker != owner.pid and psutil.pid_exists(worker)
        owner.send_signal(signal.SIGKILL)
        owner.wait(10)
        deadline = time.monotonic() + 20
        while not _gone(worker) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert _gone(worker), f"{start} worker {worker} outlived its killed owner"
    finally:
        if owner.poll() is None:
            owner.kill()
