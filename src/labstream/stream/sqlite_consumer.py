"""A consumer-group member of the embedded SQLite stream (the group protocol is in `stream/sqlite.py`)."""

from __future__ import annotations

import json
import sqlite3
import time
import uuid
from collections.abc import Iterable

from labstream.stream.base import Record, TopicPartition, fast_record
from labstream.stream.errors import CommitError, StreamClosed
from labstream.stream.sqlite_db import SqliteOptions, StreamDb, now_ms


class SqliteConsumer:
    """A member of a consumer group reading from a SqliteStream (see the module docstring)."""

    def __init__(
        self, options: SqliteOptions, group: str, topics: dict[str, tuple[int, int]], reset: str
    ) -> None:
        self.group = group
        self._options = options
        self._topics = topics
        self._names = {tid: name for name, (tid, _) in topics.items()}
        self._reset = reset
        self._member = f"{int(time.time() * 1000):013d}-{uuid.uuid4().hex[:12]}"
        self._db = StreamDb(options.path, options.synchronous, options.busy_timeout_ms)
        self._positions: dict[TopicPartition, int] = {}
        self._pending_seeks: dict[TopicPartition, int] = {}
        self._assigned: list[TopicPartition] = []
        self._last_hb = 0.0
        self._rotate = 0
        self._closed = False
        self._heartbeat(force=True)

    # ---- membership ---------------------------------------------------------------------------
    def _heartbeat(self, force: bool = False) -> None:
        timeout = self._options.session_timeout_ms
        mono = time.monotonic()
        if not force and (mono - self._last_hb) * 1000 < timeout / 3:
            return
        now = now_ms()
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
            raise CommitError(self._options.url, self.group, f"not subscribed to {unknown}")

        def tx(c: sqlite3.Connection) -> None:
            c.executemany(
                "INSERT INTO group_offsets(grp, topic_id, partition, offset) VALUES (?,?,?,?) "
                "ON CONFLICT(grp, topic_id, partition) DO UPDATE SET offset=excluded.offset",
                rows,
            )

        try:
            self._db.write(tx)
        except sqlite3.Error as err:
            raise CommitError(self._options.url, self.group, str(err)) from err

    def committed(self, tp: TopicPartition) -> int | None:
        info = self._topics.get(tp.topic) or self._db.topic_row(tp.topic)
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
