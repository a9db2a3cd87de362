"""Catalog: the platform's metadata (ingested files, lineage, quarantine, runs, gather state) in SQL.

`Catalog(url)` opens SQLite (`sqlite:///path`, the embedded default) or PostgreSQL
(`postgresql://user@host/db`); `upgrade()` applies the packaged Alembic migrations. A Catalog survives a
fork (the child opens fresh connections). Every claim-like method is a single atomic statement, so it is
correct when many processes race: INSERT … ON CONFLICT DO NOTHING, UPDATE … WHERE NOT fired.
"""

from __future__ import annotations

import os
import time
import weakref
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict
from typing import Any

import sqlalchemy as sa

from labstream.catalog import engine as _engine
from labstream.catalog.models import (
    GroupStateRow,
    IngestedFileRow,
    LineageIORow,
    LineageRow,
    QuarantineRow,
    RunRow,
)
from labstream.catalog.records import (
    GroupMember,
    IngestedFile,
    IORef,
    LineageRecord,
    QuarantineRecord,
    RunRecord,
)
from labstream.core.errors import InputError, StorageError

_INGEST_COLS = [c.name for c in IngestedFileRow.__table__.columns if c.name != "id"]
_LINEAGE_COLS = [c.name for c in LineageRow.__table__.columns]


class Catalog:
    """Typed access to the catalog tables. See the module docstring for the concurrency contract."""

    def __init__(self, url: str, **engine_kw: Any) -> None:
        self.url = _engine.normalize_url(url)
        self.engine = _engine.make_engine(self.url, **engine_kw)
        self.dialect = self.engine.dialect.name
        engine_ref = weakref.ref(self.engine)
        # A forked child must not reuse the parent's pooled connections (SQLAlchemy's pooling guide).
        os.register_at_fork(after_in_child=lambda: _dispose_in_child(engine_ref))

    def __repr__(self) -> str:
        return f"Catalog({self.engine.url.render_as_string(hide_password=True)!r})"

    # -- lifecycle ---------------------------------------------------------------------------------

    def upgrade(self, revision: str = "head") -> Catalog:
        _engine.upgrade(self.engine, revision)
        return self

    def current_revision(self) -> str | None:
        return _engine.current_revision(self.engine)

    def close(self) -> None:
        self.engine.dispose()

    def __enter__(self) -> Catalog:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextmanager
    def _tx(self, write: bool = False) -> Iterator[sa.Connection]:
        try:
            with self.engine.connect() as conn:
                if write:
                    conn.execution_options(**{_engine.WRITE: True})
                with conn.begin():
                    yield conn
        except sa.exc.OperationalError as err:
            raise StorageError(
                f"catalog {self!r} failed: {err.orig}; is the database reachable and "
                "migrated (Catalog.upgrade())?"
            ) from err

    def _inserted(self, conn: sa.Connection, model: Any, row: dict[str, Any]) -> bool:
        """Insert unless a unique constraint is hit; True if this call inserted the row.

        RETURNING tells, not rowcount: drivers report -1 for statements that return rows."""
        stmt = self._insert_ignore(model).values(**row).returning(model.id)
        return conn.execute(stmt).first() is not None

    def _insert_ignore(self, model: type[Any]) -> Any:
        """INSERT that skips rows violating a unique constraint (atomic first-wins)."""
        if self.dialect == "sqlite":
            from sqlalchemy.dialects.sqlite import insert
        elif self.dialect == "postgresql":
            from sqlalchemy.dialects.postgresql import insert
        else:  # pragma: no cover - only sqlite and postgresql are supported
            raise StorageError(f"catalog dialect {self.dialect} is not supported; use sqlite or postgresql")
        return insert(model).on_conflict_do_nothing()

    # -- ingested files ----------------------------------------------------------------------------

    def claim_ingest(
        self,
        sha256: str,
        *,
        path: str,
        size: int,
        media_type: str = "application/octet-stream",
        object_uri: str = "",
        instrument: str = "",
        project: str = "default",
        event_id: str = "",
    ) -> bool:
        """True for the first claimant of this content only; later claims count a duplicate."""
        now = time.time()
        row = dict(
            sha256=sha256,
            path=str(path),
            size=int(size),
            media_type=media_type,
            object_uri=object_uri,
            instrument=instrument,
            project=project,
            event_id=event_id,
            status="claimed",
            first_seen=now,
            last_seen=now,
            duplicate_count=0,
        )
        with self._tx(write=True) as conn:
            if self._inserted(conn, IngestedFileRow, row):
                return True
            conn.execute(
                sa.update(IngestedFileRow)
                .where(IngestedFileRow.sha256 == sha256)
                .values(duplicate_count=IngestedFileRow.duplicate_count + 1, last_seen=now)
            )
        return False

    def mark_published(self, sha256: str, *, event_id: str, object_uri: str | None = None) -> None:
        """Step after a successful claim: the event is out. Claimed-but-unpublished rows are retried."""
        values: dict[str, Any] = {"status": "published", "event_id": event_id}
        if object_uri is not None:
            values["object_uri"] = object_uri
        with self._tx(write=True) as conn:
            conn.execute(sa.update(IngestedFileRow).where(IngestedFileRow.sha256 == sha256).values(**values))

    def get_ingested(self, sha256: str) -> IngestedFile | None:
        with self._tx() as conn:
            row = conn.execute(
                sa.select(IngestedFileRow.__table__).where(IngestedFileRow.sha256 == sha256)
            ).first()
        return None if row is None else IngestedFile(**{k: row._mapping[k] for k in _INGEST_COLS})

    def list_ingested(
        self, *, status: str | None = None, project: str | None = None, limit: int | None = None
    ) -> list[IngestedFile]:
        q = sa.select(IngestedFileRow.__table__).order_by(IngestedFileRow.id)
        if status is not None:
            q = q.where(IngestedFileRow.status == status)
        if project is not None:
            q = q.where(IngestedFileRow.project == project)
        with self._tx() as conn:
            rows = conn.execute(q.limit(limit)).all()
        return [IngestedFile(**{k: r._mapping[k] for k in _INGEST_COLS}) for r in rows]

    # -- lineage -----------------------------------------------------------------------------------

    def record_lineage(self, rec: LineageRecord) -> None:
        """Insert or replace one task's record (a retried task keeps its id and overwrites)."""
        values = asdict(rec)
        values["inputs"] = [i.to_dict() for i in rec.inputs]
        values["outputs"] = [o.to_dict() for o in rec.outputs]
        io = [{"lineage_id": rec.id, "direction": "in", **i.to_dict()} for i in rec.inputs]
        io += [{"lineage_id": rec.id, "direction": "out", **o.to_dict()} for o in rec.outputs]
        with self._tx(write=True) as conn:
            conn.execute(sa.delete(LineageRow).where(LineageRow.id == rec.id))
            conn.execute(sa.insert(LineageRow).values(**values))
            if io:
                conn.execute(sa.insert(LineageIORow), io)

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
        with self._tx(write=True) as conn:
            conn.execute(sa.delete(LineageRow).where(LineageRow.id.in_([r.id for r in recs])))
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

    def list_lineage(
        self,
        *,
        stage: str | None = None,
        event_id: str | None = None,
        project: str | None = None,
        since: float | None = None,
        limit: int | None = None,
    ) -> list[LineageRecord]:
        q = sa.select(LineageRow.__table__).order_by(LineageRow.started_at, LineageRow.id)
        for col, val in (
            (LineageRow.stage, stage),
            (LineageRow.event_id, event_id),
            (LineageRow.project, project),
        ):
            if val is not None:
                q = q.where(col == val)
        if since is not None:
            q = q.where(LineageRow.started_at >= since)
        with self._tx() as conn:
            return [_to_lineage(r._mapping) for r in conn.execute(q.limit(limit)).all()]

    # -- quarantine --------------------------------------------------------------------------------

    def quarantine(
        self,
        source: str,
        problem: str,
        *,
        stage: str | None = None,
        payload_uri: str | None = None,
        project: str = "default",
    ) -> QuarantineRecord:
        rec = QuarantineRecord(
            source=str(source), problem=problem, stage=stage, payload_uri=payload_uri, project=project
        )
        with self._tx(write=True) as conn:
            conn.execute(sa.insert(QuarantineRow).values(**asdict(rec)))
        return rec

    def quarantine_error(
        self,
        err: InputError,
        *,
        stage: str | None = None,
        payload_uri: str | None = None,
        project: str = "default",
    ) -> QuarantineRecord:
        """Quarantine what an InputError names (its source and problem, record included)."""
        problem = err.problem + (f" (record {err.record})" if err.record else "")
        return self.quarantine(err.source, problem, stage=stage, payload_uri=payload_uri, project=project)

    def list_quarantine(
        self, *, stage: str | None = None, limit: int | None = None
    ) -> list[QuarantineRecord]:
        q = sa.select(QuarantineRow.__table__).order_by(QuarantineRow.created_at, QuarantineRow.id)
        if stage is not None:
            q = q.where(QuarantineRow.stage == stage)
        with self._tx() as conn:
            return [QuarantineRecord(**dict(r._mapping)) for r in conn.execute(q.limit(limit)).all()]

    # -- runs --------------------------------------------------------------------------------------

    def start_run(
        self,
        pipeline: str,
        params: dict[str, Any] | None = None,
        *,
        project: str = "default",
        run_id: str | None = None,
    ) -> RunRecord:
        rec = RunRecord(pipeline=pipeline, params=dict(params or {}), project=project)
        if run_id:
            rec.id = run_id
        with self._tx(write=True) as conn:
            conn.execute(sa.insert(RunRow).values(**asdict(rec)))
        return rec

    def finish_run(self, run_id: str, status: str = "succeeded") -> None:
        with self._tx(write=True) as conn:
            n = conn.execute(
                sa.update(RunRow).where(RunRow.id == run_id).values(status=status, ended_at=time.time())
            ).rowcount
        if n != 1:
            raise InputError(run_id, "no pipeline run with this id")

    def get_run(self, run_id: str) -> RunRecord | None:
        with self._tx() as conn:
            row = conn.execute(sa.select(RunRow.__table__).where(RunRow.id == run_id)).first()
        return None if row is None else RunRecord(**dict(row._mapping))

    def list_runs(self, *, pipeline: str | None = None, limit: int | None = None) -> list[RunRecord]:
        q = sa.select(RunRow.__table__).order_by(RunRow.started_at, RunRow.id)
        if pipeline is not None:
            q = q.where(RunRow.pipeline == pipeline)
        with self._tx() as conn:
            return [RunRecord(**dict(r._mapping)) for r in conn.execute(q.limit(limit)).all()]

    # -- keyed state of gather stages --------------------------------------------------------------

    def add_member(self, stage: str, group_key: str, member_id: str, event_json: str | bytes) -> bool:
        """Remember one member of a group; False if it was already there (a redelivery)."""
        if isinstance(event_json, bytes):
            event_json = event_json.decode()
        row = dict(
            stage=stage,
            group_key=group_key,
            member_id=member_id,
            event_json=event_json,
            fired=False,
            created_at=time.time(),
        )
        with self._tx(write=True) as conn:
            return self._inserted(conn, GroupStateRow, row)

    def members(self, stage: str, group_key: str) -> list[GroupMember]:
        q = (
            sa.select(GroupStateRow.__table__)
            .where(GroupStateRow.stage == stage, GroupStateRow.group_key == group_key)
            .order_by(GroupStateRow.id)
        )
        with self._tx() as conn:
            rows = conn.execute(q).all()
        return [GroupMember(**{k: v for k, v in r._mapping.items() if k != "id"}) for r in rows]

    def mark_fired(self, stage: str, group_key: str) -> bool:
        """Mark the group's members fired; True for exactly one caller per set of unfired members."""
        q = (
            sa.update(GroupStateRow)
            .where(
                GroupStateRow.stage == stage,
                GroupStateRow.group_key == group_key,
                GroupStateRow.fired.is_(False),
            )
            .values(fired=True)
        )
        with self._tx(write=True) as conn:
            return bool(conn.execute(q).rowcount > 0)

    def stale_groups(self, stage: str, before: float) -> list[str]:
        """Keys of the stage's groups with no member fired whose first member was stored before
        `before` (a time.time()): what a gather watermark fires partially."""
        q = (
            sa.select(GroupStateRow.group_key)
            .where(GroupStateRow.stage == stage)
            .group_by(GroupStateRow.group_key)
            .having(
                sa.func.max(sa.case((GroupStateRow.fired.is_(True), 1), else_=0)) == 0,
                sa.func.min(GroupStateRow.created_at) < before,
            )
            .order_by(sa.func.min(GroupStateRow.created_at))
        )
        with self._tx() as conn:
            return [str(r[0]) for r in conn.execute(q).all()]

    def is_fired(self, stage: str, group_key: str) -> bool:
        """True when the group has members and all of them have fired."""
        ms = self.members(stage, group_key)
        return bool(ms) and all(m.fired for m in ms)

    def clear_group(self, stage: str, group_key: str) -> int:
        with self._tx(write=True) as conn:
            return int(
                conn.execute(
                    sa.delete(GroupStateRow).where(
                        GroupStateRow.stage == stage, GroupStateRow.group_key == group_key
                    )
                ).rowcount
            )


def _dispose_in_child(engine_ref: weakref.ref[sa.Engine]) -> None:
    engine = engine_ref()
    if engine is not None:
        engine.dispose(close=False)


def _to_lineage(m: Any) -> LineageRecord:
    d = {k: m[k] for k in _LINEAGE_COLS}
    d["inputs"] = [IORef.of(x) for x in d["inputs"] or []]
    d["outputs"] = [IORef.of(x) for x in d["outputs"] or []]
    d["parent_ids"] = list(d["parent_ids"] or [])
    d["params"] = dict(d["params"] or {})
    return LineageRecord(**d)


__all__ = ["Catalog"]
