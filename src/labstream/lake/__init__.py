"""The lake: Delta Lake tables with declared schemas, idempotent micro-batched writes, and read-only
DuckDB SQL over all of them.

    register_schema(TableSchema("cells", pa.schema([...]), partition_by=["plate"]))
    lake = open_lake(settings.lake_url)          # folder, or a storage-registry URL (s3://, gs://)
    lake.append("cells", rows, txn=(txn_id(group, topic, partition), offset))   # False if replayed
    with LakeWriter(lake, max_rows=5000, max_seconds=1.0) as w: w.add("cells", rows, txn=...)
    LakeSQL(lake).query("SELECT plate, count(*) FROM cells GROUP BY plate")     # -> pyarrow.Table
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from labstream.lake.base import LakeTables
from labstream.lake.delta import DEFAULT_RETENTION_HOURS, Lake, txn_id
from labstream.lake.errors import LakeError, QueryRejectedError, SchemaMismatchError
from labstream.lake.schema import (
    PLATFORM_COLUMNS,
    TableSchema,
    find_schema,
    get_schema,
    register_schema,
    registered_schemas,
    unregister_schema,
)
from labstream.lake.sql import LakeSQL, check_read_only
from labstream.lake.views import LakeView, latest_view, register_view, registered_views
from labstream.lake.writer import FlushResult, LakeWriter

__all__ = [
    "DEFAULT_RETENTION_HOURS",
    "PLATFORM_COLUMNS",
    "FlushResult",
    "Lake",
    "LakeError",
    "LakeSQL",
    "LakeView",
    "LakeTables",
    "LakeWriter",
    "QueryRejectedError",
    "SchemaMismatchError",
    "TableSchema",
    "check_read_only",
    "find_schema",
    "get_schema",
    "latest_view",
    "open_lake",
    "register_schema",
    "register_view",
    "registered_schemas",
    "registered_views",
    "txn_id",
    "unregister_schema",
]


def open_lake(url: str | Path | None = None, storage_options: Mapping[str, str] | None = None) -> LakeTables:
    """The lake at `url`, or at the configured `lake_url` (LABSTREAM_LAKE_URL, default <home>/lake)."""
    if url is None:
        from labstream.core.settings import Settings

        url = Settings().lake_url
    return Lake(url, storage_options)
