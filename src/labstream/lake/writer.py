"""Micro-batching in front of the lake: a stream of single rows becomes one Delta version per table
per flush, not one per row (which would make thousands of tiny files and a huge log).

Contract:
- `add(table, rows, txn=(app_id, version))` buffers; a table is flushed when it holds `max_rows` rows or
  its oldest buffered row is `max_seconds` old (checked on `add` and on `tick()`, which a consumer loop
  calls every poll), or on `flush()` / leaving the `with` block.
- A flush commits each table's rows with, per app_id, the highest transaction version of the batch, in
  one Delta version. Rows whose (app_id, version) the table already holds are dropped before the write,
  so replaying a batch after a crash adds nothing.
- If a flush raises, the failed tables keep their buffers: nothing is lost and nothing is committed
  for them; the caller must not commit stream offsets past them.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from typing import Any, Unpack

import pyarrow as pa

from labstream.lake.base import LakeTables, RowFill, row_fill
from labstream.lake.schema import conform

__all__ = ["FlushResult", "LakeWriter"]


@dataclass
class _Pending:
    parts: list[tuple[Any, tuple[str, int] | None, str | None, str | None]] = field(default_factory=list)
    rows: int = 0
    since: float = 0.0


@dataclass(frozen=True)
class FlushResult:
    table: str
    rows: int  # rows written
    skipped: int  # rows dropped because their transaction was already in the table
    version: int | None  # the Delta version committed, None when nothing was written


def _count(data: Any) -> int:
    if isinstance(data, list):
        return len(data)
    if isinstance(data, pa.Table | pa.RecordBatch):
        return data.num_rows
    return len(data)


class LakeWriter:
    """Buffers rows per table and commits them in batches (see the module docstring)."""

    def __init__(self, lake: LakeTables, *, max_rows: int = 10_000, max_seconds: float = 1.0) -> None:
        if max_rows < 1 or max_seconds < 0:
            raise ValueError("max_rows must be >= 1 and max_seconds >= 0")
        self.lake = lake
        self.max_rows = max_rows
        self.max_seconds = max_seconds
        self._pending: dict[str, _Pending] = {}
        self._lock = threading.RLock()

    def add(
        self, table: str, rows: Any, *, txn: tuple[str, int] | None = None, **fill: Unpack[RowFill]
    ) -> list[FlushResult]:
        """Buffer rows (list of dicts, Arrow table or DataFrame); returns what this call flushed."""
        lineage_id, project = row_fill(fill)
        n = _count(rows)
        with self._lock:
            pending = self._pending.setdefault(table, _Pending(since=time.monotonic()))
            if not pending.parts:
                pending.since = time.monotonic()
            pending.parts.append((rows, txn, lineage_id, project))
            pending.rows += n
        return self.tick()

    def pending_rows(self, table: str | None = None) -> int:
        with self._lock:
            if table is not None:
                return self._pending[table].rows if table in self._pending else 0
            return sum(p.rows for p in self._pending.values())

    def tick(self) -> list[FlushResult]:
        """Flush the tables that are full or old enough."""
        now = time.monotonic()
        with self._lock:
            due = [
                t
                for t, p in self._pending.items()
                if p.parts and (p.rows >= self.max_rows or now - p.since >= self.max_seconds)
            ]
            return [self._flush_table(t) for t in due]

    def flush(self) -> list[FlushResult]:
        """Flush every table now."""
        with self._lock:
            return [self._flush_table(t) for t in list(self._pending) if self._pending[t].parts]

    def _flush_table(self, table: str) -> FlushResult:
        pending = self._pending[table]
        # 1. drop parts whose transaction the table already holds (a replayed batch)
        done: dict[str, int | None] = {}
        keep, skipped = [], 0
        for rows, txn, lineage_id, project in pending.parts:
            if txn is not None:
                if txn[0] not in done:
                    done[txn[0]] = self.lake.txn_version(table, txn[0])
                last = done[txn[0]]
                if last is not None and last >= txn[1]:
                    skipped += _count(rows)
                    continue
            keep.append((rows, txn, lineage_id, project))
        # 2. one Arrow table with the platform defaults applied per part, one commit with the max txns
        txns: dict[str, int] = {}
        for _, txn, _, _ in keep:
            if txn is not None:
                txns[txn[0]] = max(txns.get(txn[0], txn[1]), txn[1])
        version = None
        written = 0
        if keep:
            schema = self.lake.resolve_schema(table, keep[0][0])
            # runs of list-of-dict rows with the same defaults are cast in one go (much faster than
            # one cast per single-row add)
            runs: list[tuple[Any, str | None, str | None]] = []
            for rows, _, lin, proj in keep:
                prev = runs[-1] if runs else None
                if isinstance(rows, list) and prev and isinstance(prev[0], list) and prev[1:] == (lin, proj):
                    prev[0].extend(rows)
                else:
                    runs.append((list(rows) if isinstance(rows, list) else rows, lin, proj))
            parts = [
                conform(table, rows, schema, defaults={"lineage_id": lin, "project": proj})
                for rows, lin, proj in runs
            ]
            batch = pa.concat_tables(parts)
            written = batch.num_rows
            version = self.lake.commit(table, batch, txns=txns)
        # 3. only now forget the buffer: a failure above keeps it for the next try
        del self._pending[table]
        return FlushResult(table=table, rows=written, skipped=skipped, version=version)

    def close(self) -> None:
        self.flush()

    def __enter__(self) -> LakeWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        if exc[0] is None:
            self.flush()
