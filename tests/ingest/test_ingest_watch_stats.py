"""A watch that runs for weeks keeps bounded stats: counts, a recent window and a per-layout tally, not
every IngestResult it ever made (which grew ~1 KB a file for the life of the process)."""

from __future__ import annotations

import gc
import tracemalloc
from pathlib import Path

from labstream.cli.watch import not_this_pipelines_input
from labstream.core.events import Event
from labstream.ingest.files import IngestResult
from labstream.ingest.watcher import Watcher
from labstream.layouts import detect

FASTQ = detect("S0_R1.fastq.gz")  # detected once: the stats, not layout detection, are under test


def _result(i: int, name: str | None = None) -> IngestResult:
    found = FASTQ if name is None else detect(name)
    name = name or f"S{i}_R1.fastq.gz"
    data = {"name": name, "layout": found.layout, "instrument": found.instrument, "size": i}
    event = Event("file.landed", f"S{i}", data)
    return IngestResult(f"/lab/in/{name}", "published", sha256=f"{i:064x}", event=event)


def _recorded(w: Watcher, n: int, start: int = 0) -> None:
    for i in range(start, start + n):
        w._record(_result(i))  # the one place every result of a watch goes through


def test_stats_do_not_grow_with_the_number_of_files_ingested(tmp_path: Path) -> None:
    w = Watcher(tmp_path, ingestor=None)  # type: ignore[arg-type] - _record needs no ingestor
    tracemalloc.start()
    try:
        _recorded(w, 2_000)  # past any window the stats keep: what they hold now is traced
        gc.collect()
        before = tracemalloc.get_traced_memory()[0]
        _recorded(w, 20_000, start=2_000)
        gc.collect()
        grown = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    assert w.stats.published == 22_000
    # keeping every result is ~1 KB each here (~20 MB); the bounded stats grow by nothing of the kind
    assert grown < 256 * 1024, f"stats grew {grown} bytes over 20,000 results"


def test_end_of_run_note_from_bounded_stats_names_counts_and_first_files(tmp_path: Path) -> None:
    w = Watcher(tmp_path, ingestor=None)  # type: ignore[arg-type]
    w._record(_result(0, "plate1_A01_s1_w1.tif"))
    _recorded(w, 5_000)
    note = not_this_pipelines_input("phenomics", w.stats.layouts)
    assert note is not None
    assert (
        "5000 file(s) of layout fastq (S0_R1.fastq.gz, S1_R1.fastq.gz, S2_R1.fastq.gz and 4997 more)" in note
    )
    assert "plate1_A01" not in note  # phenomics' own input
    assert [r.path for r in w.stats.recent][-1] == "/lab/in/S4999_R1.fastq.gz"
