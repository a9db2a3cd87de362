"""Which files some process on this host holds open for writing (Linux /proc), for the settle rule.

Why: a watcher (re)started while an instrument is writing finds a half-written file with no close
notification to wait for; if the writer pauses longer than the settle time, the settle rule alone
would ingest a partial version. The kernel knows who has the file open: a file open for writing by
any process is not complete, whatever its size did lately. Elsewhere (no /proc; a writer on another
host of a network mount) the answer is "nobody", and the settle rule decides as before.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

__all__ = ["open_for_writing"]

_PROC = Path("/proc")
_WRITE_MODES = (os.O_WRONLY, os.O_RDWR)


def open_for_writing(paths: Iterable[Path]) -> set[Path]:
    """The subset of `paths` that a process on this host has open for writing (empty without /proc)."""
    wanted: dict[tuple[int, int], Path] = {}
    for p in paths:
        try:
            st = os.stat(p, follow_symlinks=False)
        except OSError:
            continue
        wanted[(st.st_dev, st.st_ino)] = p
    if not wanted or not _PROC.is_dir():
        return set()
    busy: set[Path] = set()
    for pid in os.listdir(_PROC):
        if not pid.isdigit():
            continue
        fd_dir = _PROC / pid / "fd"
        try:
            fds = os.listdir(fd_dir)
        except OSError:  # gone, or not ours to read
            continue
        for fd in fds:
            try:
                st = os.stat(fd_dir / fd)
            except OSError:
                continue
            hit = wanted.get((st.st_dev, st.st_ino))
            if hit is not None and hit not in busy and _writable(_PROC / pid / "fdinfo" / fd):
                busy.add(hit)
    return busy


def _writable(fdinfo: Path) -> bool:
    try:
        for line in fdinfo.read_text().splitlines():
            if line.startswith("flags:"):
                return int(line.split()[1], 8) & os.O_ACCMODE in _WRITE_MODES
    except (OSError, ValueError, IndexError):
        return False
    return False
