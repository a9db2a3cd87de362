"""Errors of the lake, under the core hierarchy.

StorageError
 └── LakeError               a Delta table operation failed or was refused (vacuum, commit)
InputError
 ├── SchemaMismatchError     rows do not fit a table's declared schema (names table and column)
 └── QueryRejectedError      SQL that is not a read-only query, or a query that failed
"""

from __future__ import annotations

from labstream.core.errors import InputError, StorageError


class LakeError(StorageError):
    """A lake table operation failed or was refused."""


class SchemaMismatchError(InputError):
    """Rows that do not fit the declared schema of a table; carries the table and column."""

    def __init__(self, table: str, column: str | None, problem: str, *, hint: str = "") -> None:
        self.table = table
        self.column = column
        where = f"lake table {table!r}" + (f", column {column!r}" if column else "")
        super().__init__(where, problem, hint=hint or "fix the rows or the table's declared TableSchema")


class QueryRejectedError(InputError):
    """A SQL statement the lake will not run (not read-only) or that failed."""

    def __init__(self, sql: str, problem: str, *, hint: str = "") -> None:
        self.sql = sql
        preview = " ".join(sql.split())[:120]
        super().__init__(f"SQL {preview!r}", problem, hint=hint)
