"""Stopping a server or helper process the tests and benchmarks started: politely, then for sure."""

from __future__ import annotations

import subprocess

__all__ = ["stop_process"]


def stop_process(proc: subprocess.Popen[bytes], timeout: float = 10.0, *, terminate: bool = True) -> None:
    """SIGTERM (unless `terminate` is False: the process was asked to stop another way), wait up to
    `timeout` s, then SIGKILL: never hangs longer than about 2 x timeout, never leaves a zombie."""
    if proc.poll() is None and terminate:
        proc.terminate()
    try:
        proc.wait(timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout)
