"""The output formats of `labstream sql` (cli/render.py)."""

from __future__ import annotations

import io
import json

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest

from labstream.cli.render import format_table
from labstream.core.errors import InputError
from labstream.lake import Lake, LakeSQL


@pytest.fixture
def lake(tmp_path) -> Lake:
    lake = Lake(tmp_path / "lake")
    lake.append("calls", [{"sample": f"S{i % 6}", "pos": 1000 + i, "qual": float(i)} for i in range(30)])
    return lake


def test_format_round_trips(lake: Lake, tmp_path) -> None:
    result = LakeSQL(lake).query("SELECT sample, pos, qual FROM calls ORDER BY pos")
    csv_text = format_table(result, "csv")
    opts = pacsv.ConvertOptions(column_types=result.schema)
    assert pacsv.read_csv(io.BytesIO(csv_text.encode()), convert_options=opts).equals(result)
    assert json.loads(format_table(result, "json")) == result.to_pylist()
    parquet = format_table(result, "parquet", path=tmp_path / "out.parquet")
    assert isinstance(parquet, bytes)
    assert pq.read_table(io.BytesIO(parquet)).equals(result)
    assert pq.read_table(tmp_path / "out.parquet").equals(result)
    text = format_table(result, "table", max_rows=5)
    assert "sample" in text and "S0" in text and "5 of 30 rows shown" in text
    assert "1029" not in text  # rows past max_rows are not printed


def test_format_nested_and_temporal_values() -> None:
    t = pa.table({"tags": [["a", "b"], None], "when": pa.array([0, 1], pa.timestamp("us", tz="UTC"))})
    lines = format_table(t, "csv").splitlines()
    assert lines[1].startswith('"[""a"", ""b""]"')
    rows = json.loads(format_table(t, "json"))
    assert rows[0]["tags"] == ["a", "b"] and rows[1]["when"].startswith("1970-01-01T00:00:00.000001")
    with pytest.raises(InputError, match="unknown output format 'xml'"):
        format_table(t, "xml")
