"""SQLAlchemy 2 models of the catalog. The schema itself is created by the Alembic migrations in
`catalog/migrations/versions/` (the baseline 0006 creates these tables, 0007 adds `object_access`,
0008 the lineage write order); the models describe the head revision: keep both in step when a table
changes."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

JSONType = sa.JSON().with_variant(JSONB(), "postgresql")

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = sa.MetaData(naming_convention=NAMING)


class IngestedFileRow(Base):
    """One instrument file version: what it is (`identity`, '' for a content-only claim) and
    what it holds (`sha256`). Unique per (project, identity, sha256); see Catalog.claim_ingest."""

    __tablename__ = "ingested_files"
    __table_args__ = (sa.UniqueConstraint("project", "identity", "sha256"),)

    id: Mapped[int] = mapped_column(sa.Integer, primary_key=True, autoincrement=True)
    sha256: Mapped[str] = mapped_column(sa.String(64), index=True)
    path: Mapped[str] = mapped_column(sa.Text)
    size: Mapped[int] = mapped_column(sa.BigInteger)
    media_type: Mapped[str] = mapped_column(sa.String(255), default="application/octet-stream")
    object_uri: Mapped[str] = mapped_column(sa.Text, default="")
    instrument: Mapped[str] = mapped_column(sa.String(255), default="")
    project: Mapped[str] = mapped_column(sa.String(255), default="default", index=True)
    event_id: Mapped[str] = mapped_column(sa.String(64), default="")
    status: Mapped[str] = mapped_column(sa.String(32), default="claimed", index=True)
    first_seen: Mapped[float] = mapped_column(sa.Float)
    last_seen: Mapped[float] = mapped_column(sa.Float)
    duplicate_count: Mapped[int] = mapped_column(sa.Integer, default=0)
    identity: Mapped[str] = mapped_column(sa.Text, default="")
    version: Mapped[int] = mapped_column(sa.Integer, default=1)
    supersedes: Mapped[str | None] = mapped_column(sa.String(64), nullable=True)


class LineageRow(Base):
    __tablename__ = "lineage"

    id: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    stage: Mapped[str] = mapped_column(sa.String(255), index=True)
    stage_version: Mapped[str] = mapped_column(sa.String(64), default="")
    code_version: Mapped[str] = mapped_column(sa.String(255), default="")
    params: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    model_version: Mapped[str | None] = mapped_column(sa.String(255), nullable=True)
    inputs: Mapped[list[dict[str, str]]] = mapped_column(JSONType, default=list)
    outputs: Mapped[list[dict[str, str]]] = mapped_column(JSONType, default=list)
    parent_ids: Mapped[list[str]] = mapped_column(JSONType, default=list)
    event_id: Mapped[str] = mapped_column(sa.String(64), default="", index=True)
    project: Mapped[str] = mapped_column(sa.String(255), default="default", index=True)
    status: Mapped[str] = mapped_column(sa.String(32), default="ok")
    error: Mapped[str | None] = mapped_column(sa.Text, nullable=True)
    cpu_seconds: Mapped[float] = mapped_column(sa.Float, default=0.0)
    wall_seconds: Mapped[float] = mapped_column(sa.Float, default=0.0)
    peak_rss_bytes: Mapped[int] = mapped_column(sa.BigInteger, default=0)
    gpu_seconds: Mapped[float] = mapped_column(sa.Float, default=0.0)
    host: Mapped[str] = mapped_column(sa.String(255), default="")
    executor: Mapped[str] = mapped_column(sa.String(255), default="")
    started_at: Mapped[float] = mapped_column(sa.Float, default=0.0, index=True)
    ended_at: Mapped[float] = mapped_column(sa.Float, default=0.0)
    # what the task asked of the compute, the entity it served, and its earlier attempts (ops/cost)
    request: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict, nullable=True)
    key: Mapped[str] = mapped_column(sa.String(512), default="", index=True, nullable=True)
    attempts: Mapped[list[dict[str, Any]]] = mapped_column(JSONType, default=list, nullable=True)
    # the order of writes (revision 0008): every write of a record takes the next `seq`, in commit
    # order; `first_seq` is its first write's. Readers that fold the lineage in (ops' refresher) read
    # only what is newer than the last `seq` they folded (LineageStore.lineage_changes).
    seq: Mapped[int | None] = mapped_column(sa.BigInteger, nullable=True, index=True)
    first_seq: Mapped[int | None] = mapped_column(sa.BigInteger, nullable=True)


class LineageSeqRow(Base):
    """The last lineage `seq` handed out (revision 0008): one row, updated in each lineage write's
    transaction, whose row lock orders concurrent writers on PostgreSQL (SQLite's writers are serial)."""

    __tablename__ = "lineage_seq"

    name: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    value: Mapped[int] = mapped_column(sa.BigInteger)


class LineageIORow(Base):
    """Index of lineage inputs/outputs by URI and sha256: finds the task that made an object."""

    __tablename__ = "lineage_io"

    id: Mapped[int] = mapped_column(sa.Integer, primary_key=True, autoincrement=True)
    lineage_id: Mapped[str] = mapped_column(
        sa.String(64), sa.ForeignKey("lineage.id", ondelete="CASCADE"), index=True
    )
    direction: Mapped[str] = mapped_column(sa.String(3))  # "in" | "out"
    uri: Mapped[str] = mapped_column(sa.Text, index=True)
    sha256: Mapped[str] = mapped_column(sa.String(64), default="", index=True)


class QuarantineRow(Base):
    __tablename__ = "quarantine"

    id: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    source: Mapped[str] = mapped_column(sa.Text)
    problem: Mapped[str] = mapped_column(sa.Text)
    stage: Mapped[str | None] = mapped_column(sa.String(255), nullable=True, index=True)
    payload_uri: Mapped[str | None] = mapped_column(sa.Text, nullable=True)
    project: Mapped[str] = mapped_column(sa.String(255), default="default")
    created_at: Mapped[float] = mapped_column(sa.Float, index=True)


class RunRow(Base):
    __tablename__ = "runs"

    id: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    pipeline: Mapped[str] = mapped_column(sa.String(255), index=True)
    status: Mapped[str] = mapped_column(sa.String(32))
    params: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    project: Mapped[str] = mapped_column(sa.String(255), default="default")
    started_at: Mapped[float] = mapped_column(sa.Float)
    ended_at: Mapped[float | None] = mapped_column(sa.Float, nullable=True)


class GroupStateRow(Base):
    __tablename__ = "group_state"
    __table_args__ = (sa.UniqueConstraint("stage", "group_key", "member_id"),)

    id: Mapped[int] = mapped_column(sa.Integer, primary_key=True, autoincrement=True)
    stage: Mapped[str] = mapped_column(sa.String(255))
    group_key: Mapped[str] = mapped_column(sa.String(512))
    member_id: Mapped[str] = mapped_column(sa.String(512))
    event_json: Mapped[str] = mapped_column(sa.Text)
    fired: Mapped[bool] = mapped_column(sa.Boolean, default=False)
    created_at: Mapped[float] = mapped_column(sa.Float)


class ObjectAccessRow(Base):
    """When an object was last read through the platform (revision 0007; labstream.catalog.access)."""

    __tablename__ = "object_access"

    uri: Mapped[str] = mapped_column(sa.String(1024), primary_key=True)
    last_access: Mapped[float] = mapped_column(sa.Float)


__all__ = [
    "Base",
    "GroupStateRow",
    "IngestedFileRow",
    "LineageIORow",
    "LineageRow",
    "LineageSeqRow",
    "ObjectAccessRow",
    "QuarantineRow",
    "RunRow",
]
