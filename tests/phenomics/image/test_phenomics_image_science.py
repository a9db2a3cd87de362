"""Science checks of image processing: segmentation counts, illumination recovery, GPU filters = CPU."""

from __future__ import annotations

import numpy as np
import pandas as pd

from labstream.instruments.microscope import MicroscopeSimulator, illumination_field
from labstream.phenomics.image import IlluminationAccumulator, correct, segment, value_at
from labstream.phenomics.reading import discover, load_site


def test_segmentation_counts_nuclei_of_every_site(tiff_set) -> None:
    truth = pd.read_csv(tiff_set.root / "site_truth.csv")
    sites = discover(tiff_set.images)
    found = {(k.plate, k.well, k.site): segment(load_site(k, f).pixels).count for k, f in sites.items()}
    expected = {(r.plate, r.well, r.site): r.n_nuclei for r in truth.itertuples()}
    assert found == expected


def test_illumination_function_recovers_the_simulated_field(map_set) -> None:
    sim = MicroscopeSimulator(PlateSetSpec_from(map_set))
    acc = IlluminationAccumulator(8)
    keys = [k for k in sim.sites() if k.plate == "P01"]
    for k in keys:
        acc.add(sim.render(k)[0])
    func = acc.function()
    true = illumination_field(192, sim.illum_centres[0])
    yy, xx = np.mgrid[8:184:16, 8:184:16]
    est = value_at(func, yy.ravel(), xx.ravel(), 8)
    for c in range(5):
        r = np.corrcoef(est[c], true[yy, xx].ravel())[0, 1]
        assert r > 0.8, (c, r)
    flat = correct(sim.render(keys[0])[0], func, 8)
    assert flat.shape == (5, 192, 192)


def PlateSetSpec_from(simset):  # type: ignore[no-untyped-def]
    from labstream.instruments.microscope import PlateSetSpec

    return PlateSetSpec(
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


def test_gpu_filters_match_cpu_or_fall_back(monkeypatch) -> None:
    from labstream.phenomics.image._gpu import TOLERANCE, distance_transform, gaussian, use_gpu

    rng = np.random.default_rng(1)
    x = rng.random((64, 64)).astype(np.float32) * 1000
    cpu = gaussian(x, 1.5, gpu=False)
    monkeypatch.setenv("LABSTREAM_GPU", "1")
    other = gaussian(x, 1.5)  # the device when CuPy and a GPU are present, else the same CPU code
    assert np.abs(other - cpu).max() <= TOLERANCE * float(x.max() - x.min())
    mask = x > 500
    np.testing.assert_allclose(distance_transform(mask), distance_transform(mask, gpu=False), atol=1e-4)
    assert use_gpu(False) is False
