"""Catalog: the platform's metadata (ingested files, lineage, quarantine, runs, gather state) in SQL.

`Catalog(url)` opens SQLite (`sqlite:///path`, the embedded default) or PostgreSQL
(`postgresql://user@host/db`); `upgrade()` applies the packaged Alembic migrations. A Catalog survives a
fork (the child opens fresh connections). Every claim-like method is a single atomic statement, so it is
correct when many processes race: INSERT … ON CONFLICT DO NOTHING, UPDATE … WHERE NOT fired.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import asdict
from typing import Any, Unpack

import sqlalchemy as sa

from labstream.catalog.base import IngestedRow, QuarantinePlace
from labstream.catalog.group_state import GroupStateStore
from labstream.catalog.lineage_store import LineageStore
from labstream.catalog.models import (
    IngestedFileRow,
    QuarantineRow,
    RunRow,
)
from labstream.catalog.records import (
    IngestedFile,
    QuarantineRecord,
    RunRecord,
)
from labstream.core.errors import InputError

_INGEST_COLS = [c.name for c in IngestedFileRow.__table__.columns if c.name != "id"]


class Catalog(LineageStore, GroupStateStore):
    """Typed access to the catalog tables. See the module docstring for the concurrency contract."""

    # -- ingested files ----------------------------------------------------------------------------

    def claim_ingest(
        self,
        sha256: str,
        *,
        path: str,
        size: int,
        identity: str | None = None,
        media_type: str = "application/octet-stream",
        object_uri: str = "",
        instrument: str = "",
        project: str = "default",
        event_id: str = "",
    ) -> bool:
        """True for the first claimant of this (project, identity, content) only; later claims count a
        duplicate. `identity` None keys by content alone (a content-only claim, stored with identity '').

        New bytes at a known identity are a new version (`version` + 1, `supersedes` the last one's
        sha256). A content-only row (identity '') holding these bytes is adopted by the first
        identity that claims them: it was ingested already, so this is not a first claim."""
        now = time.time()
        ident = identity or ""
        key = (IngestedFileRow.identity == ident) & (IngestedFileRow.sha256 == sha256)
        if ident:  # the content-only claim (identity None) spans projects
            key &= IngestedFileRow.project == project
        with self._tx(write=True) as conn:
            known = conn.execute(sa.select(IngestedFileRow.id).where(key).limit(1)).first()
            if known is None and ident:
                legacy = (
                    (IngestedFileRow.project == project)
                    & (IngestedFileRow.identity == "")
                    & (IngestedFileRow.sha256 == sha256)
                )
                if conn.execute(sa.update(IngestedFileRow).where(legacy).values(identity=ident)).rowcount:
                    return False
            last = conn.execute(
                sa.select(IngestedFileRow.sha256, IngestedFileRow.version)
                .where((IngestedFileRow.project == project) & (IngestedFileRow.identity == ident))
                .order_by(IngestedFileRow.version.desc())
                .limit(1)
            ).first()
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
                identity=ident,
                version=1 if last is None or not ident else last.version + 1,
                supersedes=None if last is None or not ident else last.sha256,
            )
            if known is None and self._inserted(conn, IngestedFileRow, row):
                return True
            conn.execute(
                sa.update(IngestedFileRow)
                .where(key)
                .values(duplicate_count=IngestedFileRow.duplicate_count + 1, last_seen=now)
            )
        return False

    def mark_published(
        self, sha256: str, *, event_id: str, object_uri: str | None = None, **row: Unpack[IngestedRow]
    ) -> None:
        """Step after a successful claim: the event is out. Claimed-but-unpublished rows are retried.
        `row` (identity, project) narrows it to one file's row; none given: every row of these bytes."""
        values: dict[str, Any] = {"status": "published", "event_id": event_id}
        if object_uri is not None:
            values["object_uri"] = object_uri
        with self._tx(write=True) as conn:
            conn.execute(sa.update(IngestedFileRow).where(_row_of(sha256, row)).values(**values))

    def get_ingested(self, sha256: str, **row: Unpack[IngestedRow]) -> IngestedFile | None:
        """The row of these bytes (at `identity` in `project` when given; else the first one claimed)."""
        q = sa.select(IngestedFileRow.__table__).where(_row_of(sha256, row))
        with self._tx() as conn:
            found = conn.execute(q.order_by(IngestedFileRow.id).limit(1)).first()
        return None if found is None else IngestedFile(**{k: found._mapping[k] for k in _INGEST_COLS})

    def count_ingested(self) -> int:
        """How many file versions the catalog knows (the start-up consistency check compares it)."""
        with self._tx() as conn:
            return int(conn.execute(sa.select(sa.func.count(IngestedFileRow.id))).scalar_one())

    def list_ingested(
        self,
        *,
        status: str | None = None,
        project: str | None = None,
        sha256s: Sequence[str] | None = None,
        limit: int | None = None,
    ) -> list[IngestedFile]:
        """Ingested file versions in claim order; `sha256s`: only those holding one of these contents."""
        q = sa.select(IngestedFileRow.__table__).order_by(IngestedFileRow.id)
        if status is not None:
            q = q.where(IngestedFileRow.status == status)
        if project is not None:
            q = q.where(IngestedFileRow.project == project)
        if sha256s is not None:
            q = q.where(IngestedFileRow.sha256.in_(sorted(set(sha256s))))
        with self._tx() as conn:
            rows = conn.execute(q.limit(limit)).all()
        return [IngestedFile(**{k: r._mapping[k] for k in _INGEST_COLS}) for r in rows]

    # -- quarantine --------------------------------------------------------------------------------

    def quarantine(self, source: str, problem: str, **where: Unpack[QuarantinePlace]) -> QuarantineRecord:
        unknown = sorted(set(where) - set(QuarantinePlace.__annotations__))
        if unknown:
            raise TypeError(f"quarantine() got unexpected keyword argument(s) {unknown}")
        rec = QuarantineRecord(source=str(source), problem=problem, **where)
        with self._tx(write=True) as conn:
            conn.execute(sa.insert(QuarantineRow).values(**asdict(rec)))
        return rec

    def quarantine_error(self, err: InputError, **where: Unpack[QuarantinePlace]) -> QuarantineRecord:
        """Quarantine what an InputError names (its source and problem, record included), stopped
        `where` (quarantine's keywords)."""
        problem = err.problem + (f" (record {err.record})" if err.record else "")
        return self.quarantine(err.source, problem, **where)

    def list_quarantine(
        self, *, stage: str | None = None, limit: int | None = None
    ) -> list[QuarantineRecord]:
        q = sa.select(QuarantineRow.__table__).order_by(QuarantineRow.created_at, QuarantineRow.id)
        if stage is not None:
            q = q.where(QuarantineRow.stage == stage)
        with self._tx() as conn:
            return [QuarantineRecord(**dict(r._mapping)) for r in conn.execute(q.limit(limit)).all()]

    def quarantine_counts(self) -> dict[tuple[str, str], int]:
        """Quarantined inputs per (project, stage; '' for none), counted in the database."""
        q = sa.select(QuarantineRow.project, QuarantineRow.stage, sa.func.count()).group_by(
            QuarantineRow.project, QuarantineRow.stage
        )
        out: dict[tuple[str, str], int] = {}
        with self._tx() as conn:
            for project, stage, n in conn.execute(q).all():
                out[(project, stage or "")] = out.get((project, stage or ""), 0) + int(n)
        return out

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


def _row_of(sha256: str, row: IngestedRow) -> Any:
    """The WHERE clause of `row`'s rows holding `sha256` (a key not given or None does not narrow)."""
    unknown = sorted(set(row) - set(IngestedRow.__annotations__))
    if unknown:  # as a misspelt keyword of a plain signature
        raise TypeError(f"unexpected keyword argument(s) {unknown}; a row is narrowed by identity, project")
    where = IngestedFileRow.sha256 == sha256
    if (identity := row.get("identity")) is not None:
        where &= IngestedFileRow.identity == identity
    if (project := row.get("project")) is not None:
        where &= IngestedFileRow.project == project
    return where


__all__ = ["Catalog"]
