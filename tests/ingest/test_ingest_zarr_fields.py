"""OME-Zarr HCS fields as ingest units: claimed once complete, exactly once by content."""

from __future__ import annotations

import shutil
import zipfile
from pathlib import Path

import numpy as np
import pytest

from labstream.core.events import Event
from labstream.core.settings import Settings
from labstream.ingest import Ingestor, Watcher
from labstream.ingest.zarr_fields import MANIFEST, ZarrField, check_field, find_fields, pack_field
from labstream.phenomics.model import CHANNELS, SiteKey
from labstream.phenomics.readers_zarr import read_packed_field, write_zarr_field, write_zarr_plate_metadata
from labstream.stream import open_stream


@pytest.fixture
def ingestor(tmp_path: Path):  # type: ignore[no-untyped-def]
    ing = Ingestor(Settings(home=tmp_path / "home"))
    yield ing
    ing.close()


def _pixels(seed: int) -> np.ndarray:
    return np.random.default_rng(seed).integers(100, 4000, size=(5, 32, 40), dtype=np.uint16)


def _plate(folder: Path, fields: dict[SiteKey, np.ndarray]) -> Path:
    plate = folder / "PZ.ome.zarr"
    per_well: dict[str, int] = {}
    for k in fields:
        per_well[k.well] = max(per_well.get(k.well, 0), k.site)
    write_zarr_plate_metadata(plate, "PZ", per_well)
    for k, px in sorted(fields.items()):
        write_zarr_field(plate, k, px, list(CHANNELS))
    return plate


A01 = SiteKey("PZ", "A01", 1)
B02 = SiteKey("PZ", "B02", 1)
B02_2 = SiteKey("PZ", "B02", 2)


def _landed(settings: Settings) -> list[Event]:
    consumer = open_stream(settings.stream_url).consumer("check", ["ingest.files"])
    evs = [Event.from_json(r.value) for r in consumer.poll(timeout=1.0)]
    consumer.close()
    return evs


def test_half_written_field_waits_until_complete(tmp_path: Path, ingestor: Ingestor) -> None:
    inbox = tmp_path / "inbox"
    pixels = {A01: _pixels(1), B02: _pixels(2)}
    plate = _plate(inbox, pixels)
    # B02 is still being written: its ER chunk is not on disk yet, a Mito chunk is under a temporary name
    er = plate / "B" / "2" / "0" / "s0" / "c" / "1" / "0" / "0"
    er_bytes = er.read_bytes()
    er.unlink()
    w = Watcher(inbox, ingestor, settle_seconds=0.5, incomplete_after_s=None)
    assert w.scan_once(now=0.0) == []  # seen, not yet settled
    first = w.scan_once(now=1.0)
    assert [r.status for r in first] == ["published"]
    assert first[0].path == f"{plate}/A/1/0" and first[0].event is not None
    assert first[0].event.data["plate"] == "PZ" and first[0].event.data["row"] == "A"
    state = check_field(ZarrField(plate, "B", "2", "0"))
    assert not state.ready and state.waiting_for == ["chunk s0/c/1/0/0"]
    assert w.scan_once(now=5.0) == []  # incomplete stays unclaimed however long it is stable

    mito = er.parents[2] / "4" / "0" / "0"
    mito.rename(mito.with_name(".0.part"))
    er.write_bytes(er_bytes)
    assert w.scan_once(now=6.0) == [] and w.scan_once(now=9.0) == []  # a temporary file: still writing
    mito.with_name(".0.part").rename(mito)
    assert w.scan_once(now=10.0) == []  # changed: settles again
    second = w.scan_once(now=11.0)
    assert [(r.status, r.path) for r in second] == [("published", f"{plate}/B/2/0")]
    assert w.scan_once(now=20.0) == []  # claimed once; not looked at again

    restarted = Watcher(inbox, ingestor, settle_seconds=0.0)
    assert sorted(r.status for r in restarted.scan_once()) == ["duplicate", "duplicate"]
    evs = _landed(ingestor.settings)
    assert sorted(e.data["path"] for e in evs) == [f"{plate}/A/1/0", f"{plate}/B/2/0"]
    # the packed object holds the field as the microscope wrote it, readable by zarr
    store = ingestor.store
    for e in evs:
        key = A01 if e.data["row"] == "A" else B02
        with store.local_path(e.refs[0].uri) as local:
            img = read_packed_field(local, e.data["path"], len(CHANNELS))
        assert img.key == key and np.array_equal(img.pixels, pixels[key])


def test_equal_field_content_packs_to_equal_bytes(tmp_path: Path, ingestor: Ingestor) -> None:
    plate = _plate(tmp_path / "a", {A01: _pixels(1), B02: _pixels(2), B02_2: _pixels(3)})
    copy = tmp_path / "b" / plate.name
    shutil.copytree(plate, copy, copy_function=shutil.copy)  # new mtimes, same bytes
    one, two = tmp_path / "one.zip", tmp_path / "two.zip"
    pack_field(ZarrField(plate, "B", "2", "1"), one)
    pack_field(ZarrField(copy, "B", "2", "1"), two)
    assert one.read_bytes() == two.read_bytes()
    names = zipfile.ZipFile(one).namelist()
    assert names == sorted(names) and MANIFEST in names and "zarr.json" in names
    assert {i.date_time for i in zipfile.ZipFile(one).infolist()} == {(1980, 1, 1, 0, 0, 0)}
    pack_field(ZarrField(plate, "B", "2", "0"), two)
    assert one.read_bytes() != two.read_bytes()
    assert [f.rel for f in find_fields(plate)] == ["A/1/0", "B/2/0", "B/2/1"]

    first = Watcher(tmp_path / "a", ingestor, settle_seconds=0.0).scan_once()
    assert sorted(r.status for r in first) == ["published"] * 3
    again = Watcher(tmp_path / "b", ingestor, settle_seconds=0.0).scan_once()
    assert sorted(r.status for r in again) == ["duplicate"] * 3
    assert len(_landed(ingestor.settings)) == 3


def test_field_that_never_completes_is_quarantined(tmp_path: Path, ingestor: Ingestor) -> None:
    inbox = tmp_path / "inbox"
    plate = _plate(inbox, {A01: _pixels(1), B02: _pixels(2)})
    (plate / "B" / "2" / "0" / "s0" / "c" / "3" / "0" / "0").unlink()
    w = Watcher(inbox, ingestor, settle_seconds=0.0, incomplete_after_s=30.0)
    assert [r.status for r in w.scan_once(now=0.0)] == ["published"]
    assert w.scan_once(now=10.0) == []
    late = w.scan_once(now=45.0)
    assert [r.status for r in late] == ["quarantined"]
    assert w.scan_once(now=100.0) == []  # quarantined once
    q = ingestor.catalog.list_quarantine(stage="ingest")
    assert len(q) == 1 and q[0].source == f"{plate}/B/2/0"
    assert "chunk s0/c/3/0/0" in q[0].problem and "incomplete" in q[0].problem
    assert w.stats.published == 1 and w.stats.quarantined == 1


def test_zarr_folder_that_is_not_a_plate_is_quarantined_once(tmp_path: Path, ingestor: Ingestor) -> None:
    import zarr

    image = tmp_path / "inbox" / "single.ome.zarr"
    group = zarr.open_group(str(image), mode="w", attributes={"ome": {"version": "0.5", "multiscales": []}})
    group.create_array("0", shape=(5, 32, 32), chunks=(1, 32, 32), dtype="uint16")[:] = 7
    w = Watcher(tmp_path / "inbox", ingestor, settle_seconds=0.0)
    assert [r.status for r in w.scan_once()] == ["quarantined"] and w.scan_once() == []
    q = ingestor.catalog.list_quarantine(stage="ingest")
    assert [r.source for r in q] == [str(image)] and "HCS plate metadata" in q[0].problem
