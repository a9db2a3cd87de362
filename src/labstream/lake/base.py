"""The lake contract: named tables with declared schemas, idempotent appends, snapshots to read.

Contract (the Delta implementation, `labstream.lake.delta.Lake`, is the reference):
- A table is created (version 0, no rows) on first use with its declared schema; every append or
  commit is one new version; `version(table)` is the latest.
- `append(table, rows, txn=(app_id, version))` is idempotent: if the table already holds a
  transaction for `app_id` at `version` or later, nothing is written and False is returned; otherwise
  rows and transaction commit atomically. `commit(table, rows, txns=...)` writes rows and several
  transactions as one version WITHOUT checking them (callers check `txn_version` first); it returns
  the version, or None when there were no rows. This is step 2 of the runtime's batch commit.
- One writer per app_id at a time; writers with distinct app_ids may commit concurrently from any
  number of processes.
- Rows are cast to the declared schema (`resolve_schema`); a mismatch raises SchemaMismatchError (an
  InputError: bad rows, never retried). A failed write raises LakeError and leaves the table as it was.
- Reads (`read`, `dataset`) see one snapshot; `version=` reads an older one (time travel) or raises
  LakeError when it is gone (vacuumed) or never was. An unknown table raises LakeError naming the
  tables there are.
- The root URL's scheme is resolved by the storage registry (`labstream.objects.storage`), shared
  with the object store; an unknown scheme raises ConfigError naming the known ones.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol, TypedDict, Unpack, runtime_checkable

import pyarrow as pa
import pyarrow.dataset as pads

from labstream.lake.schema import TableSchema

DEFAULT_RETENTION_HOURS = 168  # Delta's default deletedFileRetentionDuration (7 days)


class RowFill(TypedDict, total=False):
    """The platform columns that `append`, `commit` and `LakeWriter.add` fill where the rows leave them
    missing or null: keyword arguments, None when not given."""

    lineage_id: str | None
    project: str | None


def row_fill(fill: Mapping[str, Any]) -> tuple[str | None, str | None]:
    """(lineage_id, project) of `fill`; another key is a TypeError, as an unknown keyword argument is."""
    unknown = sorted(set(fill) - set(RowFill.__annotations__))
    if unknown:
        raise TypeError(f"unexpected keyword argument(s) {unknown}; the rows' fill is lineage_id, project")
    return fill.get("lineage_id"), fill.get("project")


@runtime_checkable
class LakeTables(Protocol):
    """Every lake capability the platform uses; see the module docstring for the contract."""

    url: str
    root: str
    is_local: bool
    storage_options: dict[str, str]
    """deltalake (object_store) options; DuckDB and other readers reach the tables with them."""

    def table_uri(self, table: str) -> str: ...

    def tables(self) -> list[str]: ...

    def exists(self, table: str) -> bool: ...

    def ensure_table(self, schema: TableSchema) -> None: ...

    def schema(self, table: str) -> pa.Schema: ...

    def resolve_schema(self, table: str, data: Any) -> pa.Schema: ...

    def append(
        self,
        table: str,
        data: Any,
        *,
        txn: tuple[str, int] | None = None,
        also: Mapping[str, int] | None = None,
        **fill: Unpack[RowFill],
    ) -> bool: ...

    def commit(
        self, table: str, data: Any, *, txns: Mapping[str, int] | None = None, **fill: Unpack[RowFill]
    ) -> int | None: ...

    def txn_version(self, table: str, app_id: str) -> int | None: ...

    def dataset(self, table: str, *, version: int | None = None) -> pads.Dataset: ...

    def read(
        self,
        table: str,
        filter: pads.Expression | list[Any] | None = None,  # noqa: A002 - the name the API promises
        *,
        columns: list[str] | None = None,
        version: int | None = None,
    ) -> pa.Table: ...

    def version(self, table: str) -> int: ...

    def history(self, table: str, limit: int | None = None) -> list[dict[str, Any]]: ...

    def compact(self, table: str, *, target_size: int | None = None) -> dict[str, Any]: ...

    def vacuum(
        self,
        table: str,
        retention_hours: int = DEFAULT_RETENTION_HOURS,
        *,
        force: bool = False,
        dry_run: bool = False,
    ) -> list[str]: ...


__all__ = ["DEFAULT_RETENTION_HOURS", "LakeTables", "RowFill", "row_fill"]
