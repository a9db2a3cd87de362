"""Concurrent writers (delta-rs style): N processes x M appends with distinct transaction app_ids give
table versions exactly 1..N*M and every row exactly once, even when every batch is sent twice."""

from __future__ import annotations

import multiprocessing as mp

import pyarrow as pa
import pytest

from labstream.lake import Lake, TableSchema, register_schema, unregister_schema

N_WRITERS = 4
M_APPENDS = 5
ROWS = 3
COLS = pa.schema([("writer", pa.int64()), ("batch", pa.int64()), ("row", pa.int64())])


def _declare() -> None:
    register_schema(TableSchema("conc_events", COLS), replace=True)


def _writer(root: str, writer: int, start, out) -> None:  # noqa: ANN001 - multiprocessing primitives
    _declare()
    lake = Lake(root)
    start.wait(30)
    results = []
    for batch in range(M_APPENDS):
        rows = [{"writer": writer, "batch": batch, "row": r} for r in range(ROWS)]
        first = lake.append("conc_events", rows, txn=(f"writer-{writer}", batch))
        replay = lake.append("conc_events", rows, txn=(f"writer-{writer}", batch))
        results.append((first, replay))
    out.put((writer, results))


@pytest.mark.slow
def test_concurrent_writers_versions_and_exactly_once(tmp_path) -> None:
    _declare()
    root = str(tmp_path / "lake")
    lake = Lake(root)
    try:
        from labstream.lake import get_schema

        lake.ensure_table(get_schema("conc_events"))  # version 0
        ctx = mp.get_context("spawn")  # no fork: deltalake runs a Rust runtime with threads
        start, out = ctx.Barrier(N_WRITERS), ctx.Queue()
        procs = [ctx.Process(target=_writer, args=(root, w, start, out)) for w in range(N_WRITERS)]
        for p in procs:
            p.start()
        reports = dict(out.get(timeout=240) for _ in procs)
        for p in procs:
            p.join(60)
            assert p.exitcode == 0
    finally:
        unregister_schema("conc_events")

    for w in range(N_WRITERS):
        assert reports[w] == [(True, False)] * M_APPENDS  # every first append lands, every replay is refused
    history = lake.history("conc_events")
    versions = sorted(h["version"] for h in history)
    assert versions == list(range(N_WRITERS * M_APPENDS + 1))
    assert lake.version("conc_events") == N_WRITERS * M_APPENDS
    assert sum(1 for h in history if h["operation"] == "WRITE") == N_WRITERS * M_APPENDS
    table = lake.read("conc_events")
    keys = list(zip(*(table.column(c).to_pylist() for c in ("writer", "batch", "row")), strict=True))
    expected = {(w, b, r) for w in range(N_WRITERS) for b in range(M_APPENDS) for r in range(ROWS)}
    assert len(keys) == len(expected) and set(keys) == expected
    for w in range(N_WRITERS):
        assert lake.txn_version("conc_events", f"writer-{w}") == M_APPENDS - 1


def test_plain_appends_racing_the_table_creation_all_land(tmp_path) -> None:
    """Writers without transactions (refreshed state such as the ops clock rows) that race the
    table's creation: Delta refuses the losers ("metadata changed since last commit");
    the lake tries them again on the new snapshot, so every row lands exactly once."""
    import threading

    root = str(tmp_path / "lake")
    writers, appends = 4, 3
    barrier = threading.Barrier(writers)
    errors: list[BaseException] = []

    def write(w: int) -> None:
        lake = Lake(root)  # each its own DeltaTable objects, as separate processes have
        barrier.wait(30)
        try:
            for b in range(appends):
                lake.append("race_grow", [{"writer": w, "batch": b}])
        except BaseException as err:  # noqa: BLE001 - reported below
            errors.append(err)

    threads = [threading.Thread(target=write, args=(w,)) for w in range(writers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert not errors, errors
    table = Lake(root).read("race_grow")
    keys = sorted(zip(table.column("writer").to_pylist(), table.column("batch").to_pylist(), strict=True))
    assert keys == sorted((w, b) for w in range(writers) for b in range(appends))
