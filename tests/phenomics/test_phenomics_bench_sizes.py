"""bench/phenomics.py: --cache reuses a finished simulation only for the same arguments, and
--binning reaches the simulator (the written sites are the sensor size over the binning)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[2] / "bench"


@pytest.fixture(scope="module")
def bench():  # type: ignore[no-untyped-def]
    spec = importlib.util.spec_from_file_location("bench_phenomics", BENCH / "phenomics.py")
    assert spec and spec.loader
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_cache_reuses_the_same_simulation_and_binning_writes_smaller_sites(bench, tmp_path) -> None:  # type: ignore[no-untyped-def]
    import tifffile

    shape = {"cells_per_site": (3, 4), "cell_scale": 0.0}
    first = bench.simulate_once(tmp_path / "s", 1, 1, 128, 1, 1, **shape, binning=1)
    one = sorted(Path(first["images"]).glob("*.tif"))[0]
    stamp = one.stat().st_mtime_ns
    again = bench.simulate_once(tmp_path / "s", 1, 1, 128, 1, 1, **shape, binning=1)
    assert again == first and one.stat().st_mtime_ns == stamp  # not simulated again
    assert tifffile.imread(one).shape == (128, 128)
    binned = bench.simulate_once(tmp_path / "s", 1, 1, 128, 1, 1, **shape, binning=2)  # other arguments
    assert tifffile.imread(sorted(Path(binned["images"]).glob("*.tif"))[0]).shape == (64, 64)
