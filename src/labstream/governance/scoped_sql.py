"""Read-only SQL scoped to the caller's projects, enforced in the data layer.

Each query gets a fresh in-memory DuckDB connection that can reach nothing but what we hand it:
external access (files, URLs, extensions, ATTACH, COPY) is switched off and the setting locked, and the
only relations in it are Arrow tables already filtered to the caller's projects. A query therefore
cannot see another project's row however it is written: those rows were never loaded.
"""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass
from typing import Any, Protocol

import duckdb
import pyarrow as pa
import pyarrow.compute as pc

from labstream.core.errors import InputError
from labstream.lake.errors import QueryRejectedError
from labstream.lake.sql_guard import check_query

MAX_SQL = 20_000
_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


class TableSource(Protocol):
    """What the lake offers (labstream.lake.Lake fits): table names, schemas and filtered reads."""

    def tables(self) -> list[str]: ...

    def schema(self, table: str) -> pa.Schema: ...

    def read(self, table: str, filter: Any = None, *, columns: list[str] | None = None) -> pa.Table: ...  # noqa: A002

    def version(self, table: str) -> int:
        """The table's latest committed version (shown on the status page)."""


@dataclass
class QueryResult:
    columns: list[str]
    rows: list[list[Any]]
    truncated: bool


def scoped_table(source: TableSource, table: str, projects: list[str]) -> pa.Table | None:
    """The rows of `table` whose project is one of `projects`; None when the table has no project column
    (fail closed: such a table is not served)."""
    if "project" not in source.schema(table).names:
        return None
    if not projects:
        return source.schema(table).empty_table()
    return source.read(table, filter=pc.field("project").isin(projects))


def run_scoped_sql(
    source: TableSource, sql: str, projects: list[str], *, max_rows: int = 10_000, timeout_s: float = 20.0
) -> QueryResult:
    """Run one read-only SELECT over the caller's rows; anything else raises InputError."""
    if not isinstance(sql, str) or not sql.strip() or len(sql) > MAX_SQL:
        raise InputError(
            "sql", "empty or over-long query", hint=f"send one SELECT of at most {MAX_SQL} characters"
        )
    try:
        statements = duckdb.extract_statements(sql)
    except duckdb.Error as err:
        raise InputError("sql", f"cannot parse the query: {err}", hint="fix the SQL syntax") from err
    if len(statements) != 1 or statements[0].type != duckdb.StatementType.SELECT:
        raise InputError("sql", "only a single SELECT statement is allowed", hint="remove other statements")
    try:
        check_query(sql, source.tables())  # only the caller's tables, no server-revealing functions
    except QueryRejectedError as err:
        raise InputError("sql", err.problem, hint=err.hint) from err
    con = duckdb.connect(
        ":memory:",
        config={
            "enable_external_access": False,
            "autoload_known_extensions": False,
            "autoinstall_known_extensions": False,
            "lock_configuration": True,
            "threads": 1,
            "memory_limit": "1GB",
        },
    )
    try:
        words = {w.lower() for w in _IDENT.findall(sql)}
        for table in source.tables():
            if table.lower() in words:
                data = scoped_table(source, table, projects)
                if data is not None:
                    con.register(table, data)
        timer = threading.Timer(timeout_s, con.interrupt)
        timer.start()
        try:
            rel = con.sql(sql)
            columns = list(rel.columns) if rel is not None else []
            rows = _first_rows(rel, max_rows + 1) if rel is not None else []
        except duckdb.Error as err:
            raise InputError(
                "sql",
                f"query failed: {str(err).splitlines()[0][:300]}",
                hint="only the caller's lake tables are visible; files and URLs are not",
            ) from err
        finally:
            timer.cancel()
    finally:
        con.close()
    truncated = len(rows) > max_rows
    return QueryResult(columns=columns, rows=rows[:max_rows], truncated=truncated)


def _first_rows(rel: duckdb.DuckDBPyRelation, n: int) -> list[list[Any]]:
    """Up to n rows, read through Arrow in batches (bounded memory; Arrow converts time zones itself)."""
    reader = rel.to_arrow_reader(min(n, 10_000))
    rows: list[list[Any]] = []
    for batch in reader:
        cols = [c.to_pylist() for c in batch.columns]
        rows.extend([list(r) for r in zip(*cols, strict=True)][: n - len(rows)])
        if len(rows) >= n:
            break
    return rows
