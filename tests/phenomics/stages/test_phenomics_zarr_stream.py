"""OME-Zarr HCS plates streamed field by field through the platform (watcher, stream, stages, lake)."""

from __future__ import annotations

import shutil
import threading
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from labstream.core.settings import Settings
from labstream.ingest import Ingestor, Watcher
from labstream.instruments.microscope import MicroscopeSimulator, PlateSetSpec
from labstream.phenomics.chain import profile_directory
from labstream.phenomics.model import CHANNELS, SiteKey
from labstream.phenomics.reading import write_zarr_field
from labstream.phenomics.stages import pipeline
from labstream.runtime import PipelineRunner

META = ["lineage_id", "project", "_ingested_at"]


def _cells(df: pd.DataFrame) -> pd.DataFrame:
    df = df.drop(columns=[c for c in META if c in df.columns])
    key = [c for c in ("Metadata_Plate", "Metadata_Well", "Metadata_Site", "Metadata_Cell") if c in df]
    return df.sort_values(key).reset_index(drop=True)


@pytest.mark.slow
def test_streamed_zarr_plate_gives_the_batch_chains_cells(tmp_path: Path, small_spec: PlateSetSpec) -> None:
    sim = MicroscopeSimulator(small_spec)
    batch = profile_directory(
        sim.write(tmp_path / "batch_in", "zarr").images,
        tmp_path / "batch_in" / "platemap.csv",
        tmp_path / "batch_out",
        figures=False,
    )
    inbox = tmp_path / "inbox"
    sim.write_metadata(inbox, "zarr")
    settings = Settings(home=tmp_path / "home")
    ingestor = Ingestor(settings)
    watcher = Watcher(inbox, ingestor, settle_seconds=0.2, poll_interval=0.05)
    stop = threading.Event()
    with PipelineRunner(settings, pipeline(), "local?cpu=2", poll_timeout=0.05) as runner:
        threads = [
            threading.Thread(target=watcher.run, args=(stop,), daemon=True),
            threading.Thread(target=runner.run_forever, args=(stop,), daemon=True),
        ]
        for t in threads:
            t.start()
        try:
            landed = [key for key, _ in sim.stream(inbox, "zarr", rate=20.0)]
            deadline = time.monotonic() + 240
            while runner.status()["phenomics_plate"]["processed"] < 1 and time.monotonic() < deadline:
                time.sleep(0.2)
        finally:
            stop.set()
            for t in threads:
                t.join(timeout=30)
        status = runner.status()
        streamed = runner.lake.read("cells").to_pandas()
        qc = runner.lake.read("site_qc").to_pandas()
    ingestor.close()
    assert status["phenomics_plate"]["processed"] == 1, status
    # every field landed exactly once, as one unit (not one event per chunk file)
    fields = [r for r in watcher.stats.recent if ".zarr/" in r.path]  # fewer than RECENT results
    assert len(fields) == len(landed) and {r.status for r in fields} == {"published"}
    assert status["phenomics_site"]["processed"] == len(landed) and qc.error.isna().all()
    assert set(qc.source) == {
        f"{inbox}/P01.ome.zarr/{k.well[0]}/{int(k.well[1:])}/{k.site - 1}" for k in landed
    }
    plat = _cells(streamed)
    ref = _cells(pd.read_parquet(tmp_path / "batch_out" / "cells" / "P01.parquet"))
    assert len(plat) == len(ref) == batch.metrics["qc"]["cells"] > 0
    assert list(plat.columns) == list(ref.columns)
    meta = [c for c in ref.columns if c.startswith("Metadata_")]
    assert plat[meta].astype(str).equals(ref[meta].astype(str))
    feats = [c for c in ref.columns if c not in meta]
    # the lake stores per-cell features as float32
    np.testing.assert_allclose(plat[feats].to_numpy(float), ref[feats].to_numpy(float), rtol=1e-5, atol=1e-5)


def _rewrite_field(plate: Path, key: SiteKey, pixels: np.ndarray, channels: list[str]) -> Path:
    shutil.rmtree(plate / key.well[0] / str(int(key.well[1:])) / str(key.site - 1))
    return write_zarr_field(plate, key, pixels, channels)


@pytest.mark.slow
def test_bad_fields_are_quarantined_and_the_plate_goes_through(
    tmp_path: Path, small_spec: PlateSetSpec
) -> None:
    sim = MicroscopeSimulator(small_spec)
    written = sim.write(tmp_path / "sim", "zarr")
    inbox = tmp_path / "inbox"
    shutil.copytree(written.images, inbox)
    shutil.copy(written.platemap, inbox / "platemap.csv")
    plate = inbox / "P01.ome.zarr"
    keys = sorted(sim.sites("zarr"))
    corrupt, no_mito, wrong_type = keys[0], keys[1], keys[2]
    chunk = plate / corrupt.well[0] / str(int(corrupt.well[1:])) / "0" / "s0" / "c" / "2" / "0" / "0"
    chunk.write_bytes(chunk.read_bytes()[: chunk.stat().st_size // 2])  # truncated mid-write
    px, _ = sim.render(no_mito, "zarr")
    _rewrite_field(plate, no_mito, px[:4], list(CHANNELS[:4]))
    px, _ = sim.render(wrong_type, "zarr")
    _rewrite_field(plate, wrong_type, px.astype(np.int32), list(CHANNELS))
    bad = {
        corrupt: "does not decode",
        no_mito: "missing channel(s) Mito",
        wrong_type: "unsupported pixel type int32",
    }

    settings = Settings(home=tmp_path / "home")
    ingestor = Ingestor(settings)
    results = Watcher(inbox, ingestor, settle_seconds=0.0).scan_once()
    ingestor.close()
    assert sum(".zarr/" in r.path and r.status == "published" for r in results) == len(keys)
    with PipelineRunner(settings, pipeline(), "local?cpu=2") as runner:
        status = runner.run_until_idle(timeout=240)
        qc = runner.lake.read("site_qc").to_pandas()
        wells = runner.lake.read("well_profiles").to_pandas()
        quarantine = runner.catalog.list_quarantine(stage="phenomics_site")
    assert status["phenomics_plate"]["processed"] == 1, status  # the plate completed without them
    assert sorted(wells.Metadata_Well) == sorted(k.well for k in keys if k not in bad)
    failed = qc[qc.error.notna()]
    assert len(failed) == len(bad) and len(quarantine) == len(bad)
    by_source = {q.source.split(" ")[0]: q.problem for q in quarantine}
    for key, problem in bad.items():
        field = f"{plate}/{key.well[0]}/{int(key.well[1:])}/{key.site - 1}"
        assert problem in by_source[field], (field, by_source)
        row = failed[failed.Metadata_Well == key.well]
        assert problem in row.error.iloc[0] and row.source.iloc[0].startswith(field)


def test_simulate_streams_a_zarr_plate_field_by_field(tmp_path: Path) -> None:
    from labstream.cli.main import app

    args = ["phenomics", "simulate", "--out", str(tmp_path), "--layout", "zarr", "--stream"]
    res = CliRunner().invoke(app, [*args, "--plates", "1", "--sites", "1", "--size", "64"])
    assert res.exit_code == 0, res.output
    landed = [line for line in res.output.splitlines() if line.startswith("landed ")]
    pm = pd.read_csv(tmp_path / "images" / "platemap.csv")
    assert len(landed) == len(pm) and landed[0].startswith("landed P01/")
    ingestor = Ingestor(Settings(home=tmp_path / "home"))
    results = Watcher(tmp_path / "images", ingestor, settle_seconds=0.0).scan_once()
    ingestor.close()
    assert sorted(r.path for r in results if ".zarr/" in r.path) == sorted(
        f"{tmp_path}/images/P01.ome.zarr/{w[0]}/{int(w[1:])}/0" for w in pm.well
    )


@pytest.mark.slow
def test_profile_through_the_platform_takes_zarr_plates(tmp_path: Path, small_spec: PlateSetSpec) -> None:
    """`profile --platform` once refused OME-Zarr ("cannot be streamed file by file")."""
    from labstream.phenomics.stages import profile_via_platform

    sim = MicroscopeSimulator(small_spec).write(tmp_path / "sim", "zarr")
    victim = next(sim.images.glob("P01.ome.zarr/*/*/0/s0/c/0/0/0"))
    victim.unlink()  # a field whose DNA chunk never came: reported, the rest goes through
    field = str(victim.parents[4])
    plat = profile_via_platform(sim.images, sim.platemap, tmp_path / "plat", figures=False)
    batch = profile_directory(sim.images, sim.platemap, tmp_path / "batch", figures=False)
    assert [q["source"] for q in plat.quarantined] == [field] == [q["source"] for q in batch.quarantined]
    key = ["Metadata_Plate", "Metadata_Well"]
    a = plat.well_profiles.sort_values(key).reset_index(drop=True)
    b = batch.well_profiles.sort_values(key).reset_index(drop=True)
    assert a[key].equals(b[key]) and len(a) == plat.metrics["qc"]["sites_total"] - 1
    feats = [c for c in b.columns if c.startswith(("Cells_", "Nuclei_", "Cytoplasm_"))]
    pd.testing.assert_frame_equal(a[feats], b[feats], rtol=1e-3, atol=1e-3)  # lake cells are float32
