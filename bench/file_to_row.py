"""File-to-row latency, a benchmark helper run by bench/stream.py: from a file landing (atomic
rename) in a watched folder to its row being queryable with SQL, through the real watcher, stream,
executor, lake and DuckDB."""

from __future__ import annotations

import tempfile
import threading
import time
from pathlib import Path

from labstream.core.settings import Settings


def bench_file_to_row(
    n_files: int = 50,
    *,
    interval_s: float = 0.05,
    executor_url: str = "local",
    home: str | Path | None = None,
    timeout_s: float = 120.0,
    warmup: int = 3,
) -> list[float]:
    """Latencies in seconds, one per file, in landing order. Runs the `filestats` pipeline.

    The first `warmup` files (not counted) let the executor's worker processes start: a running
    platform has them up already, and their start-up is not per-file latency."""
    from labstream.ingest import Ingestor, Watcher
    from labstream.lake import LakeSQL
    from labstream.pipelines.filestats import pipeline
    from labstream.runtime.runner import PipelineRunner

    tmp = tempfile.TemporaryDirectory(prefix="labstream-latency-")
    root = Path(home) if home else Path(tmp.name)
    settings = Settings(home=root / "home", executor_url=executor_url)
    inbox = root / "inbox"
    inbox.mkdir(parents=True, exist_ok=True)
    ingestor = Ingestor(settings)
    watcher = Watcher(inbox, ingestor, settle_seconds=0.0, poll_interval=0.01)
    runner = PipelineRunner(settings, pipeline(), poll_timeout=0.01)
    stop = threading.Event()
    threads = [
        threading.Thread(target=watcher.run, args=(stop,), daemon=True),
        threading.Thread(target=runner.run_forever, args=(stop,), daemon=True),
    ]
    for t in threads:
        t.start()
    landed: dict[str, float] = {}
    seen: dict[str, float] = {}
    sql = LakeSQL(runner.lake)
    try:
        for i in range(-warmup, n_files):
            name = f"LAT_{i:05d}.dat"
            part = inbox / (name + ".part")
            part.write_bytes(f"file {i}\n".encode() * 64)
            part.rename(inbox / name)
            landed[name] = time.monotonic()
            _poll(sql, seen, wait=interval_s)
            if i == -1:  # warm-up done only when its rows are queryable
                deadline = time.monotonic() + timeout_s
                while not all(n in seen for n in landed) and time.monotonic() < deadline:
                    _poll(sql, seen, wait=0.05)
        deadline = time.monotonic() + timeout_s
        while not all(n in seen for n in landed) and time.monotonic() < deadline:
            _poll(sql, seen, wait=0.01)
    finally:
        stop.set()
        for t in threads:
            t.join(timeout=10)
        runner.close()
        ingestor.close()
        tmp.cleanup()
    landed = {n: t for n, t in landed.items() if not n.startswith("LAT_-")}
    missing = set(landed) - set(seen)
    if missing:
        raise TimeoutError(f"{len(missing)} of {n_files} files never became queryable rows")
    return [seen[n] - landed[n] for n in landed]


def _poll(sql, seen: dict[str, float], wait: float) -> None:  # type: ignore[no-untyped-def]
    end = time.monotonic() + wait
    while True:
        try:
            names = sql.query("SELECT name FROM files").column("name").to_pylist()
        except Exception:  # the table does not exist until the first row lands
            names = []
        now = time.monotonic()
        for n in names:
            seen.setdefault(n, now)
        if now >= end:
            return
        time.sleep(0.005)
