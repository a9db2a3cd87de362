"""The SQLite header check never cancels the locks of the process's own live connections (issue 12).

POSIX drops every lock a process holds on a file when it closes any descriptor of that file. A header
check done with open()/close() beside an open WAL connection left that connection without its shared
lock; another process closing its last connection then checkpointed and deleted the WAL and -shm under
it ("disk I/O error", "file is not a database"): the bug a governed run followed by a sign-off hit.
"""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from labstream.catalog.engine import make_engine
from labstream.core.sqlite_files import sqlite_file_problem

OTHER_PROCESS = """
import sqlite3, sys
c = sqlite3.connect(sys.argv[1])
for _ in range(20):
    c.execute("INSERT INTO t VALUES (2)")
    c.commit()
c.close()  # its last connection: it checkpoints and deletes the WAL unless someone else holds a lock
"""


@pytest.mark.parametrize("engine_kw", [{}, {"driver_transactions": True}])
def test_header_check_beside_a_live_connection_keeps_its_locks(tmp_path: Path, engine_kw) -> None:  # type: ignore[no-untyped-def]
    db = tmp_path / "catalog.db"
    engine = make_engine(f"sqlite:///{db}", **engine_kw)
    with engine.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE t (x INTEGER)")
        conn.exec_driver_sql("INSERT INTO t VALUES (1)")
    assert sqlite_file_problem(db) is None  # a live, pooled connection: the file is not opened again
    subprocess.run([sys.executable, "-c", OTHER_PROCESS, str(db)], check=True, timeout=60)
    assert (tmp_path / "catalog.db-wal").exists()  # not deleted: this process still holds its lock
    for _ in range(3):
        with engine.begin() as conn:
            conn.exec_driver_sql("INSERT INTO t VALUES (3)")
    with engine.connect() as conn:
        assert conn.exec_driver_sql("SELECT count(*) FROM t").scalar() == 1 + 20 + 3
    engine.dispose()
    with sqlite3.connect(db) as fresh:
        assert fresh.execute("PRAGMA integrity_check").fetchone() == ("ok",)


def test_a_file_not_open_here_is_still_checked(tmp_path: Path) -> None:
    garbage = tmp_path / "stream.db"
    garbage.write_bytes(b"not a database at all" * 10)
    assert sqlite_file_problem(garbage) == "is not an SQLite database (garbage or overwritten)"


def test_a_short_file_with_its_wal_beside_it_is_a_checkpoint_cut_short_not_truncation(tmp_path: Path) -> None:
    """A process SIGKILLed mid-checkpoint leaves page 1 (with the new page count) written before the later
    pages; the WAL still holds them and SQLite replays it on the next open (seen in the SIGKILL chaos test).
    Without a WAL the same short file is truncated."""
    db = tmp_path / "catalog.db"
    con = sqlite3.connect(db)
    con.execute("CREATE TABLE t (x BLOB)")
    con.executemany("INSERT INTO t VALUES (?)", [(b"x" * 4000,)] * 50)
    con.commit()
    con.close()
    size = db.stat().st_size
    with open(db, "r+b") as fh:
        fh.truncate(size // 2)
    assert "is truncated" in str(sqlite_file_problem(db))
    Path(f"{db}-wal").write_bytes(b"\0" * 4096)
    assert sqlite_file_problem(db) is None
