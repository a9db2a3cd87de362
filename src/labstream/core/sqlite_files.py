"""Is a file a whole SQLite database? One cheap look at its header, before a backend opens it.

Why: SQLite opens a garbage or half-truncated file without complaint and fails later, deep in some
query, with "file is not a database" or "database disk image is malformed" and no file name. The
embedded stream and the catalog both keep their state in SQLite files, so both ask this first and
raise their own error naming the file and what to do. Reads 100 bytes; never the whole file.

An empty (0-byte) or missing file is a new database, not a problem here: whether an empty stream or
catalog is expected is for the start-up consistency check (labstream.ingest.consistency) to say.

A file this process already has open in SQLite (`opened_by_sqlite`) is never looked at again: POSIX
drops every lock a process holds on a file when it closes ANY descriptor of that file, so a plain
open()/close() of the database here silently cancels the locks of the process's live SQLite
connections (SQLite's "How To Corrupt An SQLite Database File", 2.2). Another process closing its last
connection then believes it is alone, checkpoints and deletes the WAL and -shm under them: "disk I/O
error", "database disk image is malformed", a WAL rewritten with a zeroed header. Opening a second
catalog or stream handle in a process (a Governance and a runner, a CLI command in a test) did that.
"""

from __future__ import annotations

import os
from pathlib import Path

_MAGIC = b"SQLite format 3\x00"


_OPENED: set[str] = set()  # database files this process opened with SQLite (real paths)


def opened_by_sqlite(path: str | Path) -> None:
    """Record that this process opened `path` with SQLite: `sqlite_file_problem` leaves it alone from
    now on (see the module docstring). Call it from the connect hook of every SQLite connection."""
    _OPENED.add(os.path.realpath(path))


def sqlite_file_problem(path: str | Path) -> str | None:
    """None when `path` is missing, empty, a plausible SQLite database, or a database this process
    already has open in SQLite (not read again: that would cancel its locks); else what is wrong."""
    if os.path.realpath(path) in _OPENED:
        return None
    try:
        size = os.path.getsize(path)
        if size == 0:
            return None
        with open(path, "rb") as fh:
            head = fh.read(100)
    except FileNotFoundError:
        return None
    except OSError as err:
        return f"cannot be read ({err.strerror})"
    if len(head) < 100 or not head.startswith(_MAGIC):
        return "is not an SQLite database (garbage or overwritten)"
    page_size = int.from_bytes(head[16:18], "big")
    page_size = 65536 if page_size == 1 else page_size
    pages = int.from_bytes(head[28:32], "big")
    valid = head[92:96] == head[24:28]  # the in-header size is valid only when these counters agree
    if page_size < 512 or page_size & (page_size - 1):
        return "has a damaged SQLite header"
    # a WAL beside it: a checkpoint cut short (a SIGKILLed process) writes page 1's new size before the
    # later pages; the WAL still holds them, and SQLite's recovery replays it on the next open
    wal = Path(f"{path}-wal")
    if valid and pages and size < pages * page_size and not (wal.exists() and wal.stat().st_size > 0):
        return f"is truncated ({size:,} bytes of the {pages * page_size:,} its header declares)"
    return None


__all__ = ["opened_by_sqlite", "sqlite_file_problem"]
