"""Catalog, stream and lake check each other at start; unusable database files get one clear error."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest

from labstream.core.errors import LabstreamError, StorageError
from labstream.core.settings import Settings
from labstream.ingest import Ingestor, Watcher


def _land(folder: Path, n: int) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(n):
        (folder / f"P1_A{i % 12 + 1:02d}_s{i // 12 + 1}_w1.tif").write_bytes(f"site {i}".encode() * 20)


def _watch_once(settings: Settings, folder: Path) -> tuple[Ingestor, Watcher]:
    ing = Ingestor(settings)
    w = Watcher(folder, ing, settle_seconds=0.0, mode="poll")
    w.scan_once()
    return ing, w


def _empty(db: Path) -> None:
    """What `: > catalog.db` leaves: an empty file and no WAL beside it."""
    db.write_bytes(b"")
    for side in ("-wal", "-shm"):
        Path(str(db) + side).unlink(missing_ok=True)


def test_lost_catalog_is_rebuilt_from_the_stream_not_ingested_twice(
    tmp_path: Path, published_events: Callable
) -> None:
    settings = Settings(home=tmp_path / "home")
    folder = tmp_path / "in"
    _land(folder, 30)
    ing, w = _watch_once(settings, folder)
    assert w.stats.published == 30
    ing.close()  # closes its catalog too: emptying the file below must not meet an open connection
    _empty(settings.home / "catalog.db")
    again, w2 = _watch_once(settings, folder)  # a restarted `watch`
    try:
        assert again.rebuilt_claims == 30
        assert (w2.stats.published, w2.stats.duplicate) == (0, 30)
        assert len(published_events(again)) == 30
        assert again.catalog.count_ingested() == 30
    finally:
        again.close()


def test_a_rebuild_killed_part_way_is_finished_by_the_next_start_not_ingested_again(
    tmp_path: Path, published_events: Callable
) -> None:
    """A kill during the rebuild left some claims: the next start must restore the rest, not take the
    partial catalog as whole and ingest the other files again (duplicated rows in the kill test)."""
    from labstream.catalog import open_catalog
    from labstream.ingest.consistency import _restore

    settings = Settings(home=tmp_path / "home")
    folder = tmp_path / "in"
    _land(folder, 30)
    ing, _ = _watch_once(settings, folder)
    events = published_events(ing)
    ing.close()  # closes its catalog too: emptying the file below must not meet an open connection
    _empty(settings.home / "catalog.db")
    with open_catalog(settings.catalog_url) as partial:  # what the killed rebuild had restored
        partial.upgrade()
        assert sum(_restore(partial, e.to_json()) for e in events[:7]) == 7
    again, w2 = _watch_once(settings, folder)
    try:
        assert again.rebuilt_claims == 23
        assert (w2.stats.published, w2.stats.duplicate) == (0, 30)
        assert again.catalog.count_ingested() == 30
        assert len(published_events(again)) == 30
    finally:
        again.close()


def test_lost_stream_is_refused_naming_it(tmp_path: Path) -> None:
    settings = Settings(home=tmp_path / "home")
    folder = tmp_path / "in"
    _land(folder, 3)
    ing, _ = _watch_once(settings, folder)
    ing.close()  # closes its catalog too: emptying the file below must not meet an open connection
    _empty(settings.home / "stream.db")
    with pytest.raises(StorageError) as err:
        Ingestor(settings)
    msg = str(err.value)
    assert "stream.db" in msg and "catalog.db" in msg and "lost" in msg and "Restore" in msg


@pytest.mark.parametrize("name", ["stream.db", "catalog.db"])
@pytest.mark.parametrize("damage", ["garbage", "half"])
def test_unusable_database_file_is_one_clear_error(tmp_path: Path, name: str, damage: str) -> None:
    settings = Settings(home=tmp_path / "home")
    folder = tmp_path / "in"
    _land(folder, 40)
    ing, _ = _watch_once(settings, folder)
    ing.close()  # closes its catalog too: emptying the file below must not meet an open connection
    db = settings.home / name
    if damage == "garbage":
        db.write_bytes(os.urandom(8192))
    else:
        data = db.read_bytes()
        db.write_bytes(data[: len(data) // 2])
    for side in ("-wal", "-shm"):
        Path(str(db) + side).unlink(missing_ok=True)
    with pytest.raises(LabstreamError) as err:
        Ingestor(settings)
    msg = str(err.value)
    assert str(db) in msg and ("restore" in msg.lower()) and "Traceback" not in msg


def _table(lake_root: Path, name: str, rows: int) -> None:
    import pyarrow as pa
    from deltalake import write_deltalake

    write_deltalake(str(lake_root / name), pa.table({"lineage_id": pa.array(["t"] * rows, pa.string())}))


def test_lake_rows_with_no_record_of_any_work_are_refused(tmp_path: Path) -> None:
    settings = Settings(home=tmp_path / "home")
    _table(settings.home / "lake", "variants", 3)
    with pytest.raises(StorageError, match="both were lost"):
        Ingestor(settings)


def test_empty_tables_or_a_batch_commands_rows_are_no_sign_of_loss(tmp_path: Path) -> None:
    """`labstream cost` on a fresh home leaves empty ops tables, and `genomics call` writes rows with
    its lineage but no ingest claim: neither is a lost catalog and stream (both were refused before)."""
    from labstream.catalog import open_catalog
    from labstream.catalog.records import LineageRecord

    fresh = Settings(home=tmp_path / "fresh")
    _table(fresh.home / "lake", "costs", 0)
    Ingestor(fresh).close()

    batch = Settings(home=tmp_path / "batch")
    _table(batch.home / "lake", "variants", 3)
    with open_catalog(batch.catalog_url).upgrade() as cat:
        cat.record_lineage(LineageRecord(stage="genomics_call"))
    Ingestor(batch).close()
