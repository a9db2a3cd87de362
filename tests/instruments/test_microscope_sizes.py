"""Sites at the sizes screening labs image (1080², 16-bit): the simulator's fields pass QC (no
saturated channel) and the classic segmentation finds the nuclei it drew, with the cells growing with
the field (default) or at a screen's density (cell_scale, cells_per_site)."""

from __future__ import annotations

import pytest

from labstream.instruments.microscope import MicroscopeSimulator, PlateSetSpec
from labstream.phenomics.image import segment, site_qc
from labstream.phenomics.model import SiteImage


@pytest.mark.slow
@pytest.mark.parametrize(
    "shape", [{}, {"cell_scale": 1.5, "cells_per_site": (150, 200)}], ids=["cells-grow", "screen-density"]
)
def test_a_1080_site_passes_qc_and_its_nuclei_are_found(shape: dict[str, object]) -> None:
    sim = MicroscopeSimulator(PlateSetSpec(plates=1, size=1080, seed=4, **shape))  # type: ignore[arg-type]
    key = next(iter(sim.sites()))
    pixels, drawn = sim.render(key)
    assert pixels.shape == (5, 1080, 1080) and pixels.dtype.name == "uint16"
    qc = site_qc(SiteImage(key, pixels))
    assert qc.qc_pass and qc.saturation_max == 0.0
    found = segment(pixels).count
    assert abs(found - drawn) <= max(1, 0.05 * drawn), (found, drawn)


def test_a_binned_site_is_the_sensor_field_read_out_2x2() -> None:
    """2x2 binning writes (size/2)² sites: the block means of the same sensor field (same cells, same
    draws), within the one grey level of quantising before or after, and its nuclei are found."""
    import numpy as np

    spec = {"plates": 1, "size": 512, "seed": 4}
    plain, binned = (
        MicroscopeSimulator(PlateSetSpec(**spec)),
        MicroscopeSimulator(PlateSetSpec(**spec, binning=2)),
    )  # type: ignore[arg-type]
    key = next(iter(plain.sites()))
    (full, drawn), (small, drawn_binned) = plain.render(key), binned.render(key)
    assert small.shape == (5, 256, 256) and small.dtype == full.dtype and drawn == drawn_binned
    blocks = full.astype(np.float64).reshape(5, 256, 2, 256, 2).mean(axis=(2, 4))
    assert np.abs(small - blocks).max() <= 1.0
    assert site_qc(SiteImage(key, small)).qc_pass
    found = segment(small).count
    assert abs(found - drawn) <= max(1, 0.05 * drawn), (found, drawn)
