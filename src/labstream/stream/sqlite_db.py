"""The SQLite file behind the embedded stream: its schema, URL and one connection with its pragmas."""

from __future__ import annotations

import sqlite3
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qs

from labstream.core.errors import ConfigError, StreamError
from labstream.core.sqlite_files import opened_by_sqlite

SCHEMA = """
CREATE TABLE IF NOT EXISTS topics(
  id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE, partitions INTEGER NOT NULL, retention_ms INTEGER);
CREATE TABLE IF NOT EXISTS partitions(
  topic_id INTEGER NOT NULL, partition INTEGER NOT NULL,
  next_offset INTEGER NOT NULL DEFAULT 0, log_start INTEGER NOT NULL DEFAULT 0,
  PRIMARY KEY(topic_id, partition)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS records(
  topic_id INTEGER NOT NULL, partition INTEGER NOT NULL, offset INTEGER NOT NULL,
  key TEXT, value BLOB NOT NULL, ts INTEGER NOT NULL, headers TEXT);
CREATE UNIQUE INDEX IF NOT EXISTS records_pos ON records(topic_id, partition, offset);
CREATE TABLE IF NOT EXISTS group_offsets(
  grp TEXT NOT NULL, topic_id INTEGER NOT NULL, partition INTEGER NOT NULL, offset INTEGER NOT NULL,
  PRIMARY KEY(grp, topic_id, partition)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS group_members(
  grp TEXT NOT NULL, member TEXT NOT NULL, topics TEXT NOT NULL, heartbeat_ms INTEGER NOT NULL,
  PRIMARY KEY(grp, member)) WITHOUT ROWID;
"""


def now_ms() -> int:
    return int(time.time() * 1000)


def parse_sqlite_url(url: str) -> tuple[Path, dict[str, str]]:
    """`sqlite:///rel.db` -> rel.db, `sqlite:////abs.db` -> /abs.db (SQLAlchemy's convention)."""
    if not url.startswith("sqlite:///"):
        raise ConfigError(f"stream URL {url!r} must look like sqlite:///path/stream.db")
    rest = url[len("sqlite:///") :]
    path, _, query = rest.partition("?")
    if not path:
        raise ConfigError(f"stream URL {url!r} names no file; use sqlite:///path/stream.db")
    opts = {k: v[-1] for k, v in parse_qs(query).items()}
    return Path(path), opts


@dataclass(frozen=True)
class SqliteOptions:
    """What a SqliteStream and its consumers share: the file and its options, parsed from the URL.

    Consumers get this rather than the stream itself, so `sqlite_consumer` need not import `sqlite`."""

    url: str
    path: Path
    synchronous: str
    busy_timeout_ms: int
    session_timeout_ms: int
    batch: int

    @classmethod
    def from_url(cls, url: str) -> SqliteOptions:
        path, opts = parse_sqlite_url(url)
        sync = opts.get("synchronous", "normal").upper()
        if sync not in ("NORMAL", "FULL", "EXTRA", "OFF"):
            raise ConfigError(f"{url}: synchronous must be normal or full, not {sync.lower()!r}")
        try:
            busy = int(opts.get("busy_timeout_ms", 30000))
            session = int(opts.get("session_timeout_ms", 10000))
            batch = max(1, int(opts.get("batch", 5000)))
        except ValueError as err:
            raise ConfigError(f"{url}: numeric option expected ({err})") from err
        return cls(url, path, sync, busy, session, batch)


def unusable_file(path: Path, problem: str) -> StreamError:
    """The one clear error for a stream file SQLite cannot use: which file, what, and what to do."""
    return StreamError(
        f"stream file {path} {problem}; restore it from a backup, or move it aside to start a new "
        "stream (the catalog's start-up check then says what the catalog knows that the stream lost)"
    )


class StreamDb:
    """One SQLite connection with the stream's pragmas; explicit transactions, thread-safe by a lock."""

    def __init__(self, path: Path, synchronous: str, busy_timeout_ms: int) -> None:
        self.path = path
        self.lock = threading.RLock()
        self.conn = sqlite3.connect(
            str(path), isolation_level=None, check_same_thread=False, timeout=busy_timeout_ms / 1000
        )
        opened_by_sqlite(path)  # its header is never read with open() again here (core.sqlite_files)
        self.conn.execute(f"PRAGMA busy_timeout={int(busy_timeout_ms)}")
        self.conn.execute("PRAGMA journal_mode=WAL")
        self.conn.execute(f"PRAGMA synchronous={synchronous}")
        self.conn.execute("PRAGMA journal_size_limit=67108864")

    def write(self, fn, *args):  # type: ignore[no-untyped-def]
        """Run fn(conn, *args) inside BEGIN IMMEDIATE ... COMMIT (rolled back on any error)."""
        with self.lock:
            self.conn.execute("BEGIN IMMEDIATE")
            try:
                result = fn(self.conn, *args)
            except BaseException:
                self.conn.execute("ROLLBACK")
                raise
            self.conn.execute("COMMIT")
            return result

    def topic_row(self, name: str) -> tuple[int, int] | None:
        """(topic id, partitions) of a topic, or None when it does not exist."""
        with self.lock:
            row = self.conn.execute("SELECT id, partitions FROM topics WHERE name=?", (name,)).fetchone()
        return (int(row[0]), int(row[1])) if row else None

    def close(self) -> None:
        with self.lock:
            self.conn.close()
