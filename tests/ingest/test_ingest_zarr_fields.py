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
from labstream.ingest.zarr_fields import (
    MANIFEST,
    FieldNotReady,
    ZarrField,
    check_field,
    find_fields,
    pack_field,
)
from labstream.ingest.zarr_watch import NOT_A_PLATE_AFTER_S
from labstream.phenomics.model import CHANNELS, SiteKey
from labstream.phenomics.reading import read_packed_field, write_zarr_field, write_zarr_plate_metadata
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
    t0 = 1000.0
    assert w.scan_once(now=t0) == []  # not judged mid-write: its writer may add `plate` attrs next
    later = t0 + NOT_A_PLATE_AFTER_S
    assert [r.status for r in w.scan_once(now=later)] == ["quarantined"] and w.scan_once(now=later + 1) == []
    q = ingestor.catalog.list_quarantine(stage="ingest")
    assert [r.source for r in q] == [str(image)] and "HCS plate metadata" in q[0].problem


# Absent chunks: zarr leaves out every chunk equal to the fill value (write_empty_chunks=False, the
# default), as most writers do. These fields are written that way, in tiles of 16 x 20 pixels.
TILE = (1, 16, 20)
WINDOW = {"start": 0, "end": 4000, "min": 0, "max": 65535}


def _tiled_field(plate: Path, key: SiteKey, pixels: np.ndarray) -> Path:
    """Write a field as a third-party writer would: zarr's defaults, so fill-valued chunks are not stored."""
    import zarr
    from ome_zarr.writer import write_image

    labels = [*CHANNELS, "extra"][: len(pixels)]
    well = zarr.open_group(str(plate), mode="r+").require_group(key.well[0]).require_group(key.well[1:])
    write_image(
        pixels,
        well.require_group(str(key.site - 1)),
        scale_factors=[],
        axes="cyx",
        storage_options={"chunks": TILE},
        omero={"channels": [{"label": ch, "color": "FFFFFF", "window": WINDOW} for ch in labels]},
    )
    return plate / key.well[0] / key.well[1:] / str(key.site - 1)


def _age(folder: Path, seconds: float) -> None:
    """Make every file under `folder` `seconds` old, as if its writer had gone quiet that long ago."""
    import os
    import time

    then = time.time() - seconds
    for p in folder.rglob("*"):
        if p.is_file():
            os.utime(p, (then, then))


def _with_gaps(seed: int) -> np.ndarray:
    px = _pixels(seed)
    px[1, 16:, :20] = 0  # one black tile of the ER channel
    px[:, :16, 20:] = 0  # a tile black in every channel
    return px


A1 = SiteKey("PZ", "A1", 1)  # wells as the plate's row/column folders name them
B2 = SiteKey("PZ", "B2", 1)


def test_field_with_fill_valued_chunks_is_ingested_once_quiet(tmp_path: Path, ingestor: Ingestor) -> None:
    import time

    import zarr

    from labstream.ingest.zarr_fields import GAP_QUIET_S

    inbox = tmp_path / "inbox"
    plate = inbox / "PZ.ome.zarr"
    write_zarr_plate_metadata(plate, "PZ", {"A01": 1})
    px = _with_gaps(1)
    folder = _tiled_field(plate, A1, px)
    stored = {
        p.relative_to(folder / "s0").as_posix() for p in (folder / "s0" / "c").rglob("*") if p.is_file()
    }
    gaps = {"c/1/1/0"} | {f"c/{c}/0/1" for c in range(5)}
    assert len(stored) == 5 * 2 * 2 - len(gaps) and not stored & gaps  # zarr really left them out

    fld = ZarrField(plate, "A", "1", "0")
    fresh = check_field(fld)
    assert not fresh.ready and "quiet" in fresh.waiting_for[0]  # a tile may still be on its way
    assert sorted(fresh.filled) == sorted(f"s0/{k}" for k in gaps)
    assert check_field(fld, now=time.time() + GAP_QUIET_S + 1).ready
    assert check_field(fld, gap_quiet_s=0.0).ready

    w = Watcher(inbox, ingestor, settle_seconds=0.5, incomplete_after_s=None)
    assert w.scan_once(now=0.0) == [] and w.scan_once(now=1.0) == []  # settled, but not quiet long enough
    _age(plate, GAP_QUIET_S + 1)
    assert w.scan_once(now=2.0) == []  # the files changed (mtimes): settles again
    [res] = w.scan_once(now=3.0)
    assert res.status == "published" and res.path == fld.source
    [ev] = _landed(ingestor.settings)
    with ingestor.store.local_path(ev.refs[0].uri) as local:
        img = read_packed_field(local, ev.data["path"], len(CHANNELS))
        names = zipfile.ZipFile(local).namelist()
    assert not any(n.startswith("s0/") and n[3:] in gaps for n in names)  # gaps stay gaps in the pack
    expected = zarr.open_array(str(folder / "s0"), mode="r")[...]  # what zarr itself reads
    assert img.key == SiteKey("PZ", "A01", 1)
    assert np.array_equal(img.pixels, expected) and np.array_equal(img.pixels, px)


def test_fields_with_gaps_pack_to_equal_bytes(tmp_path: Path) -> None:
    plate = tmp_path / "a" / "PZ.ome.zarr"
    write_zarr_plate_metadata(plate, "PZ", {"A01": 1})
    _tiled_field(plate, A1, _with_gaps(1))
    copy = tmp_path / "b" / plate.name
    shutil.copytree(plate, copy, copy_function=shutil.copy)  # new mtimes, same bytes
    one, two = tmp_path / "one.zip", tmp_path / "two.zip"
    for src, dest in ((plate, one), (copy, two)):
        fld = ZarrField(src, "A", "1", "0")
        pack_field(fld, dest, check_field(fld, gap_quiet_s=0.0))
    assert one.read_bytes() == two.read_bytes()
    with pytest.raises(FieldNotReady, match="quiet"):  # fresh files: not yet
        pack_field(ZarrField(copy, "A", "1", "0"), two)


def test_field_missing_a_whole_channel_is_quarantined(tmp_path: Path, ingestor: Ingestor) -> None:
    inbox = tmp_path / "inbox"
    plate = inbox / "PZ.ome.zarr"
    write_zarr_plate_metadata(plate, "PZ", {"A01": 1, "B02": 1})
    _tiled_field(plate, A1, _with_gaps(1))
    folder = _tiled_field(plate, B2, _pixels(2))
    agp = folder / "s0" / "c" / "3"
    assert len(list(agp.rglob("*"))) == 2 + 4  # two tile rows, four tiles
    shutil.rmtree(agp)  # the microscope never wrote the AGP channel
    _age(plate, 60)
    fld = ZarrField(plate, "B", "2", "0")
    state = check_field(fld)
    assert not state.ready
    assert state.waiting_for == [f"chunk s0/c/3/{y}/{x}" for y in (0, 1) for x in (0, 1)]

    w = Watcher(inbox, ingestor, settle_seconds=0.0, incomplete_after_s=30.0)
    assert [(r.status, r.path) for r in w.scan_once(now=0.0)] == [("published", f"{plate}/A/1/0")]
    late = w.scan_once(now=45.0)
    assert [r.status for r in late] == ["quarantined"] and w.scan_once(now=100.0) == []
    [q] = ingestor.catalog.list_quarantine(stage="ingest")
    assert q.source == fld.source == f"{plate}/B/2/0"
    assert "incomplete" in q.problem and "chunk s0/c/3/1/1" in q.problem


def test_metadata_promising_planes_never_written_is_not_filled(tmp_path: Path) -> None:
    plate = tmp_path / "PZ.ome.zarr"
    write_zarr_plate_metadata(plate, "PZ", {"A01": 1})
    px = np.concatenate([_pixels(1), np.zeros((1, 32, 40), np.uint16)])  # a sixth plane, never filled
    folder = _tiled_field(plate, A1, px)
    assert not (folder / "s0" / "c" / "5").exists()
    state = check_field(ZarrField(plate, "A", "1", "0"), gap_quiet_s=0.0)
    assert not state.ready and state.waiting_for == [f"chunk s0/c/5/{y}/{x}" for y in (0, 1) for x in (0, 1)]


def test_zarr_v2_absent_chunk_is_filled_only_with_a_fill_value(tmp_path: Path) -> None:
    import json

    import zarr
    from ome_zarr.format import FormatV04
    from ome_zarr.writer import write_image, write_plate_metadata, write_well_metadata

    plate = tmp_path / "PV.zarr"
    root = zarr.open_group(str(plate), mode="w", zarr_format=2)
    write_plate_metadata(root, ["A"], ["1"], ["A/1"], name="PV", fmt=FormatV04())
    well = root.require_group("A").require_group("1")
    write_well_metadata(well, [{"path": "0"}], fmt=FormatV04())
    px = _with_gaps(3)
    write_image(
        px,
        well.require_group("0"),
        scale_factors=[],
        axes="cyx",
        fmt=FormatV04(),
        storage_options={"chunks": TILE},
    )
    fld = ZarrField(plate, "A", "1", "0")
    meta_path = fld.path / "s0" / ".zarray"
    meta = json.loads(meta_path.read_text())
    assert meta["fill_value"] == 0 and not (fld.path / "s0" / "1" / "1" / "0").exists()
    state = check_field(fld, gap_quiet_s=0.0)
    assert state.ready and "s0/1/1/0" in state.filled

    meta_path.write_text(json.dumps({**meta, "fill_value": None}))  # v2: absent chunks are undefined
    state = check_field(fld, gap_quiet_s=0.0)
    assert not state.ready and "chunk s0/1/1/0" in state.waiting_for and len(state.waiting_for) == 6
