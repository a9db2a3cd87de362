"""A plate streamed through `labstream watch --pipeline phenomics` gives the batch chain's cells."""

from __future__ import annotations

import shutil
from dataclasses import replace
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from labstream.cli.main import app
from labstream.core.settings import Settings
from labstream.instruments.microscope import MicroscopeSimulator
from labstream.lake import open_lake


@pytest.mark.slow
def test_plate_with_underscores_streams_into_the_same_cells_as_the_batch_chain(
    home: Path, tmp_path: Path, small_spec, watch_cli, same_cells
) -> None:
    """`BR00_117_A01_s1_w1.tif` was routed as `unknown` and dropped by the stream, read by the batch."""
    sim = MicroscopeSimulator(replace(small_spec, plates=1)).write(tmp_path / "sim", "tiff")
    plate_dir = tmp_path / "BR00_117"
    plate_dir.mkdir()
    for p in sorted(Path(sim.images).glob("P01_*.tif")):
        shutil.copy(p, plate_dir / p.name.replace("P01_", "BR00_117_", 1))
    pm = pd.read_csv(sim.platemap, dtype=str)
    pm[pm.columns[0]] = pm[pm.columns[0]].str.replace("P01", "BR00_117")
    pm.to_csv(plate_dir / "platemap.csv", index=False)
    n_sites = len(list(plate_dir.glob("*_w1.tif")))

    watch_cli(plate_dir, "--pipeline", "phenomics", "--set", "site_timeout_s=600")
    streamed = open_lake(Settings().lake_url).read("cells").to_pandas()

    out = tmp_path / "batch"
    res = CliRunner().invoke(
        app,
        [
            "phenomics",
            "profile",
            "--images",
            str(plate_dir),
            "--platemap",
            str(plate_dir / "platemap.csv"),
            "--out",
            str(out),
        ],
    )
    assert res.exit_code == 0, res.output
    batch = pd.read_parquet(out / "cells" / "BR00_117.parquet")
    assert set(streamed.Metadata_Plate) == {"BR00_117"}
    assert streamed.groupby(["Metadata_Well", "Metadata_Site"]).ngroups == n_sites
    same_cells(streamed, batch)
