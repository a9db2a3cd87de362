"""SQL may call ordinary functions on the lake's tables, nothing that reads files or reveals the server
(issue 11: `duckdb_settings()` through the SQL route showed server paths)."""

from __future__ import annotations

import pyarrow as pa
import pytest

from labstream.core.errors import InputError
from labstream.lake.errors import QueryRejectedError
from labstream.lake.sql_guard import check_query

REVEALING = [
    "SELECT name, value FROM duckdb_settings()",
    "SELECT * FROM duckdb_settings() WHERE value LIKE '/%'",
    "SELECT * FROM system.main.duckdb_settings()",
    "SELECT current_setting('secret_directory')",
    "SELECT * FROM duckdb_extensions()",
    "SELECT * FROM duckdb_databases",
    "SELECT * FROM pragma_database_list",
    "SELECT * FROM pragma_platform()",
    "SELECT * FROM duckdb_temporary_files()",
    "SELECT * FROM read_csv('/etc/passwd')",
    "SELECT * FROM read_parquet('/srv/lake/**/*.parquet')",
    "SELECT * FROM glob('/etc/*')",
    "SELECT * FROM '/etc/passwd'",
    "SELECT * FROM 'other_project.parquet'",
    "SELECT * FROM query('SELECT * FROM duckdb_settings()')",
    "SELECT * FROM information_schema.tables",
    "SELECT * FROM samples WHERE x IN (SELECT value FROM duckdb_settings())",
    "WITH s AS (SELECT * FROM duckdb_settings()) SELECT * FROM s",
    "EXPLAIN SELECT * FROM duckdb_settings()",
]


@pytest.mark.parametrize("sql", REVEALING)
def test_server_revealing_sql_is_refused(sql: str) -> None:
    with pytest.raises(QueryRejectedError, match="not allowed|not a lake table"):
        check_query(sql, ["samples"])


@pytest.mark.parametrize(
    "sql",
    [
        "SELECT project, count(*), avg(read_count) AS m FROM samples GROUP BY project",
        "WITH t AS (SELECT upper(sample) AS s FROM samples) SELECT s FROM t ORDER BY s",
        "SELECT s.sample FROM samples s JOIN samples b USING (sample) WHERE s.sample LIKE 'S%'",
        "SELECT regexp_replace(sample, 'x', 'y'), strftime(now(), '%Y') FROM samples",
    ],
)
def test_ordinary_queries_pass(sql: str) -> None:
    check_query(sql, ["samples"])


@pytest.mark.parametrize("sql", REVEALING[:4] + ["SELECT * FROM duckdb_settings()"])
def test_scoped_sql_route_refuses_them(sql: str) -> None:
    from labstream.governance.scoped_sql import run_scoped_sql

    class Source:
        def tables(self) -> list[str]:
            return ["samples"]

        def schema(self, table: str) -> pa.Schema:
            return pa.schema([("sample", pa.string()), ("project", pa.string())])

        def read(self, table, filter=None, *, columns=None):  # noqa: A002
            return pa.table({"sample": ["S1"], "project": ["alpha"]})

    with pytest.raises(InputError, match="not allowed|not a lake table") as info:
        run_scoped_sql(Source(), sql, ["alpha"])
    assert "/" not in info.value.problem  # no server path in the answer
    assert run_scoped_sql(Source(), "SELECT sample FROM samples", ["alpha"]).rows == [["S1"]]
