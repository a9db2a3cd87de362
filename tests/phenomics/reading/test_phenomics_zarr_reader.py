"""The OME-Zarr field reader shared by the batch chain and the site stage: NGFF 0.4 and 0.5, 5-D
images, channels by omero label, missing chunks."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
import zarr
from ome_zarr.format import FormatV04
from ome_zarr.writer import write_image, write_plate_metadata, write_well_metadata

from labstream.core.errors import InputError
from labstream.ingest.zarr_fields import ZarrField, check_field, pack_field
from labstream.phenomics.model import CHANNELS
from labstream.phenomics.reading import discover, load_site, read_packed_field

LABELS = ["Mito", "AGP", "RNA", "ER", "DNA"]  # stored in reverse Cell Painting order


def _v04_plate(folder: Path, pixels: np.ndarray) -> Path:
    """An NGFF 0.4 (zarr v2) plate with one (t, c, z, y, x) field, as older writers produce."""
    plate = folder / "PV.zarr"
    root = zarr.open_group(str(plate), mode="w", zarr_format=2)
    write_plate_metadata(root, ["A"], ["1"], ["A/1"], name="PV", fmt=FormatV04())
    well = root.require_group("A").require_group("1")
    write_well_metadata(well, [{"path": "0"}], fmt=FormatV04())
    window = {"start": 0, "end": 1000, "min": 0, "max": 65535}
    write_image(
        pixels,
        well.require_group("0"),
        scale_factors=[],
        axes="tczyx",
        fmt=FormatV04(),
        storage_options={"chunks": (1, 1, 1, *pixels.shape[-2:])},
        omero={"channels": [{"label": lab, "color": "FFFFFF", "window": window} for lab in LABELS]},
    )
    return plate


def test_v04_five_d_field_is_read_in_cell_painting_order(tmp_path: Path) -> None:
    px = np.random.default_rng(0).integers(0, 1000, (1, 5, 1, 40, 48), dtype=np.uint16)
    plate = _v04_plate(tmp_path, px)
    expected = px[0, ::-1, 0]  # labels name the channels in reverse
    sites = discover(tmp_path)
    [(key, files)] = sites.items()
    assert np.array_equal(load_site(key, files).pixels, expected)
    field = ZarrField(plate, "A", "1", "0")
    assert check_field(field).ready
    pack_field(field, tmp_path / "f.zip")
    img = read_packed_field(tmp_path / "f.zip", field.source, len(CHANNELS))
    assert img.key == key and np.array_equal(img.pixels, expected)

    (plate / "A" / "1" / "0" / "s0" / "0" / "3" / "0" / "0" / "0").unlink()  # the ER chunk
    assert check_field(field).waiting_for == ["chunk s0/0/3/0/0/0"]
    with pytest.raises(InputError, match="1 of 5 chunks missing") as err:
        load_site(key, files)
    assert err.value.source == f"{plate}/A/1/0"


def _tiled_plate(folder: Path, pixels: np.ndarray) -> Path:
    """An NGFF 0.5 plate with one field in 16 x 16 tiles, written with zarr's defaults: chunks equal to
    the fill value are not stored."""
    plate = folder / "PT.zarr"
    root = zarr.open_group(str(plate), mode="w")
    write_plate_metadata(root, ["A"], ["1"], ["A/1"], name="PT")
    well = root.require_group("A").require_group("1")
    write_well_metadata(well, [{"path": "0"}])
    window = {"start": 0, "end": 1000, "min": 0, "max": 65535}
    write_image(
        pixels,
        well.require_group("0"),
        scale_factors=[],
        axes="cyx",
        storage_options={"chunks": (1, 16, 16)},
        omero={"channels": [{"label": lab, "color": "FFFFFF", "window": window} for lab in CHANNELS]},
    )
    return plate


def test_absent_fill_valued_chunks_read_as_zarr_reads_them(tmp_path: Path) -> None:
    px = np.random.default_rng(1).integers(1, 1000, (5, 32, 48), dtype=np.uint16)
    px[2, :16, 16:32] = 0  # a black RNA tile
    px[:, 16:, 32:] = 0  # a tile black in every channel
    plate = _tiled_plate(tmp_path, px)
    chunks = plate / "A" / "1" / "0" / "s0" / "c"
    assert not (chunks / "2" / "0" / "1").exists() and not (chunks / "4" / "1" / "2").exists()
    [(key, files)] = discover(tmp_path).items()
    img = load_site(key, files)
    assert np.array_equal(img.pixels, zarr.open_array(str(chunks.parent), mode="r")[...])
    assert np.array_equal(img.pixels, px)


def test_a_channel_without_any_stored_chunk_is_a_missing_channel(tmp_path: Path) -> None:
    px = np.random.default_rng(2).integers(1, 1000, (5, 32, 48), dtype=np.uint16)
    plate = _tiled_plate(tmp_path, px)
    shutil.rmtree(plate / "A" / "1" / "0" / "s0" / "c" / "3")  # the AGP channel never came
    [(key, files)] = discover(tmp_path).items()
    with pytest.raises(
        InputError, match=r"6 of 30 chunks missing: no chunk stored for channel AGP \(c=3\)"
    ) as err:
        load_site(key, files)
    assert err.value.source == f"{plate}/A/1/0"


def test_labstream_writer_stores_all_zero_channels(tmp_path: Path) -> None:
    from labstream.phenomics.model import SiteKey
    from labstream.phenomics.reading import write_zarr_field, write_zarr_plate_metadata

    plate = tmp_path / "PW.ome.zarr"
    write_zarr_plate_metadata(plate, "PW", {"A01": 1})
    px = np.random.default_rng(3).integers(1, 1000, (5, 24, 24), dtype=np.uint16)
    px[4] = 0  # zarr's default would leave this chunk out
    folder = write_zarr_field(plate, SiteKey("PW", "A01", 1), px, list(CHANNELS))
    assert (folder / "s0" / "c" / "4" / "0" / "0").is_file()
    state = check_field(ZarrField(plate, "A", "1", "0"))
    assert state.ready and state.filled == ()
    [(key, files)] = discover(tmp_path).items()
    assert np.array_equal(load_site(key, files).pixels, px)
