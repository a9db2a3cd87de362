"""Declared schemas: platform columns, registry rules, casting and the errors bad rows raise."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pyarrow as pa
import pytest

from labstream.core.errors import ConfigError, InputError
from labstream.lake import (
    PLATFORM_COLUMNS,
    SchemaMismatchError,
    TableSchema,
    find_schema,
    get_schema,
    register_schema,
    unregister_schema,
)
from labstream.lake.schema import conform

COLS = pa.schema([pa.field("plate", pa.string(), nullable=False), ("area", pa.float64()), ("n", pa.int32())])


@pytest.fixture
def declared():
    schema = register_schema(TableSchema("schema_cells", COLS, partition_by=["plate"], description="cells"))
    yield schema
    unregister_schema("schema_cells")


def test_platform_columns_are_added_once(declared: TableSchema) -> None:
    names = declared.arrow_schema.names
    assert names[:3] == ["plate", "area", "n"]
    for f in PLATFORM_COLUMNS:
        assert names.count(f.name) == 1
        assert declared.arrow_schema.field(f.name).type == f.type
    assert declared.arrow_schema.field("_ingested_at").type == pa.timestamp("us", tz="UTC")
    # a schema that already declares a platform column keeps its own definition
    own = TableSchema("own_project", pa.schema([pa.field("project", pa.string(), nullable=False)]))
    assert own.arrow_schema.names.count("project") == 1
    assert not own.arrow_schema.field("project").nullable


def test_registry_rules(declared: TableSchema) -> None:
    assert get_schema("schema_cells") is declared
    register_schema(TableSchema("schema_cells", COLS, partition_by=["plate"]))  # same declaration: fine
    with pytest.raises(ConfigError, match="already declared"):
        register_schema(TableSchema("schema_cells", pa.schema([("other", pa.int64())])))
    with pytest.raises(ConfigError, match="no schema declared"):
        get_schema("never_declared")
    assert find_schema("never_declared") is None


@pytest.mark.parametrize("name", ["Cells", "1cells", "cells-x", "../etc", "", "a" * 80])
def test_bad_table_names(name: str) -> None:
    with pytest.raises(ConfigError, match="invalid lake table name"):
        TableSchema(name, COLS)


def test_bad_declarations() -> None:
    with pytest.raises(ConfigError, match="partition column"):
        TableSchema("p_bad", COLS, partition_by=["nope"])
    with pytest.raises(ConfigError, match="duplicate"):
        TableSchema("dup", pa.schema([("a", pa.int64()), ("a", pa.string())]))


def test_conform_casts_every_input_kind(declared: TableSchema) -> None:
    schema = declared.arrow_schema
    now = dt.datetime(2024, 5, 1, 12, 0, tzinfo=dt.UTC)
    from_rows = conform(
        "schema_cells", [{"plate": "P1", "area": 2, "n": 3}], schema, defaults={"project": "p"}
    )
    from_arrow = conform("schema_cells", pa.table({"plate": ["P1"], "area": [2], "n": [3]}), schema)
    from_pandas = conform(
        "schema_cells",
        pd.DataFrame({"plate": ["P1"], "area": [2.0], "n": [3]}),
        schema,
        defaults={"_ingested_at": now},
    )
    for t in (from_rows, from_arrow, from_pandas):
        assert t.schema == schema
        assert t.column("area").to_pylist() == [2.0]
        assert t.column("n").to_pylist() == [3]
    assert from_rows.column("project").to_pylist() == ["p"]
    assert from_arrow.column("project").to_pylist() == [None]
    assert from_pandas.column("_ingested_at").to_pylist() == [now]
    assert from_rows.column("_ingested_at").null_count == 0


@pytest.mark.parametrize(
    ("rows", "column", "problem"),
    [
        ([{"plate": "P1", "area": "big"}], "area", "'big' in row 0"),
        ([{"plate": "P1"}, {"plate": "P2", "n": "x"}], "n", "'x' in row 1"),
        ([{"plate": None}], "plate", "non-nullable"),
        ([{"area": 1.0}], "plate", "non-nullable"),
        ([{"plate": "P", "colour": "red"}], "colour", "unknown column"),
        (pa.table({"plate": ["P"], "n": [2**40]}), "n", "cannot cast"),
    ],
)
def test_bad_rows_name_table_and_column(declared: TableSchema, rows, column: str, problem: str) -> None:
    with pytest.raises(SchemaMismatchError) as info:
        conform("schema_cells", rows, declared.arrow_schema)
    err = info.value
    assert isinstance(err, InputError)
    assert err.table == "schema_cells" and err.column == column
    assert problem in str(err) and "schema_cells" in str(err)


def test_non_mapping_row_and_unknown_data_type(declared: TableSchema) -> None:
    with pytest.raises(SchemaMismatchError, match="row 1 is a list"):
        conform("schema_cells", [{"plate": "a"}, ["b"]], declared.arrow_schema)
    with pytest.raises(SchemaMismatchError, match="cannot write data of type int"):
        conform("schema_cells", 42, declared.arrow_schema)
