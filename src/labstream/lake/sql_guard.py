"""What a lake query may call: the tables it is given and ordinary functions, nothing that looks around.

Why, on top of `enable_external_access = false`: a sealed DuckDB connection still answers questions
about the server itself. `duckdb_settings()` lists the secret and extension directories, other
`duckdb_*`/`pragma_*` functions list databases, files and the platform, `current_setting()` reads any
setting, `query()` runs a SQL string the checks never saw, and the errors of file functions quote the
paths they were refused. So every query is parsed by DuckDB (`json_serialize_sql`) and refused when it
calls such a function, or reads a relation that is neither one of the given tables nor its own CTE
(so `FROM '/etc/passwd'`, `information_schema.*` and system views are refused before they run).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator
from typing import Any

import duckdb

from labstream.lake.errors import QueryRejectedError

DENIED_FUNCTION = re.compile(
    r"^(duckdb_\w*|pragma_\w*|read_\w*|parquet_\w*|sniff_csv|glob|current_setting|getenv|getvariable|"
    r"query|query_table|which_secret|checkpoint|force_checkpoint|iceberg_\w*|delta_\w*|sqlite_\w*|"
    r"postgres_\w*|mysql_\w*|json_execute_serialized_sql|json_deserialize_sql|arrow_scan\w*|"
    r"seq_scan|load_\w*|install_\w*|enable_\w*|disable_\w*|test_\w*|pg_\w*|has_\w*_privilege)$",
    re.I,
)
_CALL = re.compile(r"([A-Za-z_][A-Za-z0-9_]*)\s*\(")


def check_query(sql: str, tables: Iterable[str] | None = None) -> None:
    """Raise QueryRejectedError if `sql` calls a denied function or, when `tables` is given, reads any
    relation but those tables and its own CTEs (see the module docstring)."""
    tree = _serialize(sql)
    if tree is None:  # EXPLAIN and other non-SELECT forms: no AST, so look at the calls in the text
        for name in _CALL.findall(sql):
            _check_function(sql, name)
        return
    allowed = None if tables is None else {t.lower() for t in tables} | _cte_names(tree)
    for node in _walk(tree):
        if "function_name" in node:
            _check_function(sql, str(node["function_name"]))
        if node.get("type") == "BASE_TABLE":
            _check_table(sql, node, allowed)


def _serialize(sql: str) -> dict[str, Any] | None:
    con = duckdb.connect(":memory:", config={"enable_external_access": False})
    try:
        rows = con.execute("SELECT json_serialize_sql(?)", [sql]).fetchall()
    finally:
        con.close()
    tree = json.loads(rows[0][0])
    if tree.get("error"):
        if "SELECT" in str(tree.get("error_message", "")):  # "Only SELECT statements can be serialized"
            return None
        raise QueryRejectedError(sql, f"does not parse: {tree.get('error_message', '')[:300]}")
    return tree  # type: ignore[no-any-return]


def _check_function(sql: str, name: str) -> None:
    if DENIED_FUNCTION.match(name):
        raise QueryRejectedError(
            sql,
            f"function {name}() is not allowed: it reads files or reveals the server's configuration",
            hint="query the lake tables with ordinary SQL functions",
        )


def _check_table(sql: str, node: dict[str, Any], allowed: set[str] | None) -> None:
    name = str(node.get("table_name", ""))
    schema = str(node.get("schema_name", "")).lower()
    catalog = str(node.get("catalog_name", "")).lower()
    system = name.lower().startswith(("duckdb_", "pragma_", "sqlite_", "pg_"))
    outside = schema not in ("", "main") or catalog not in ("", "memory")
    path_like = "/" in name or "\\" in name or "." in name or ":" in name
    unknown = allowed is not None and name.lower() not in allowed
    if system or outside or path_like or unknown:
        shown = ".".join(p for p in (catalog, schema, name) if p)[:80]
        raise QueryRejectedError(
            sql,
            f"relation {shown!r} is not a lake table of this query",
            hint="only the lake's tables (and the query's own WITH names) can be read",
        )


def _cte_names(tree: Any) -> set[str]:
    names: set[str] = set()
    for node in _walk(tree):
        cte = node.get("cte_map")
        if isinstance(cte, dict):
            names |= {str(entry.get("key", "")).lower() for entry in cte.get("map", [])}
    return names


def _walk(value: Any) -> Iterator[dict[str, Any]]:
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            yield item
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)


__all__ = ["DENIED_FUNCTION", "check_query"]
