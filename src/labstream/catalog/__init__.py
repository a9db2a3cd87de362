"""Catalog: metadata in SQL (SQLite embedded, PostgreSQL at scale) with packaged Alembic migrations.

cat = open_catalog("sqlite:///.labstream/catalog.db").upgrade()
if cat.claim_ingest(sha, path=p, size=n): ...
"""

from __future__ import annotations

from labstream.catalog.base import CatalogStore
from labstream.catalog.db import Catalog
from labstream.catalog.records import (
    GroupMember,
    IngestedFile,
    IORef,
    LineageRecord,
    QuarantineRecord,
    RunRecord,
)
from labstream.core.registry import load

# scheme -> ("module:Class", extra to install). Both SQL dialects are the SQLAlchemy catalog.
REGISTRY: dict[str, tuple[str, str]] = dict.fromkeys(
    ("sqlite", "postgres", "postgresql", "postgresql+psycopg"), ("labstream.catalog.db:Catalog", "core")
)


def open_catalog(url: str) -> CatalogStore:
    """The catalog at `url` (`sqlite:///path.db` or `postgresql://user@host/db`), not yet upgraded."""
    cls = load(REGISTRY, url, "catalog")
    return cls(url)  # type: ignore[no-any-return]


__all__ = [
    "Catalog",
    "CatalogStore",
    "GroupMember",
    "IORef",
    "IngestedFile",
    "LineageRecord",
    "QuarantineRecord",
    "RunRecord",
    "open_catalog",
]
