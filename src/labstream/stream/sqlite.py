"""The embedded stream: a durable, multi-process log in one SQLite file (WAL mode).

URL: `sqlite:///relative/path.db` or `sqlite:////absolute/path.db`, with optional query parameters
`synchronous` (normal | full, default normal: survives a process crash; `full` also survives power loss),
`busy_timeout_ms` (default 30000), `session_timeout_ms` (consumer liveness, default 10000) and
`batch` (records buffered before an automatic flush, default 5000).

Layout: `topics` (partitions, retention), `partitions` (next offset, log start), `records`
(topic id, partition, offset, key, value, ts, headers) and, per consumer group, `group_offsets` and
`group_members`. Every write runs in a `BEGIN IMMEDIATE` transaction, so offsets are assigned under the
database's single write lock: several processes may publish to one file and each record gets exactly one
offset.

Consumer groups: each consumer registers as a member of its group (a row with a heartbeat). A partition
belongs to one live member: member i of the n live members, sorted by id, owns partitions p with
p % n == i. A member whose heartbeat is older than `session_timeout_ms` (a crashed process) is dropped,
and its partitions move to the others, which resume from the group's committed offsets. During such a
hand-over two members may briefly read the same partition: delivery is at least once, never at most once.
"""

from __future__ import annotations

import json
import sqlite3
import time
from zlib import crc32

from labstream.core.errors import ConfigError
from labstream.core.sqlite_files import sqlite_file_problem
from labstream.stream.base import check_consumer_request, check_record_value
from labstream.stream.errors import PublishError, StreamClosed
from labstream.stream.sqlite_consumer import SqliteConsumer
from labstream.stream.sqlite_db import (
    SCHEMA,
    SqliteOptions,
    StreamDb,
    now_ms,
    parse_sqlite_url,
    unusable_file,
)

__all__ = ["SqliteConsumer", "SqliteStream", "parse_sqlite_url"]

DEFAULT_PARTITIONS = 4


class SqliteStream:
    """Embedded, durable stream; see the module docstring for layout, options and the group protocol."""

    exact_end_offsets = True  # end_offsets reads the log's own next offsets

    def __init__(self, url: str) -> None:
        self.url = url
        self.options = options = SqliteOptions.from_url(url)
        self.path = path = options.path
        self.batch = options.batch
        path.parent.mkdir(parents=True, exist_ok=True)
        problem = sqlite_file_problem(path)
        if problem is not None:
            raise unusable_file(path, problem)
        try:
            self._db = StreamDb(path, options.synchronous, options.busy_timeout_ms)
            with self._db.lock:
                self._db.conn.executescript("BEGIN IMMEDIATE;" + SCHEMA + "COMMIT;")
        except sqlite3.DatabaseError as err:
            raise unusable_file(path, f"cannot be opened ({err})") from err
        self._topics: dict[str, tuple[int, int]] = {}  # name -> (id, partitions)
        self._buf: list[tuple[int, int, str | None, bytes, int, str | None]] = []
        self._buf_bytes = 0
        self._rr = 0
        self._consumers: list[SqliteConsumer] = []
        self._closed = False

    # ---- topics -------------------------------------------------------------------------------
    def create_topic(
        self, name: str, partitions: int = DEFAULT_PARTITIONS, retention_ms: int | None = None
    ) -> None:
        if not name or partitions < 1:
            raise ConfigError(f"topic {name!r}: a topic needs a name and at least one partition")
        self._ensure_topic(name, partitions, retention_ms)

    def _ensure_topic(
        self, name: str, partitions: int = DEFAULT_PARTITIONS, retention_ms: int | None = None
    ) -> tuple[int, int]:
        known = self._topics.get(name)
        if known is not None:
            return known

        def tx(c: sqlite3.Connection) -> tuple[int, int]:
            row = c.execute("SELECT id, partitions FROM topics WHERE name=?", (name,)).fetchone()
            if row is None:
                cur = c.execute(
                    "INSERT INTO topics(name, partitions, retention_ms) VALUES (?,?,?)",
                    (name, partitions, retention_ms),
                )
                row = (cur.lastrowid, partitions)
                c.executemany(
                    "INSERT INTO partitions(topic_id, partition) VALUES (?,?)",
                    [(row[0], p) for p in range(partitions)],
                )
            return int(row[0]), int(row[1])

        row = self._db.topic_row(name)
        info = row if row is not None else self._db.write(tx)
        self._topics[name] = info
        return info

    def topics(self) -> list[str]:
        with self._db.lock:
            return [r[0] for r in self._db.conn.execute("SELECT name FROM topics ORDER BY name")]

    # ---- publish ------------------------------------------------------------------------------
    def publish(
        self, topic: str, value: bytes, key: str | None = None, headers: dict[str, str] | None = None
    ) -> None:
        if self._closed:
            raise StreamClosed(f"stream {self.url}")
        check_record_value(self.url, topic, value, key)
        info = self._topics.get(topic) or self._ensure_topic(topic)
        if key is None:
            part = self._rr % info[1]
            self._rr += 1
        else:
            part = crc32(key.encode()) % info[1]  # == base.partition_for, inlined: publish's hot path
        if type(value) is not bytes:
            value = bytes(value)
        self._buf.append(
            (info[0], part, key, value, int(time.time() * 1000), json.dumps(headers) if headers else None)
        )
        self._buf_bytes += len(value)
        if len(self._buf) >= self.batch or self._buf_bytes >= 8 << 20:
            self.flush()

    def flush(self, timeout: float = 30.0) -> None:
        """Write every buffered record in one transaction; raises PublishError if it did not commit."""
        buf, self._buf, self._buf_bytes = self._buf, [], 0
        if not buf:
            return

        def tx(c: sqlite3.Connection) -> None:
            ids = sorted({r[0] for r in buf})
            marks = ",".join("?" * len(ids))
            nxt = {
                (t, p): o
                for t, p, o in c.execute(
                    f"SELECT topic_id, partition, next_offset FROM partitions WHERE topic_id IN ({marks})",
                    ids,
                )
            }
            rows = []
            for tid, part, key, value, ts, hdr in buf:
                k = (tid, part)
                off = nxt[k]
                nxt[k] = off + 1
                rows.append((tid, part, off, key, value, ts, hdr))
            c.executemany(
                "INSERT INTO records(topic_id, partition, offset, key, value, ts, headers) "
                "VALUES (?,?,?,?,?,?,?)",
                rows,
            )
            c.executemany(
                "UPDATE partitions SET next_offset=? WHERE topic_id=? AND partition=?",
                [(o, t, p) for (t, p), o in nxt.items()],
            )

        try:
            self._db.write(tx)
        except (sqlite3.Error, KeyError) as err:
            raise PublishError(self.url, len(buf), f"{err.__class__.__name__}: {err}") from err

    # ---- consume ------------------------------------------------------------------------------
    def consumer(
        self, group: str, topics: list[str], *, auto_offset_reset: str = "earliest"
    ) -> SqliteConsumer:
        check_consumer_request(self.url, self._closed, auto_offset_reset)
        ids = {t: self._ensure_topic(t) for t in topics}
        c = SqliteConsumer(self.options, group, ids, auto_offset_reset)
        self._consumers.append(c)
        return c

    def end_offsets(self, topic: str) -> dict[int, int]:
        tid = self._ensure_topic(topic)[0]
        with self._db.lock:
            rows = self._db.conn.execute(
                "SELECT partition, next_offset FROM partitions WHERE topic_id=? ORDER BY partition", (tid,)
            )
            return {int(p): int(o) for p, o in rows}

    def committed_offsets(self, group: str, topic: str, partitions: list[int]) -> dict[int, int | None]:
        """Read through a consumer subscribed to no topic: it joins the group but takes no partitions."""
        from labstream.stream.base import TopicPartition

        consumer = self.consumer(group, [])
        try:
            return {p: consumer.committed(TopicPartition(topic, p)) for p in partitions}
        finally:
            consumer.close()

    def enforce_retention(self) -> int:
        """Delete, per partition, the prefix of records older than the topic's retention."""
        now = now_ms()

        def tx(c: sqlite3.Connection) -> int:
            deleted = 0
            topics = c.execute(
                "SELECT id, retention_ms FROM topics WHERE retention_ms IS NOT NULL"
            ).fetchall()
            for tid, retention in topics:
                cutoff = now - int(retention)
                parts = c.execute("SELECT partition, next_offset FROM partitions WHERE topic_id=?", (tid,))
                for part, next_offset in parts.fetchall():
                    row = c.execute(
                        "SELECT MIN(offset) FROM records WHERE topic_id=? AND partition=? AND ts>=?",
                        (tid, part, cutoff),
                    ).fetchone()
                    start = next_offset if row[0] is None else int(row[0])
                    cur = c.execute(
                        "DELETE FROM records WHERE topic_id=? AND partition=? AND offset<?",
                        (tid, part, start),
                    )
                    deleted += cur.rowcount
                    c.execute(
                        "UPDATE partitions SET log_start=max(log_start, ?) WHERE topic_id=? AND partition=?",
                        (start, tid, part),
                    )
                    c.execute(
                        "UPDATE group_offsets SET offset=? WHERE topic_id=? AND partition=? AND offset<?",
                        (start, tid, part, start),
                    )
            return deleted

        try:
            return int(self._db.write(tx))
        except sqlite3.Error as err:
            raise PublishError(self.url, 0, f"retention failed: {err}") from err

    def close(self) -> None:
        """Flush, leave every consumer's group, close the file. Bounded by busy_timeout_ms; idempotent."""
        if self._closed:
            return
        self._closed = True
        try:
            self.flush()
        finally:
            for c in self._consumers:
                c.close()
            self._db.close()
