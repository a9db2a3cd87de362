"""The same lake on a real S3 API (moto's server on 127.0.0.1): idempotent appends, listing, SQL,
and concurrent writers from separate processes."""

from __future__ import annotations

import multiprocessing as mp

import pyarrow as pa
import pytest

from labstream.lake import Lake, LakeSQL, LakeWriter, open_lake

pytestmark = pytest.mark.integration

COLS = pa.schema([("writer", pa.int64()), ("batch", pa.int64())])


def _writer(url: str, writer: int, batches: int) -> None:
    lake = open_lake(url)
    for b in range(batches):
        assert lake.append("s3_events", [{"writer": writer, "batch": b}], txn=(f"w{writer}", b))
        assert not lake.append("s3_events", [{"writer": writer, "batch": b}], txn=(f"w{writer}", b))


def test_lake_on_s3(s3_bucket_url: str) -> None:
    url = f"{s3_bucket_url}/lake"
    lake = open_lake(url)
    assert not lake.is_local and lake.storage_options["AWS_ENDPOINT_URL"].startswith("http://127.0.0.1")
    assert lake.tables() == []
    assert lake.append(
        "samples",
        [{"sample": "S1", "tissue": "blood"}, {"sample": "S2", "tissue": "liver"}],
        txn=("g/t/0", 4),
    )
    assert not lake.append("samples", [{"sample": "S1", "tissue": "blood"}], txn=("g/t/0", 4))
    with LakeWriter(lake, max_rows=100) as w:
        for i in range(10):
            w.add("calls", [{"sample": f"S{1 + i % 2}", "pos": i}], txn=("g/calls/0", i))
    assert lake.version("calls") == 1  # ten rows, one commit after the create
    # a second handle (another process would do the same) sees the same tables and transactions
    other = Lake(url)
    assert other.tables() == ["calls", "samples"]
    assert other.txn_version("samples", "g/t/0") == 4
    got = LakeSQL(other).query(
        "SELECT s.tissue, count(*) AS n FROM calls c JOIN samples s USING (sample) GROUP BY 1 ORDER BY 1"
    )
    assert got.to_pylist() == [{"tissue": "blood", "n": 5}, {"tissue": "liver", "n": 5}]
    assert other.compact("calls")["numFilesRemoved"] == 0  # one file already: nothing to merge


@pytest.mark.slow
def test_concurrent_writers_on_s3(s3_bucket_url: str) -> None:
    url = f"{s3_bucket_url}/lake"
    n, m = 2, 3
    lake = open_lake(url)
    lake.append("s3_events", [{"writer": -1, "batch": -1}])  # version 0 (create) + 1
    ctx = mp.get_context("spawn")  # the children inherit the AWS_* variables the fixture exported
    procs = [ctx.Process(target=_writer, args=(url, w, m)) for w in range(n)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(240)
        assert p.exitcode == 0
    assert lake.version("s3_events") == 1 + n * m
    rows = {(r["writer"], r["batch"]) for r in lake.read("s3_events").to_pylist()}
    assert rows == {(-1, -1)} | {(w, b) for w in range(n) for b in range(m)}
    assert lake.read("s3_events").num_rows == 1 + n * m
