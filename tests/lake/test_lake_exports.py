"""Pin the public API of labstream.lake (httpx-style), so a change to it is a deliberate one."""

from __future__ import annotations

import labstream.lake as lake


def test_lake_exports() -> None:
    assert sorted(lake.__all__) == sorted(
        [
            "DEFAULT_RETENTION_HOURS",
            "PLATFORM_COLUMNS",
            "FlushResult",
            "Lake",
            "LakeError",
            "LakeSQL",
            "LakeTables",
            "LakeWriter",
            "QueryRejectedError",
            "SchemaMismatchError",
            "TableSchema",
            "check_read_only",
            "find_schema",
            "get_schema",
            "open_lake",
            "register_schema",
            "registered_schemas",
            "txn_id",
            "unregister_schema",
        ]
    )
    for name in lake.__all__:
        assert getattr(lake, name) is not None
