"""Governance tables: users, projects, grants, API tokens, compute sites, wrapped data keys,
pseudonym mappings, registered data objects (DRS/htsget) and submitted runs (WES).

They live in the catalog database (its Alembic baseline creates them) on the catalog's declarative
Base. The audit log is deliberately NOT here: it has its own file (see audit.py).
"""

from __future__ import annotations

import time
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    Float,
    ForeignKey,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

try:  # the catalog's Base once it exists, so one metadata holds every table
    from labstream.catalog.models import Base  # type: ignore[attr-defined]
except ImportError:  # pragma: no cover - only until the catalog lands

    class Base(DeclarativeBase):  # type: ignore[no-redef]
        pass


def _now() -> float:
    return time.time()


class User(Base):
    __tablename__ = "gov_users"
    name: Mapped[str] = mapped_column(String(128), primary_key=True)
    email: Mapped[str] = mapped_column(String(256), default="")
    superuser: Mapped[bool] = mapped_column(Boolean, default=False)  # may break glass, manage users
    disabled: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[float] = mapped_column(Float, default=_now)


class Project(Base):
    __tablename__ = "gov_projects"
    name: Mapped[str] = mapped_column(String(128), primary_key=True)
    region: Mapped[str] = mapped_column(String(64), default="local")
    allowed_regions: Mapped[list[str]] = mapped_column(JSON, default=list)  # beyond `region`
    created_at: Mapped[float] = mapped_column(Float, default=_now)


class Grant(Base):
    __tablename__ = "gov_grants"
    __table_args__ = (UniqueConstraint("user", "project", "role"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    user: Mapped[str] = mapped_column(ForeignKey("gov_users.name", ondelete="CASCADE"))
    project: Mapped[str] = mapped_column(ForeignKey("gov_projects.name", ondelete="CASCADE"))
    role: Mapped[str] = mapped_column(String(32))


class ApiToken(Base):
    __tablename__ = "gov_tokens"
    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    user: Mapped[str] = mapped_column(ForeignKey("gov_users.name", ondelete="CASCADE"))
    token_sha256: Mapped[str] = mapped_column(String(64), unique=True, index=True)
    label: Mapped[str] = mapped_column(String(128), default="")
    created_at: Mapped[float] = mapped_column(Float, default=_now)
    expires_at: Mapped[float | None] = mapped_column(Float, nullable=True)
    revoked_at: Mapped[float | None] = mapped_column(Float, nullable=True)


class ComputeSite(Base):
    __tablename__ = "gov_sites"
    name: Mapped[str] = mapped_column(String(128), primary_key=True)
    region: Mapped[str] = mapped_column(String(64))
    executor_url: Mapped[str] = mapped_column(String(512), default="local")


class DataKeyRow(Base):
    __tablename__ = "gov_data_keys"
    key_id: Mapped[str] = mapped_column(String(160), primary_key=True)
    master_id: Mapped[str] = mapped_column(String(64))
    blob: Mapped[bytes] = mapped_column(LargeBinary)


class PseudonymRow(Base):
    __tablename__ = "gov_pseudonyms"
    pseudonym: Mapped[str] = mapped_column(String(64), primary_key=True)
    project: Mapped[str] = mapped_column(String(128), index=True)
    kind: Mapped[str] = mapped_column(String(32))
    ciphertext: Mapped[bytes] = mapped_column(LargeBinary)  # the original, encrypted with the project key


class DataObject(Base):
    """A stored object served by DRS / htsget / reports: the id is opaque, the URI never leaves the server."""

    __tablename__ = "gov_objects"
    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    project: Mapped[str] = mapped_column(String(128), index=True)
    kind: Mapped[str] = mapped_column(String(32))  # bam | vcf | report | raw
    name: Mapped[str] = mapped_column(String(256), default="")
    uri: Mapped[str] = mapped_column(String(1024))
    index_uri: Mapped[str | None] = mapped_column(String(1024), nullable=True)
    sha256: Mapped[str] = mapped_column(String(64))  # of the plaintext
    size: Mapped[int] = mapped_column(Integer)  # of the plaintext
    media_type: Mapped[str] = mapped_column(String(128), default="application/octet-stream")
    encrypted: Mapped[bool] = mapped_column(Boolean, default=True)
    patient_linked: Mapped[bool] = mapped_column(Boolean, default=False)
    sample: Mapped[str] = mapped_column(String(128), default="")
    run_id: Mapped[str] = mapped_column(String(64), default="")
    created_at: Mapped[float] = mapped_column(Float, default=_now)


class RunRow(Base):
    """A pipeline run submitted through the API or WES."""

    __tablename__ = "gov_runs"
    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    project: Mapped[str] = mapped_column(String(128), index=True)
    user: Mapped[str] = mapped_column(String(128))
    pipeline: Mapped[str] = mapped_column(String(128))
    params: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    tags: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    state: Mapped[str] = mapped_column(String(32), default="QUEUED")
    created_at: Mapped[float] = mapped_column(Float, default=_now)
    updated_at: Mapped[float] = mapped_column(Float, default=_now)
    # filled by the RunExecutor
    started_at: Mapped[float | None] = mapped_column(Float, nullable=True)
    ended_at: Mapped[float | None] = mapped_column(Float, nullable=True)
    outputs: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    error: Mapped[str | None] = mapped_column(Text, nullable=True)


class ReportVersion(Base):
    """One version of a clinical report: `object_id` is its registered object,
    `parent_id` the version it was made from ('' for the pipeline's draft, which has no row)."""

    __tablename__ = "gov_report_versions"
    object_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    report_id: Mapped[str] = mapped_column(String(64), index=True)  # the first draft's object id
    version: Mapped[int] = mapped_column(Integer)
    state: Mapped[str] = mapped_column(String(16))  # draft | signed
    parent_id: Mapped[str] = mapped_column(String(64), default="", index=True, unique=True)
    reason: Mapped[str] = mapped_column(Text, default="")
    signed_by: Mapped[str | None] = mapped_column(String(128), nullable=True)
    signed_at: Mapped[float | None] = mapped_column(Float, nullable=True)
    project: Mapped[str] = mapped_column(String(128), default="")
    created_at: Mapped[float] = mapped_column(Float, default=_now)


GOVERNANCE_TABLES = [
    m.__table__
    for m in (
        User,
        Project,
        Grant,
        ApiToken,
        ComputeSite,
        DataKeyRow,
        PseudonymRow,
        DataObject,
        RunRow,
        ReportVersion,
    )
]
