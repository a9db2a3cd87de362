"""Lineage records: one per task, with its inputs, outputs and parents, walkable to the ingest."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict
from typing import Any, Unpack

import sqlalchemy as sa

from labstream.catalog.base import LineageFilter
from labstream.catalog.connection import CatalogConnection
from labstream.catalog.models import LineageIORow, LineageRow, LineageSeqRow
from labstream.catalog.records import IORef, LineageChange, LineageRecord
from labstream.core.errors import InputError

_LINEAGE_COLS = [c.name for c in LineageRow.__table__.columns if c.name not in ("seq", "first_seq")]


class LineageStore(CatalogConnection):
    """The lineage tables (a retried task keeps its id and overwrites its record)."""

    def record_lineage(self, rec: LineageRecord) -> None:
        """Insert or replace one task's record (a retried task keeps its id and overwrites)."""
        self.record_lineage_many([rec])

    def record_lineage_many(self, recs: Sequence[LineageRecord]) -> None:
        """`record_lineage` for a batch of tasks in one transaction (a stage commits a batch at once)."""
        if not recs:
            return
        rows: list[dict[str, Any]] = []
        io: list[dict[str, str]] = []
        for rec in recs:
            values = asdict(rec)
            values["inputs"] = [i.to_dict() for i in rec.inputs]
            values["outputs"] = [o.to_dict() for o in rec.outputs]
            rows.append(values)
            io += [{"lineage_id": rec.id, "direction": "in", **i.to_dict()} for i in rec.inputs]
            io += [{"lineage_id": rec.id, "direction": "out", **o.to_dict()} for o in rec.outputs]
        ids = [r.id for r in recs]
        with self._tx(write=True) as conn:
            # the write order: the counter row's lock orders concurrent writers (module docstring of
            # migration 0008); taken before the delete, so a rewrite never reuses a number
            top = _take_seq(conn, len(rows))
            q = sa.select(LineageRow.id, LineageRow.first_seq).where(LineageRow.id.in_(ids))
            first = {i: f for i, f in conn.execute(q).all()}
            for n, row in enumerate(rows, start=top - len(rows) + 1):
                known = first.get(row["id"])
                row["seq"], row["first_seq"] = n, n if known is None else known
            conn.execute(sa.delete(LineageRow).where(LineageRow.id.in_(ids)))
            conn.execute(sa.insert(LineageRow), rows)
            if io:
                conn.execute(sa.insert(LineageIORow), io)

    def get_lineage_many(self, ids: Sequence[str]) -> dict[str, LineageRecord]:
        """The records of those ids that exist, by id, in one query."""
        return self._lineage_many(ids)

    def get_lineage(self, lineage_id: str) -> LineageRecord | None:
        found = self._lineage_many([lineage_id])
        return found.get(lineage_id)

    def _lineage_many(self, ids: Sequence[str]) -> dict[str, LineageRecord]:
        if not ids:
            return {}
        with self._tx() as conn:
            rows = conn.execute(sa.select(LineageRow.__table__).where(LineageRow.id.in_(list(ids)))).all()
        return {r.id: _to_lineage(r._mapping) for r in rows}

    def walk_lineage(self, lineage_id: str) -> list[LineageRecord]:
        """The task and all its ancestors, nearest first, ending at the ingest task(s) (no parents).

        Raises InputError when the id is unknown; ancestors missing from the catalog are skipped."""
        seen: set[str] = set()
        out: list[LineageRecord] = []
        frontier = [lineage_id]
        while frontier:
            found = self._lineage_many(frontier)
            if not out and lineage_id not in found:
                raise InputError(
                    lineage_id,
                    "no lineage record with this id",
                    hint="use an id printed by `labstream status` or stored in a lake row",
                )
            seen.update(frontier)
            nxt: list[str] = []
            for lid in frontier:
                rec = found.get(lid)
                if rec is None:
                    continue
                out.append(rec)
                nxt.extend(p for p in rec.parent_ids if p not in seen and p not in nxt)
            frontier = nxt
        return out

    def lineage_for_object(self, uri_or_sha256: str, direction: str = "out") -> list[LineageRecord]:
        """Tasks that produced (direction "out") or consumed ("in") an object, by URI or sha256."""
        col = (
            LineageIORow.sha256 if len(uri_or_sha256) == 64 and "/" not in uri_or_sha256 else LineageIORow.uri
        )
        q = sa.select(LineageIORow.lineage_id).where(
            col == uri_or_sha256, LineageIORow.direction == direction
        )
        with self._tx() as conn:
            ids = list(dict.fromkeys(r[0] for r in conn.execute(q)))
        found = self._lineage_many(ids)
        return [found[i] for i in ids if i in found]

    def list_lineage(self, **where: Unpack[LineageFilter]) -> list[LineageRecord]:
        unknown = sorted(set(where) - set(LineageFilter.__annotations__))
        if unknown:
            raise TypeError(f"list_lineage() got unexpected keyword argument(s) {unknown}")
        q = sa.select(LineageRow.__table__).order_by(LineageRow.started_at, LineageRow.id)
        for col, val in (
            (LineageRow.stage, where.get("stage")),
            (LineageRow.event_id, where.get("event_id")),
            (LineageRow.project, where.get("project")),
        ):
            if val is not None:
                q = q.where(col == val)
        if (since := where.get("since")) is not None:
            q = q.where(LineageRow.started_at >= since)
        if (keys := where.get("keys")) is not None:
            q = q.where(LineageRow.key.in_(sorted(set(keys))))
        with self._tx() as conn:
            return [_to_lineage(r._mapping) for r in conn.execute(q.limit(where.get("limit"))).all()]

    def lineage_changes(self, after: int = 0, *, limit: int | None = None) -> list[LineageChange]:
        """Writes of lineage records with `seq` greater than `after`, in write order (at most `limit`):
        what a reader that has folded in everything up to `after` has not seen. A record rewritten
        since appears once, as its latest write. Writes commit in `seq` order, so nothing committed
        later has a smaller `seq`: `after` = the greatest `seq` read is a safe watermark."""
        self._number_unsequenced()
        q = sa.select(LineageRow.__table__).where(LineageRow.seq > after).order_by(LineageRow.seq)
        with self._tx() as conn:
            rows = conn.execute(q.limit(limit)).all()
        return [
            LineageChange(r.seq, r.seq if r.first_seq is None else r.first_seq, _to_lineage(r._mapping))
            for r in rows
        ]

    def _number_unsequenced(self) -> None:
        """Give a `seq` to records written without one (by a labstream older than revision 0008 still
        running beside this one, or a direct insert), so an incremental reader sees them too."""
        missing = sa.select(LineageRow.id).where(LineageRow.seq.is_(None))
        with self._tx() as conn:
            if conn.execute(missing.limit(1)).first() is None:
                return
        with self._tx(write=True) as conn:
            ids = [r[0] for r in conn.execute(missing.order_by(LineageRow.started_at, LineageRow.id))]
            top = _take_seq(conn, len(ids))
            for n, lid in enumerate(ids, start=top - len(ids) + 1):
                # first_seq 0: it may rewrite a record read before (an old writer keeps no first_seq)
                conn.execute(sa.update(LineageRow).where(LineageRow.id == lid).values(seq=n, first_seq=0))

    def executors_used(self) -> list[tuple[str, int, int]]:
        """(executor URL, tasks, distinct hosts) over every recorded task: where the work really ran."""
        q = (
            sa.select(
                LineageRow.executor,
                sa.func.count(LineageRow.id),
                sa.func.count(sa.distinct(LineageRow.host)),
            )
            .group_by(LineageRow.executor)
            .order_by(sa.func.count(LineageRow.id).desc())
        )
        with self._tx() as conn:
            return [(str(e or "?"), int(n), int(h)) for e, n, h in conn.execute(q).all()]


def _take_seq(conn: sa.Connection, n: int) -> int:
    """Reserve the next `n` lineage write numbers in this write transaction; returns the last. The
    counter row stays locked until commit, so writers commit in the order of their numbers."""
    return int(
        conn.execute(
            sa.update(LineageSeqRow)
            .where(LineageSeqRow.name == "lineage")
            .values(value=LineageSeqRow.value + n)
            .returning(LineageSeqRow.value)
        ).scalar_one()
    )


def _to_lineage(m: Any) -> LineageRecord:
    d = {k: m[k] for k in _LINEAGE_COLS}
    d["inputs"] = [IORef.of(x) for x in d["inputs"] or []]
    d["outputs"] = [IORef.of(x) for x in d["outputs"] or []]
    d["parent_ids"] = list(d["parent_ids"] or [])
    d["params"] = dict(d["params"] or {})
    d["request"] = dict(d["request"] or {})
    d["key"] = d["key"] or ""
    d["attempts"] = list(d["attempts"] or [])
    return LineageRecord(**d)
