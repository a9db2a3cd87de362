"""Catalog: metadata in SQL (SQLite embedded, PostgreSQL at scale) with packaged Alembic migrations.

cat = Catalog("sqlite:///.labstream/catalog.db").upgrade()
if cat.claim_ingest(sha, path=p, size=n): ...
"""

from labstream.catalog.db import Catalog
from labstream.catalog.records import (
    GroupMember,
    IngestedFile,
    IORef,
    LineageRecord,
    QuarantineRecord,
    RunRecord,
)

__all__ = [
    "Catalog",
    "GroupMember",
    "IORef",
    "IngestedFile",
    "LineageRecord",
    "QuarantineRecord",
    "RunRecord",
]
