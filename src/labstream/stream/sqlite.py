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
import threading
import time
import uuid
from collections.abc import Iterable
from pathlib import Path
from urllib.parse import parse_qs
from zlib import crc32

from labstream.core.errors import ConfigError, InputError
from labstream.stream.base import Record, TopicPartition, fast_record
from labstream.stream.errors import CommitError, PublishError, StreamClosed

__all__ = ["SqliteConsumer", "SqliteStream"]

DEFAULT_PARTITIONS = 4

_SCHEMA = """
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


def _now_ms() -> int:
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


class _Db:
    """One SQLite connection with the stream's pragmas; explicit transactions, thread-safe by a lock."""

    def __init__(self, path: Path, synchronous: str, busy_timeout_ms: int) -> None:
        self.path = path
        self.lock = threading.RLock()
        self.conn = sqlite3.connect(
            str(path), isolation_level=None, check_same_thread=False, timeout=busy_timeout_ms / 1000
        )
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

    def close(self) -> None:
        with self.lock:
            self.conn.close()


class SqliteStream:
    """Embedded, durable stream; see the module docstring for layout, options and the group protocol."""

    exact_end_offsets = True  # end_offsets reads the log's own next offsets

    def __init__(self, url: str) -> None:
        self.url = url
        path, opts = parse_sqlite_url(url)
        sync = opts.get("synchronous", "normal").upper()
        if sync not in ("NORMAL", "FULL", "EXTRA", "OFF"):
            raise ConfigError(f"{url}: synchronous must be normal or full, not {sync.lower()!r}")
        try:
            self.busy_timeout_ms = int(opts.get("busy_timeout_ms", 30000))
            self.session_timeout_ms = int(opts.get("session_timeout_ms", 10000))
            self.batch = max(1, int(opts.get("batch", 5000)))
        except ValueError as err:
            raise ConfigError(f"{url}: numeric option expected ({err})") from err
        self.synchronous = sync
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        self._db = _Db(path, sync, self.busy_timeout_ms)
        with self._db.lock:
            self._db.conn.executescript("BEGIN IMMEDIATE;" + _SCHEMA + "COMMIT;")
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

        row = self._topic_row(name)
        info = row if row is not None else self._db.write(tx)
        self._topics[name] = info
        return info

    def _topic_row(self, name: str) -> tuple[int, int] | None:
        with self._db.lock:
            row = self._db.conn.execute("SELECT id, partitions FROM topics WHERE name=?", (name,)).fetchone()
        return (int(row[0]), int(row[1])) if row else None

    def topics(self) -> list[str]:
        with self._db.lock:
            return [r[0] for r in self._db.conn.execute("SELECT name FROM topics ORDER BY name")]

    # ---- publish ------------------------------------------------------------------------------
    def publish(
        self, topic: str, value: bytes, key: str | None = None, headers: dict[str, str] | None = None
    ) -> None:
        if self._closed:
            raise StreamClosed(f"stream {self.url}")
        if not isinstance(value, bytes | bytearray | memoryview):
            raise InputError(
                f"{self.url}/{topic}",
                f"record value must be bytes, got {type(value).__name__}",
                record=key,
                hint="encode it first, e.g. event.to_json()",
            )
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
        if self._closed:
            raise StreamClosed(f"stream {self.url}")
        if auto_offset_reset not in ("earliest", "latest"):
            raise ConfigError(f"auto_offset_reset must be 'earliest' or 'latest', not {auto_offset_reset!r}")
        ids = {t: self._ensure_topic(t) for t in topics}
        c = SqliteConsumer(self, group, ids, auto_offset_reset)
        self._consumers.append(c)
        return c

    def end_offsets(self, topic: str) -> dict[int, int]:
        tid = self._ensure_topic(topic)[0]
        with self._db.lock:
            rows = self._db.conn.execute(
                "SELECT partition, next_offset FROM partitions WHERE topic_id=? ORDER BY partition", (tid,)
            )
            return {int(p): int(o) for p, o in rows}

    def enforce_retention(self) -> int:
        """Delete, per partition, the prefix of records older than the topic's retention."""
        now = _now_ms()

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


class SqliteConsumer:
    """A member of a consumer group reading from a SqliteStream (see the module docstring)."""

    def __init__(
        self, stream: SqliteStream, group: str, topics: dict[str, tuple[int, int]], reset: str
    ) -> None:
        self.group = group
        self._stream = stream
        self._topics = topics
        self._names = {tid: name for name, (tid, _) in topics.items()}
        self._reset = reset
        self._member = f"{int(time.time() * 1000):013d}-{uuid.uuid4().hex[:12]}"
        self._db = _Db(stream.path, stream.synchronous, stream.busy_timeout_ms)
        self._positions: dict[TopicPartition, int] = {}
        self._pending_seeks: dict[TopicPartition, int] = {}
        self._assigned: list[TopicPartition] = []
        self._last_hb = 0.0
        self._rotate = 0
        self._closed = False
        self._heartbeat(force=True)

    # ---- membership ---------------------------------------------------------------------------
    def _heartbeat(self, force: bool = False) -> None:
        timeout = self._stream.session_timeout_ms
        mono = time.monotonic()
        if not force and (mono - self._last_hb) * 1000 < timeout / 3:
            return
        now = _now_ms()
        names = json.dumps(sorted(self._topics))

        def tx(c: sqlite3.Connection) -> list[tuple[str, str]]:
            c.execute(
                "INSERT INTO group_members(grp, member, topics, heartbeat_ms) VALUES (?,?,?,?) "
                "ON CONFLICT(grp, member) DO UPDATE SET heartbeat_ms=excluded.heartbeat_ms",
                (self.group, self._member, names, now),
            )
            c.execute("DELETE FROM group_members WHERE grp=? AND heartbeat_ms<?", (self.group, now - timeout))
            return c.execute(
                "SELECT member, topics FROM group_members WHERE grp=? ORDER BY member", (self.group,)
            ).fetchall()

        members = self._db.write(tx)
        self._last_hb = mono
        self._rebalance(members)

    def _rebalance(self, members: Iterable[tuple[str, str]]) -> None:
        subs = [(m, set(json.loads(t))) for m, t in members]
        mine: list[TopicPartition] = []
        for name, (_, nparts) in sorted(self._topics.items()):
            readers = [m for m, ts in subs if name in ts]
            rank = readers.index(self._member)
            mine.extend(TopicPartition(name, p) for p in range(nparts) if p % len(readers) == rank)
        if mine == self._assigned:
            return
        self._assigned = mine
        self._positions = {tp: o for tp, o in self._positions.items() if tp in mine}
        for tp in mine:
            if tp in self._pending_seeks:
                self._positions[tp] = self._pending_seeks.pop(tp)
            elif tp not in self._positions:
                self._positions[tp] = self._start_offset(tp)

    def _start_offset(self, tp: TopicPartition) -> int:
        committed = self.committed(tp)
        if committed is not None:
            return committed
        tid = self._topics[tp.topic][0]
        col = "log_start" if self._reset == "earliest" else "next_offset"
        with self._db.lock:
            row = self._db.conn.execute(
                f"SELECT {col} FROM partitions WHERE topic_id=? AND partition=?", (tid, tp.partition)
            ).fetchone()
        return int(row[0])

    # ---- the Consumer protocol ----------------------------------------------------------------
    def poll(self, max_records: int = 500, timeout: float = 1.0) -> list[Record]:
        if self._closed:
            raise StreamClosed(f"consumer of group {self.group!r}")
        deadline = time.monotonic() + timeout
        pause = 0.002
        while True:
            self._heartbeat()
            out = self._fetch(max_records)
            remaining = deadline - time.monotonic()
            if out or remaining <= 0:
                return out
            time.sleep(min(pause, remaining))
            pause = min(pause * 2, 0.05)

    def _fetch(self, max_records: int) -> list[Record]:
        out: list[Record] = []
        tps = self._assigned
        if not tps:
            return out
        self._rotate = (self._rotate + 1) % len(tps)
        order = tps[self._rotate :] + tps[: self._rotate]
        sql = (
            "SELECT offset, key, value, ts, headers FROM records "
            "WHERE topic_id=? AND partition=? AND offset>=? ORDER BY offset LIMIT ?"
        )
        with self._db.lock:
            for tp in order:
                want = max_records - len(out)
                if want <= 0:
                    break
                tid = self._topics[tp.topic][0]
                rows = self._db.conn.execute(sql, (tid, tp.partition, self._positions[tp], want)).fetchall()
                if not rows:
                    continue
                topic, part = tp.topic, tp.partition
                out.extend(
                    fast_record(topic, part, off, key, value, ts, json.loads(hdr) if hdr else {})
                    for off, key, value, ts, hdr in rows
                )
                self._positions[tp] = rows[-1][0] + 1
        return out

    def commit(self, offsets: dict[TopicPartition, int] | None = None) -> None:
        if self._closed:
            raise StreamClosed(f"consumer of group {self.group!r}")
        todo = dict(self._positions) if offsets is None else dict(offsets)
        rows = [
            (self.group, self._topics[tp.topic][0], tp.partition, int(o))
            for tp, o in todo.items()
            if tp.topic in self._topics
        ]
        unknown = [tp for tp in todo if tp.topic not in self._topics]
        if unknown:
            raise CommitError(self._stream.url, self.group, f"not subscribed to {unknown}")

        def tx(c: sqlite3.Connection) -> None:
            c.executemany(
                "INSERT INTO group_offsets(grp, topic_id, partition, offset) VALUES (?,?,?,?) "
                "ON CONFLICT(grp, topic_id, partition) DO UPDATE SET offset=excluded.offset",
                rows,
            )

        try:
            self._db.write(tx)
        except sqlite3.Error as err:
            raise CommitError(self._stream.url, self.group, str(err)) from err

    def committed(self, tp: TopicPartition) -> int | None:
        info = self._topics.get(tp.topic) or self._stream._topic_row(tp.topic)
        if info is None:
            return None
        with self._db.lock:
            row = self._db.conn.execute(
                "SELECT offset FROM group_offsets WHERE grp=? AND topic_id=? AND partition=?",
                (self.group, info[0], tp.partition),
            ).fetchone()
        return None if row is None else int(row[0])

    def seek(self, tp: TopicPartition, offset: int) -> None:
        """Move this consumer's read position; applied when the partition is (or becomes) assigned."""
        if tp in self._positions:
            self._positions[tp] = int(offset)
        else:
            self._pending_seeks[tp] = int(offset)

    def assignment(self) -> list[TopicPartition]:
        return list(self._assigned)

    def caught_up(self) -> bool:
        """True when every assigned partition has been read to its last durable record (exact).

        Reads only (no heartbeat), so another thread may ask while this consumer polls."""
        tps = list(self._assigned)
        if not tps:
            return True  # other members hold every partition; their lag shows in the group's offsets
        ends: dict[TopicPartition, int] = {}
        with self._db.lock:
            for name in {tp.topic for tp in tps}:
                tid = self._topics[name][0]
                rows = self._db.conn.execute(
                    "SELECT partition, next_offset FROM partitions WHERE topic_id=?", (tid,)
                ).fetchall()
                ends.update({TopicPartition(name, int(p)): int(o) for p, o in rows})
        return all(self._positions.get(tp, 0) >= ends.get(tp, 0) for tp in tps)

    def close(self) -> None:
        """Leave the group (its partitions move to the other members at once); never commits."""
        if self._closed:
            return
        self._closed = True
        try:
            self._db.write(
                lambda c: c.execute(
                    "DELETE FROM group_members WHERE grp=? AND member=?", (self.group, self._member)
                )
            )
        except sqlite3.Error:
            pass  # the heartbeat expires by itself after session_timeout_ms
        finally:
            self._db.close()
