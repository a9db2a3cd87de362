"""Every instrument layout, metadata files included, through `phenomics profile` and `watch`: the same
`cells` rows as the site-tiff layout for the same pixels."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from labstream.core.settings import Settings
from labstream.instruments.microscope import MicroscopeSimulator
from labstream.instruments.microscope_layouts import INSTRUMENT_LAYOUTS, PATTERN
from labstream.lake import open_lake


@pytest.mark.parametrize("layout", INSTRUMENT_LAYOUTS)
def test_profile_gives_the_site_tiff_cells(
    tmp_path: Path, small_spec, tiff_cells, profile_cli, same_cells, layout: str
) -> None:
    s = MicroscopeSimulator(small_spec).write(tmp_path / layout, layout)
    extra = ["--layout", "pattern", "--name-pattern", PATTERN] if layout == "pattern" else []
    profile_cli(s.images, s.platemap, tmp_path / "out", *extra)
    same_cells(pd.read_parquet(tmp_path / "out" / "cells" / "P01.parquet"), tiff_cells)


@pytest.mark.slow
@pytest.mark.parametrize("layout", INSTRUMENT_LAYOUTS)
def test_watch_streams_the_site_tiff_cells(
    home: Path, tmp_path: Path, small_spec, tiff_cells, same_cells, watch_cli, layout: str
) -> None:
    s = MicroscopeSimulator(small_spec).write(tmp_path / layout, layout)
    extra = ["--set", "layout=pattern", "--set", f"name_pattern={PATTERN}"] if layout == "pattern" else []
    watch_cli(s.images, "--pipeline", "phenomics", "--set", "site_timeout_s=600", *extra)
    lake = open_lake(Settings().lake_url)
    same_cells(lake.read("cells").to_pandas(), tiff_cells)
    assert "well_profiles" in lake.tables()  # the plate completed on its count, not on a watermark
