"""Declared table schemas and the conversion of incoming rows to them.

Science modules declare their tables once (`register_schema(TableSchema(...))`) so every writer, in any
process, casts rows the same way and a wrong row fails loudly, naming the table and column, instead of
silently widening the table. Every table carries the platform columns `lineage_id`, `project` and
`_ingested_at`: they are what lets a row answer "where did I come from, who may read me, when".
"""

from __future__ import annotations

import re
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from fnmatch import fnmatchcase
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from labstream.core.errors import ConfigError
from labstream.lake.errors import SchemaMismatchError

__all__ = [
    "PLATFORM_COLUMNS",
    "TableSchema",
    "conform",
    "find_schema",
    "get_schema",
    "register_schema",
    "registered_schemas",
    "to_arrow",
    "unregister_schema",
    "validate_table_name",
]

PLATFORM_COLUMNS: tuple[pa.Field, ...] = (
    pa.field("lineage_id", pa.string()),
    pa.field("project", pa.string()),
    pa.field("_ingested_at", pa.timestamp("us", tz="UTC")),
)

_PLATFORM_DOCS = {
    "lineage_id": "the task that wrote the row: `labstream lineage ID` walks back to the instrument file",
    "project": "the project the row belongs to; governance scopes every read by it",
    "_ingested_at": "when the row was committed to the lake (UTC)",
}

_NAME = re.compile(r"^[a-z][a-z0-9_]{0,62}$")


def validate_table_name(name: str) -> str:
    """Table names double as folder names and SQL identifiers: keep them boring."""
    if not isinstance(name, str) or not _NAME.match(name):
        raise ConfigError(
            f"invalid lake table name {name!r}; use lower-case letters, digits and '_', letter first"
        )
    return name


def _delta_normalised(schema: pa.Schema, name: str) -> pa.Schema:
    """The schema as Delta stores it (e.g. uint32 -> int32, large_string -> string), so that what we
    cast to is exactly what a reader gets back."""
    from deltalake import Schema as DeltaSchema

    try:
        return pa.schema(DeltaSchema.from_arrow(schema))
    except Exception as err:  # deltalake raises several kinds for unsupported types
        raise ConfigError(f"table {name!r}: schema not storable in Delta Lake: {err}") from err


@dataclass(frozen=True)
class TableSchema:
    """A lake table as a science module declares it. `columns` need not list the platform columns."""

    name: str
    columns: pa.Schema
    partition_by: Sequence[str] = field(default_factory=tuple)
    description: str = ""
    # The data dictionary: column name (or a glob such as `*_Intensity_*` for a family of generated
    # columns; the longest matching glob wins) -> what it
    # holds, with its unit and coordinate base; `latest` says which rows are current in a table that
    # keeps every refresh (empty: every row is current).
    docs: Mapping[str, str] = field(default_factory=dict, repr=False, compare=False)
    latest: str = field(default="", repr=False, compare=False)
    arrow_schema: pa.Schema = field(init=False, repr=False, compare=False)

    def doc_of(self, column: str) -> str:
        """The dictionary entry of `column`: its own, else the longest glob that matches, else ''."""
        if column in self.docs:
            return self.docs[column]
        families = [k for k in self.docs if "*" in k and fnmatchcase(column, k)]
        return self.docs[max(families, key=len)] if families else _PLATFORM_DOCS.get(column, "")

    def __post_init__(self) -> None:
        validate_table_name(self.name)
        if not isinstance(self.columns, pa.Schema):
            raise ConfigError(
                f"table {self.name!r}: columns must be a pyarrow.Schema, got {type(self.columns)}"
            )
        names = list(self.columns.names)
        if len(set(names)) != len(names):
            raise ConfigError(f"table {self.name!r}: duplicate column names in {names}")
        fields = list(self.columns)
        for pf in PLATFORM_COLUMNS:
            if pf.name not in names:
                fields.append(pf)
        full = _delta_normalised(pa.schema(fields), self.name)
        object.__setattr__(self, "partition_by", tuple(self.partition_by))
        for col in self.partition_by:
            if col not in full.names:
                raise ConfigError(f"table {self.name!r}: partition column {col!r} is not a column")
        object.__setattr__(self, "arrow_schema", full)


_REGISTRY: dict[str, TableSchema] = {}
_LOCK = threading.Lock()


def register_schema(schema: TableSchema, *, replace: bool = False) -> TableSchema:
    """Declare a table. Registering the same declaration again is a no-op (modules get re-imported);
    a different one under a taken name is an error unless `replace`."""
    with _LOCK:
        old = _REGISTRY.get(schema.name)
        if old is not None and not replace and old.arrow_schema != schema.arrow_schema:
            raise ConfigError(
                f"lake table {schema.name!r} is already declared with another schema; "
                "rename the table or pass replace=True"
            )
        _REGISTRY[schema.name] = schema
    return schema


def unregister_schema(name: str) -> None:
    """Forget a declaration (tests; tables already in the lake keep their schema)."""
    with _LOCK:
        _REGISTRY.pop(name, None)


def find_schema(name: str) -> TableSchema | None:
    return _REGISTRY.get(name)


def get_schema(name: str) -> TableSchema:
    found = _REGISTRY.get(name)
    if found is None:
        known = ", ".join(sorted(_REGISTRY)) or "none"
        raise ConfigError(
            f"no schema declared for lake table {name!r} (declared: {known}); call register_schema"
        )
    return found


def registered_schemas() -> list[str]:
    return sorted(_REGISTRY)


def to_arrow(table: str, data: Any) -> pa.Table:
    """Accept a pyarrow Table/RecordBatch, a list of dicts, a pandas or polars DataFrame."""
    if isinstance(data, pa.Table):
        return data
    if isinstance(data, pa.RecordBatch):
        return pa.Table.from_batches([data])
    if isinstance(data, list):
        raise TypeError("lists are converted column by column in conform()")
    if type(data).__module__.startswith("pandas"):
        return pa.Table.from_pandas(data, preserve_index=False)
    if hasattr(data, "__arrow_c_stream__"):
        return pa.table(data)
    raise SchemaMismatchError(
        table,
        None,
        f"cannot write data of type {type(data).__name__}",
        hint="pass a pyarrow.Table, a list of dicts or a DataFrame",
    )


def _from_rows(table: str, rows: list[Any], schema: pa.Schema) -> dict[str, pa.Array]:
    for i, row in enumerate(rows):
        if not isinstance(row, Mapping):
            raise SchemaMismatchError(table, None, f"row {i} is a {type(row).__name__}, not a mapping")
    keys: set[str] = set().union(*(r.keys() for r in rows)) if rows else set()
    extra = sorted(keys - set(schema.names))
    if extra:
        raise SchemaMismatchError(table, extra[0], f"unknown column(s) {extra}; declared: {schema.names}")
    out: dict[str, pa.Array] = {}
    for f in schema:
        if f.name not in keys:
            continue
        values = [r.get(f.name) for r in rows]
        try:
            out[f.name] = pa.array(values, type=f.type)
        except (pa.ArrowInvalid, pa.ArrowTypeError, OverflowError, TypeError, ValueError) as err:
            bad = _first_bad(values, f.type)
            raise SchemaMismatchError(
                table, f.name, f"value {values[bad]!r} in row {bad} is not {f.type} ({err})"
            ) from err
    return out


def _first_bad(values: list[Any], typ: pa.DataType) -> int:
    for i, v in enumerate(values):
        try:
            pa.array([v], type=typ)
        except Exception:  # noqa: BLE001 - any failure marks the culprit
            return i
    return 0


def _cast(
    table: str, name: str, col: pa.ChunkedArray | pa.Array, typ: pa.DataType
) -> pa.ChunkedArray | pa.Array:
    if col.type == typ:
        return col
    try:
        return pc.cast(col, options=pc.CastOptions(target_type=typ, allow_time_truncate=True))
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError, pa.ArrowTypeError) as err:
        raise SchemaMismatchError(table, name, f"cannot cast {col.type} to {typ}: {err}") from err


def conform(
    table: str,
    data: Any,
    schema: pa.Schema,
    *,
    defaults: Mapping[str, Any] | None = None,
) -> pa.Table:
    """Cast `data` to exactly `schema` (column order, types, nullability).

    Missing nullable columns become null; `defaults` fills missing or null values of the named columns
    (the writer passes lineage_id, project, _ingested_at). Extra columns, failed casts and nulls in
    non-nullable columns raise SchemaMismatchError naming the table and the column.
    """
    defaults = {"_ingested_at": datetime.now(UTC), **(defaults or {})}
    if isinstance(data, list):
        columns: dict[str, Any] = _from_rows(table, data, schema)
        n = len(data)
    else:
        arrow = to_arrow(table, data)
        extra = [c for c in arrow.column_names if c not in schema.names]
        if extra:
            raise SchemaMismatchError(table, extra[0], f"unknown column(s) {extra}; declared: {schema.names}")
        columns = {c: arrow.column(c) for c in arrow.column_names}
        n = arrow.num_rows
    arrays = []
    for f in schema:
        col = columns.get(f.name)
        if col is None:
            if f.name in defaults and defaults[f.name] is not None:
                col = pa.repeat(pa.scalar(defaults[f.name], type=f.type), n)
            else:
                col = pa.nulls(n, type=f.type)
        col = _cast(table, f.name, col, f.type)
        if col.null_count and f.name in defaults and defaults[f.name] is not None:
            col = pc.fill_null(col, pa.scalar(defaults[f.name], type=f.type))
        if col.null_count and not f.nullable:
            raise SchemaMismatchError(
                table, f.name, f"{col.null_count} null value(s) in a non-nullable column"
            )
        arrays.append(col)
    return pa.Table.from_arrays(arrays, schema=schema)
