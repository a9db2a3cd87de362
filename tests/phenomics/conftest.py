"""Small simulated plate sets shared by the phenomics tests (written once per session)."""

from __future__ import annotations

from pathlib import Path

import pytest

from labstream.instruments.microscope import MicroscopeSimulator, PlateSetSpec, SimulatedSet


@pytest.fixture(scope="session")
def tiff_set(tmp_path_factory: pytest.TempPathFactory, small_spec: PlateSetSpec) -> SimulatedSet:
    return MicroscopeSimulator(small_spec).write(tmp_path_factory.mktemp("tiffset"), "tiff")


@pytest.fixture(scope="session")
def map_set(tmp_path_factory: pytest.TempPathFactory) -> SimulatedSet:
    """Three plates (three replicates per perturbation), one site per well: enough for the map."""
    spec = PlateSetSpec(
        plates=3,
        complexes=3,
        genes_per_complex=3,
        nulls=3,
        negative_controls=4,
        positive_controls=2,
        sites_per_well=1,
        size=192,
        effect=1.5,
        seed=11,
    )
    return MicroscopeSimulator(spec).write(Path(tmp_path_factory.mktemp("mapset")), "tiff")


CELL_KEYS = ["Metadata_Plate", "Metadata_Well", "Metadata_Site", "Metadata_Object"]


def _profile(images: Path, platemap: Path, out: Path, *extra: str) -> None:
    from typer.testing import CliRunner

    from labstream.cli.main import app

    args = ["phenomics", "profile", "--images", str(images), "--platemap", str(platemap), "--out", str(out)]
    res = CliRunner().invoke(app, [*args, "--workers", "1", *extra])
    assert res.exit_code == 0, res.output


def _same_cells(a, b) -> None:  # type: ignore[no-untyped-def]
    import numpy as np

    a = a.sort_values(CELL_KEYS).reset_index(drop=True)
    b = b.sort_values(CELL_KEYS).reset_index(drop=True)
    assert len(a) == len(b) > 0
    assert (a[CELL_KEYS].astype(str).values == b[CELL_KEYS].astype(str).values).all()
    features = [c for c in b.columns if not c.startswith("Metadata_") or c.startswith("Metadata_Cell_")]
    np.testing.assert_allclose(
        a[features].to_numpy(np.float64), b[features].to_numpy(np.float64), rtol=1e-6, atol=1e-6
    )


@pytest.fixture
def profile_cli():  # type: ignore[no-untyped-def]
    """`labstream phenomics profile --images I --platemap P --out O [extra...]`, asserting success."""
    return _profile


@pytest.fixture
def same_cells():  # type: ignore[no-untyped-def]
    """Assert two `cells` tables hold the same cells with the same features (order aside)."""
    return _same_cells


@pytest.fixture(scope="session")
def tiff_cells(tiff_set: SimulatedSet, tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    """The `cells` of the small site-tiff set profiled in batch: the reference every layout must give."""
    import pandas as pd

    out = tmp_path_factory.mktemp("tiffcells")
    _profile(tiff_set.images, tiff_set.platemap, out)
    return pd.read_parquet(out / "cells" / "P01.parquet")
