"""Lake maintenance: fold the small files that micro-batches and the 5-second ops refresh leave behind.

Every committed batch and every refresh tick adds a Parquet file, so a lab's month of `watch` leaves
tens of thousands of files per table and every SQL query opens them all. `maintain` compacts a table
once it holds `min_files` files (Delta's optimize: one new version, the same rows, readers unaffected)
and vacuums the files compaction replaced once they are older than the retention, so time travel
keeps working inside it. Compaction commits beside running writers (a blind append does not conflict
with it; tests/ops/test_ops_maintenance.py appends while it compacts). The cohort tables are left to
`labstream cohort compact`, which folds new samples into their summary at the same time.

    maintain(lake)                 -> one row per table: files before, files compacted, files vacuumed
    labstream ops maintain         -> the same from the command line (--dry-run: say what it would do)
"""

from __future__ import annotations

from typing import Any

from labstream.lake.base import DEFAULT_RETENTION_HOURS, LakeTables

__all__ = ["MAINTAIN_INTERVAL_S", "MIN_FILES", "maintain"]

MIN_FILES = 32  # a table with fewer files reads fast enough; compacting it would only add versions
MAINTAIN_INTERVAL_S = 3600.0  # how often `labstream watch`'s refresher maintains the lake
OWN_COMPACTION = ("cohort_",)  # tables whose package compacts them itself


def maintain(
    lake: LakeTables,
    *,
    tables: list[str] | None = None,
    min_files: int = MIN_FILES,
    retention_hours: int = DEFAULT_RETENTION_HOURS,
    dry_run: bool = False,
) -> list[dict[str, Any]]:
    """Compact every table (or `tables`) holding at least `min_files` files; vacuum what compaction
    replaced more than `retention_hours` ago. With `dry_run` nothing is written."""
    out = []
    for name in tables if tables is not None else lake.tables():
        if tables is None and name.startswith(OWN_COMPACTION):
            continue
        files = len(lake.dataset(name).files)
        row: dict[str, Any] = {"table": name, "files": files, "compacted": 0, "vacuumed": 0}
        if files >= min_files and not dry_run:
            row["compacted"] = int(lake.compact(name).get("numFilesRemoved", 0))
        row["vacuumed"] = len(lake.vacuum(name, retention_hours, dry_run=dry_run))
        out.append(row)
    return out
