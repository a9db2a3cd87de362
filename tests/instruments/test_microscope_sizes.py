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
