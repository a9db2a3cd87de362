"""`labstream sql` output: a query result for people (a rich table) or for tools (csv, json, parquet)."""

from __future__ import annotations

import io
import json
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from labstream.core.errors import InputError

__all__ = ["FORMATS", "format_table"]

FORMATS = ("table", "csv", "json", "parquet")


def _json_default(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, bytes):
        return value.hex()
    return str(value)


def _flatten_nested(table: pa.Table) -> pa.Table:
    """CSV has no lists or structs: write those cells as JSON text."""
    cols = []
    for name, col in zip(table.column_names, table.columns, strict=True):
        if pa.types.is_nested(col.type):
            text = [None if v is None else json.dumps(v, default=_json_default) for v in col.to_pylist()]
            col = pa.chunked_array([pa.array(text, type=pa.string())])
        cols.append((name, col))
    return pa.table(dict(cols))


def _rich(table: pa.Table, max_rows: int | None, title: str | None) -> str:
    from rich.console import Console
    from rich.table import Table

    shown = table if max_rows is None else table.slice(0, max_rows)
    caption = None
    if shown.num_rows < table.num_rows:
        caption = f"{shown.num_rows} of {table.num_rows} rows shown"
    else:
        caption = f"{table.num_rows} row{'s' if table.num_rows != 1 else ''}"
    out = Table(title=title, caption=caption, show_lines=False)
    for f in table.schema:
        numeric = pa.types.is_integer(f.type) or pa.types.is_floating(f.type) or pa.types.is_decimal(f.type)
        out.add_column(f.name, justify="right" if numeric else "left", overflow="fold")
    for row in shown.to_pylist():
        out.add_row(
            *("" if v is None else (f"{v:.6g}" if isinstance(v, float) else str(v)) for v in row.values())
        )
    console = Console(record=True, width=200, file=io.StringIO(), color_system=None)
    console.print(out)
    return console.export_text()


def format_table(
    table: pa.Table,
    fmt: str = "table",
    *,
    path: str | Path | None = None,
    max_rows: int | None = 200,
    title: str | None = None,
) -> str | bytes:
    """`table` as text (table, csv, json: str) or Parquet (bytes); also written to `path` when given.

    `max_rows` limits only the human table; csv, json and parquet always carry every row.
    """
    if fmt not in FORMATS:
        raise InputError(
            "--format", f"unknown output format {fmt!r}", hint=f"use one of {', '.join(FORMATS)}"
        )
    result: str | bytes
    if fmt == "table":
        result = _rich(table, max_rows, title)
    elif fmt == "csv":
        buf = io.BytesIO()
        pacsv.write_csv(_flatten_nested(table), buf)
        result = buf.getvalue().decode()
    elif fmt == "json":
        result = json.dumps(table.to_pylist(), default=_json_default, indent=None) + "\n"
    else:
        buf = io.BytesIO()
        pq.write_table(table, buf)
        result = buf.getvalue()
    if path is not None:
        target = Path(path)
        if isinstance(result, bytes):
            target.write_bytes(result)
        else:
            target.write_text(result)
    return result
