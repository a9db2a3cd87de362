"""Bad input: each problem is an InputError naming the file, and the rest of the plate is processed."""

from __future__ import annotations

import shutil

import numpy as np
import pandas as pd
import pytest
import tifffile

from labstream.core.errors import InputError
from labstream.instruments.microscope import MicroscopeSimulator
from labstream.phenomics.chain import profile_directory
from labstream.phenomics.reading import discover, load_site, parse_name, read_channel, read_platemap
from labstream.phenomics.site import process_site


@pytest.fixture
def plate_dir(tmp_path, tiff_set):  # type: ignore[no-untyped-def]
    shutil.copytree(tiff_set.images, tmp_path / "images")
    shutil.copy(tiff_set.platemap, tmp_path / "platemap.csv")
    return tmp_path


def _file(folder, well: str, ch: int):  # type: ignore[no-untyped-def]
    return next(folder.glob(f"*_{well}_s1_w{ch}.tif"))


def test_truncated_tiff_names_the_file(plate_dir) -> None:
    f = _file(plate_dir / "images", "A01", 2)
    data = f.read_bytes()
    f.write_bytes(data[: len(data) // 3])
    with pytest.raises(InputError) as err:
        read_channel(f)
    assert str(f) in str(err.value) and "truncated or corrupt" in str(err.value)


def test_corrupt_png_names_the_file(tmp_path, small_spec) -> None:
    out = MicroscopeSimulator(small_spec).write(tmp_path, "rxrx")
    f = next(out.images.rglob("A01_s1_w1.png"))
    f.write_bytes(b"\x89PNG\r\n\x1a\n" + b"garbage" * 50)
    key, ch = parse_name(f)
    assert ch == 0 and key.well == "A01"
    with pytest.raises(InputError, match=str(f)):
        load_site(key, discover(out.images)[key])


def test_missing_channel_wrong_shape_and_dtype(plate_dir) -> None:
    images = plate_dir / "images"
    _file(images, "A01", 3).unlink()
    sites = discover(images)
    key = next(k for k in sites if k.well == "A01")
    with pytest.raises(InputError, match="missing channel"):
        load_site(key, sites[key])
    bad_shape = _file(images, "A02", 4)
    tifffile.imwrite(bad_shape, np.zeros((64, 80), np.uint16))
    key = next(k for k in sites if k.well == "A02")
    with pytest.raises(InputError, match=f"{bad_shape}.*shape"):
        load_site(key, sites[key])
    bad_type = _file(images, "A03", 1)
    tifffile.imwrite(bad_type, np.zeros((192, 192), np.int32))
    with pytest.raises(InputError, match=f"{bad_type}.*pixel type"):
        read_channel(bad_type)
    rgb = _file(images, "A03", 2)
    tifffile.imwrite(rgb, np.zeros((192, 192, 3), np.uint8))
    with pytest.raises(InputError, match="2-D grey"):
        read_channel(rgb)


def test_empty_field_is_refused(plate_dir) -> None:
    images = plate_dir / "images"
    f = _file(images, "A04", 1)
    tifffile.imwrite(f, np.full((192, 192), 300, np.uint16))
    key, _ = parse_name(f)
    files = discover(images)[key]
    with pytest.raises(InputError, match=f"{f}.*empty field"):
        process_site(key, files)


def test_platemap_problems_are_input_errors(tmp_path) -> None:
    p = tmp_path / "pm.csv"
    p.write_text("plate,well,perturbation,role\nP01,A01,X,treatment\nP01,Z99,Y,treatment\n")
    with pytest.raises(InputError, match="Z99"):
        read_platemap(p)
    p.write_text("plate,well,perturbation,role\nP01,A01,X,wizard\n")
    with pytest.raises(InputError, match="role"):
        read_platemap(p)
    p.write_text("plate,well,perturbation\nP01,A01,X\n")
    with pytest.raises(InputError, match="role"):
        read_platemap(p)


def test_chain_quarantines_each_bad_site_and_profiles_the_rest(plate_dir, tmp_path) -> None:
    images = plate_dir / "images"
    n_sites = len(discover(images))
    trunc = _file(images, "A01", 2)
    trunc.write_bytes(trunc.read_bytes()[:500])
    _file(images, "A02", 5).unlink()
    empty = _file(images, "A03", 1)
    tifffile.imwrite(empty, np.full((192, 192), 300, np.uint16))
    stray = images / "P01_H12_s1_w1.tif"  # an image with no platemap row
    shutil.copy(_file(images, "A04", 1), stray)
    pm = pd.read_csv(plate_dir / "platemap.csv")
    pm = pd.concat(
        [
            pm,
            pd.DataFrame(
                [{"plate": "P01", "well": "G07", "perturbation": "C1G1", "role": "treatment", "sites": 1}]
            ),
        ]
    )
    pm.to_csv(plate_dir / "platemap.csv", index=False)
    res = profile_directory(images, plate_dir / "platemap.csv", tmp_path / "out", figures=False)
    sources = " | ".join(f"{q['source']}: {q['problem']}" for q in res.quarantined)
    assert str(trunc) in sources
    assert "missing channel" in sources
    assert f"{empty}: empty field" in sources
    assert f"{stray}: image of P01/H12/s1 has no platemap row" in sources
    assert "P01/G07: well has no images" in sources
    qc = res.metrics["qc"]
    assert qc["sites_measured"] == n_sites - 3
    assert set(res.well_profiles.Metadata_Well) == set(pm.well) - {"A01", "A02", "A03", "G07"}
    assert (tmp_path / "out" / "well_profiles.parquet").exists()


def test_rxrx_metadata_lists_a_site_with_no_images(tmp_path, small_spec) -> None:
    out = MicroscopeSimulator(small_spec).write(tmp_path / "sim", "rxrx")
    for f in out.images.rglob("B01_s1_w*.png"):
        f.unlink()
    res = profile_directory(out.images, out.platemap, None, figures=False)
    problems = [q for q in res.quarantined if q["source"].endswith("metadata.csv")]
    assert len(problems) == 1 and "SIM-Plate1/B01/s1" in problems[0]["problem"]
    assert "B01" not in set(res.well_profiles.Metadata_Well)


def test_an_unparseable_name_is_quarantined_and_every_other_site_profiled(plate_dir, tmp_path) -> None:
    """Regression (issue 11): one such file aborted `phenomics profile` for every site (0/22)."""
    images = plate_dir / "images"
    n_sites = len(discover(images))
    odd = images / "P01_A01_s1_DAPI.tif"  # a channel named by its stain: no layout reads it
    shutil.copy(_file(images, "A01", 1), odd)
    with pytest.raises(InputError, match="P01_A01_s1_DAPI.tif: file name does not follow"):
        discover(images)
    res = profile_directory(images, plate_dir / "platemap.csv", tmp_path / "out", figures=False)
    assert res.metrics["qc"]["sites_measured"] == n_sites
    assert [q["source"] for q in res.quarantined if "does not follow" in q["problem"]] == [str(odd)]


def test_a_site_mixing_bit_depths_is_refused_by_batch_and_stream_alike(plate_dir, tmp_path) -> None:
    """Regression (issue 11): `profile` refused the site, `watch` measured it."""
    from labstream.core.settings import Settings
    from labstream.ingest import Ingestor
    from labstream.phenomics.stages import pipeline
    from labstream.runtime import PipelineRunner

    images = plate_dir / "images"
    eight = _file(images, "A01", 3)
    tifffile.imwrite(eight, (read_channel(eight) // 256).astype(np.uint8))
    key, _ = parse_name(eight)
    with pytest.raises(InputError, match="mixes pixel types"):
        load_site(key, discover(images)[key])
    settings = Settings(home=tmp_path / "home")
    ingestor = Ingestor(settings)
    for f in sorted(images.glob("*_A01_s1_w*.tif")):
        assert ingestor.ingest_file(f, instrument="microscope").status == "published"
    pm = str(plate_dir / "platemap.csv")
    with PipelineRunner(settings, pipeline(platemap=pm), "local?cpu=1") as runner:
        runner.run_until_idle(timeout=120)
        qc = runner.lake.read("site_qc").to_pandas()
    assert list(qc.Metadata_Well) == ["A01"] and "mixes pixel types" in qc.error.iloc[0]
    assert "cells" not in runner.lake.tables() or runner.lake.read("cells").num_rows == 0
