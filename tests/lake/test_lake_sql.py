"""Read-only DuckDB SQL over the lake's Delta tables."""

from __future__ import annotations

import pandas as pd
import pytest

from labstream.core.errors import InputError
from labstream.lake import Lake, LakeSQL, QueryRejectedError, check_read_only


@pytest.fixture
def lake(tmp_path) -> Lake:
    lake = Lake(tmp_path / "lake")
    lake.append("samples", [{"sample": f"S{i}", "tissue": "blood" if i % 2 else "liver"} for i in range(6)])
    lake.append("calls", [{"sample": f"S{i % 6}", "pos": 1000 + i, "qual": float(i)} for i in range(30)])
    return lake


def test_join_two_tables(lake: Lake) -> None:
    got = LakeSQL(lake).query(
        "SELECT s.tissue, count(*) AS n, sum(v.qual) AS q FROM calls v JOIN samples s USING (sample) "
        "GROUP BY s.tissue ORDER BY s.tissue"
    )
    # the same join computed independently with pandas
    v = lake.read("calls").to_pandas()
    s = lake.read("samples").to_pandas()
    expect = v.merge(s, on="sample").groupby("tissue").agg(n=("pos", "size"), q=("qual", "sum")).reset_index()
    assert got.column("tissue").to_pylist() == expect["tissue"].tolist()
    assert got.column("n").to_pylist() == expect["n"].tolist()
    assert got.column("q").to_pylist() == pytest.approx(expect["q"].tolist())


def test_queries_see_the_latest_snapshot(lake: Lake) -> None:
    sql = LakeSQL(lake)
    assert sql.query("SELECT count(*) AS n FROM samples").column("n")[0].as_py() == 6
    lake.append("samples", [{"sample": "S99", "tissue": "skin"}])
    assert sql.query("SELECT count(*) AS n FROM samples").column("n")[0].as_py() == 7
    lake.append("extra", [{"k": 1}])
    assert "extra" in sql.query("SHOW TABLES").column("name").to_pylist()


@pytest.mark.parametrize(
    "query",
    [
        "WITH t AS (SELECT * FROM samples) SELECT count(*) FROM t",
        "DESCRIBE calls",
        "SHOW TABLES",
        "EXPLAIN SELECT * FROM calls WHERE pos > 1010",
        "SUMMARIZE calls",
        "FROM samples LIMIT 2",
    ],
)
def test_read_only_statements_run(lake: Lake, query: str) -> None:
    assert LakeSQL(lake).query(query).num_rows >= 1


@pytest.mark.parametrize(
    ("query", "problem"),
    [
        ("DROP TABLE samples", "DROP statements are not allowed"),
        ("INSERT INTO samples VALUES ('x', 'y')", "INSERT statements are not allowed"),
        ("COPY samples TO 'out.csv'", "COPY statements are not allowed"),
        ("CREATE TABLE x AS SELECT 1", "CREATE statements are not allowed"),
        ("ATTACH 'other.db'", "ATTACH statements are not allowed"),
        ("INSTALL httpfs", "LOAD statements are not allowed"),
        ("SET threads = 1", "SET statements are not allowed"),
        ("SELECT 1; DROP TABLE samples", "2 statements"),
        ("   ", "empty query"),
        ("SELEC 1", "does not parse"),
    ],
)
def test_writes_and_escapes_are_rejected(lake: Lake, query: str, problem: str) -> None:
    with pytest.raises(QueryRejectedError, match=problem) as info:
        LakeSQL(lake).query(query)
    assert isinstance(info.value, InputError)


def test_no_file_access_and_no_caller_variables(lake: Lake, tmp_path) -> None:
    secret = tmp_path / "secret.csv"
    secret.write_text("a\n1\n")
    # refused by the guard before DuckDB's own external-access switch is even reached
    with pytest.raises(QueryRejectedError, match="Permission|not allowed"):
        LakeSQL(lake).query(f"SELECT * FROM read_csv('{secret}')")
    with pytest.raises(QueryRejectedError, match="Permission|not a lake table"):
        LakeSQL(lake).query(f"SELECT * FROM '{lake.table_uri('samples')}/*.parquet'")
    hidden_frame = pd.DataFrame({"password": ["x"]})  # noqa: F841 - DuckDB must not find it by name
    with pytest.raises(QueryRejectedError, match="hidden_frame"):
        LakeSQL(lake).query("SELECT * FROM hidden_frame")
    check_read_only("SELECT 1")  # the checker itself accepts plain reads


def test_an_unknown_table_lists_the_lake_tables(lake: Lake, tmp_path) -> None:
    with pytest.raises(QueryRejectedError) as err:
        LakeSQL(lake).query("SELECT * FROM sample")
    text = str(err.value)  # DuckDB alone suggests its system tables ("did you mean pg_enum")
    assert "sample does not exist" in text and "the lake has calls, samples" in text and "pg_" not in text
    empty = Lake(tmp_path / "empty")
    with pytest.raises(QueryRejectedError, match="no table yet"):
        LakeSQL(empty).query("SELECT * FROM plates")
