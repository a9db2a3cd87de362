"""The cohort sums' in-memory DuckDBs come from a small pool, not a thread-local (a connection held
by a server's worker thread was destroyed by that thread's exit at interpreter shutdown and aborted the
process): concurrent sums each get a connection of their own and equal the serial result, and a pooled
connection keeps no caller's Arrow table registered."""

from __future__ import annotations

import threading

import duckdb
import pytest

from labstream.cohort import stats
from labstream.instruments.cohort_sim import sample_calls, simulate_cohort


def test_concurrent_sums_equal_the_serial_ones_and_leave_nothing_registered() -> None:
    c = simulate_cohort(6, 5_000, seed=5)
    calls = [sample_calls(c, j, 200) for j in range(6)]
    serial = [stats.finalize(stats.summarize(t)) for t in calls]
    got: dict[int, object] = {}

    def one(j: int) -> None:
        got[j] = stats.finalize(stats.summarize(calls[j]))

    threads = [threading.Thread(target=one, args=(j,)) for j in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert all(got[j].equals(serial[j]) for j in range(6))
    assert stats._IDLE  # returned to the pool
    for con in stats._IDLE:  # nothing registered outlives its computation
        for name in ("calls_all", "wanted", "site", "pos", "cov"):
            with pytest.raises(duckdb.CatalogException):
                con.sql(f"SELECT * FROM {name}")
