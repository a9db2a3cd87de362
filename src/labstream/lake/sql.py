"""Read-only SQL over every lake table, with DuckDB in process.

Each query gets a fresh in-memory DuckDB connection in which every Delta table is a view over its
current snapshot (`DeltaTable.to_pyarrow_dataset()`: DuckDB's own delta extension cannot be downloaded
here, and the Arrow dataset gives the same filter and projection pushdown), and every declared view
(lake/views.py) whose tables exist is created. The connection is then
sealed: external file access off (no read_csv('/etc/…'), COPY, ATTACH, INSTALL), Python replacement
scans off (no reading the caller's variables), configuration locked. Only SELECT / WITH / VALUES /
FROM / DESCRIBE / SHOW / SUMMARIZE / EXPLAIN statements are accepted, one per call.
"""

from __future__ import annotations

from typing import Any

import duckdb
import pyarrow as pa

from labstream.lake.base import LakeTables
from labstream.lake.errors import QueryRejectedError
from labstream.lake.sql_guard import check_query
from labstream.lake.views import registered_views

__all__ = ["LakeSQL", "check_read_only"]

_ALLOWED = {duckdb.StatementType.SELECT, duckdb.StatementType.EXPLAIN}


def check_read_only(sql: str) -> None:
    """Raise QueryRejectedError unless `sql` is exactly one read-only statement (parsed by DuckDB)."""
    if not sql or not sql.strip():
        raise QueryRejectedError(sql, "empty query", hint="write a SELECT statement")
    try:
        statements = duckdb.extract_statements(sql)
    except duckdb.Error as err:
        raise QueryRejectedError(sql, f"does not parse: {err}") from err
    if len(statements) != 1:
        raise QueryRejectedError(sql, f"{len(statements)} statements; send exactly one")
    kind = statements[0].type
    if kind not in _ALLOWED:
        raise QueryRejectedError(
            sql,
            f"{kind.name} statements are not allowed: the lake is read-only here",
            hint="use SELECT, WITH, DESCRIBE, SHOW or EXPLAIN; write through the pipeline or Lake.append",
        )
    check_query(sql)  # no functions that read files or reveal the server (lake/sql_guard.py)


class LakeSQL:
    """`LakeSQL(lake).query("SELECT …")` -> pyarrow.Table over the current snapshot of every table."""

    def __init__(
        self, lake: LakeTables, *, threads: int | None = None, memory_limit: str | None = None
    ) -> None:
        self.lake = lake
        self.threads = threads
        self.memory_limit = memory_limit

    def connect(self) -> duckdb.DuckDBPyConnection:
        """A sealed connection with every table registered; the caller closes it."""
        config: dict[str, Any] = {
            "python_enable_replacements": False,
            "autoinstall_known_extensions": False,
            "autoload_known_extensions": False,
        }
        if self.threads:
            config["threads"] = self.threads
        if self.memory_limit:
            config["memory_limit"] = self.memory_limit
        con = duckdb.connect(":memory:", config=config)
        try:
            tables = set(self.lake.tables())
            for name in sorted(tables):
                con.register(name, self.lake.dataset(name))
            for view in registered_views():  # declared views whose tables exist (lake/views.py)
                if set(view.tables) <= tables:
                    con.execute(f"CREATE VIEW {view.name} AS {view.sql}")
            con.execute("SET enable_external_access = false")
            con.execute("SET lock_configuration = true")
        except Exception:
            con.close()
            raise
        return con

    def query(self, sql: str) -> pa.Table:
        check_read_only(sql)
        con = self.connect()
        try:
            return con.sql(sql).to_arrow_table()
        except duckdb.CatalogException as err:  # DuckDB's own "did you mean" offers its system tables
            problem = str(err).split("\n")[0]
            names = [r[0] for r in con.execute("SELECT table_name FROM information_schema.tables").fetchall()]
            hint = (
                f"the lake has {', '.join(sorted(names))}"
                if names
                else "the lake has no table yet: run a pipeline first"
            )
            raise QueryRejectedError(sql, f"{err.__class__.__name__}: {problem}", hint=hint) from err
        except duckdb.Error as err:
            raise QueryRejectedError(sql, f"{err.__class__.__name__}: {err}") from err
        finally:
            con.close()
