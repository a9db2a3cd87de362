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
