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


def test_peak_rss_is_the_process_own_not_its_parents() -> None:
    """A child started by a parent holding ~300 MB reports its own peak (~tens of MB), where
    `ru_maxrss` reports the parent's."""
    import subprocess
    import sys

    code = (
        "import importlib.util, json, resource, sys; "
        f"spec = importlib.util.spec_from_file_location('b', {str(BENCH / 'phenomics.py')!r}); "
        "m = importlib.util.module_from_spec(spec); spec.loader.exec_module(m); "
        "print(json.dumps([m.peak_rss_mb(), resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024]))"
    )
    held = bytearray(300 * 2**20)  # touched: the parent's resident memory
    held[::4096] = b"x" * len(held[::4096])
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True)
    own, inherited = (float(v) for v in out.stdout.strip()[1:-1].split(","))
    del held
    assert inherited > 300 and own < 250, (own, inherited)
