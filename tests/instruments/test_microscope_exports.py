"""The same pixels written through every instrument layout are read back as the same sites
(the same `cells` through profile and watch: tests/phenomics/test_phenomics_layouts.py)."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np

from labstream.instruments.microscope import MicroscopeSimulator
from labstream.instruments.microscope_layouts import INSTRUMENT_LAYOUTS, PATTERN
from labstream.phenomics.reading import ReadOptions, discover, load_site


def test_every_layout_reads_back_the_pixels_written(tmp_path: Path, small_spec) -> None:
    spec = replace(small_spec, size=64, sites_per_well=2)
    ref = None
    for layout in ("tiff", *INSTRUMENT_LAYOUTS):
        s = MicroscopeSimulator(spec).write(tmp_path / layout, layout)
        errors: list = []
        opts = ReadOptions(layout="pattern", name_pattern=PATTERN) if layout == "pattern" else None
        sites = discover(s.images, errors, opts)
        assert errors == []
        pixels = {k: load_site(k, f).pixels for k, f in sites.items()}
        if ref is None:
            ref = pixels
            continue
        assert pixels.keys() == ref.keys(), layout
        for k, px in pixels.items():
            np.testing.assert_array_equal(px, ref[k], err_msg=f"{layout} {k.id}")
