"""Compile every phenomics kernel once, so no site (and no test) pays numba's ~20 s cold compile.

`make setup` runs `python -m labstream.phenomics.warm` after installing: numba caches the machine code
next to the sources, and every later process loads it in well under a second. Worker processes call
`warm_up()` too: from the cache that is cheap, and it keeps the compile out of the first site's time.
"""

from __future__ import annotations

import time

import numpy as np

from labstream.phenomics.model import CHANNELS, SiteImage, SiteKey


def _blob_site(dtype: type[np.generic], size: int = 96) -> np.ndarray:
    """A tiny (C, H, W) site with a few round cells: enough for QC, segmentation and every feature."""
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32)
    dna = np.zeros((size, size), np.float32)
    cyto = np.zeros((size, size), np.float32)
    for cy, cx in ((24, 24), (24, 70), (70, 30), (66, 72)):
        r2 = (yy - cy) ** 2 + (xx - cx) ** 2
        dna += np.exp(-r2 / (2 * 5.0**2))
        cyto += np.exp(-r2 / (2 * 12.0**2))
    top = 200.0 if dtype == np.uint8 else 3000.0
    chans = [dna] + [cyto * (0.6 + 0.1 * c) + 0.05 * dna for c in range(1, len(CHANNELS))]
    return np.stack([(top * (0.05 + c / c.max())) for c in chans]).astype(dtype)


def warm_up() -> float:
    """Load (or compile) the kernels for 8-bit, 16-bit and float images; returns the seconds it took."""
    from labstream.phenomics.features.cells import warm_up as warm_features
    from labstream.phenomics.site import measure_site

    t0 = time.perf_counter()
    warm_features()  # every per-cell kernel, on cells that hold their nuclei
    for dtype in (np.uint16, np.uint8, np.float32):
        measure_site(SiteImage(SiteKey("warm", "A01", 1), _blob_site(dtype)))
    return time.perf_counter() - t0


if __name__ == "__main__":
    print(f"phenomics kernels ready in {warm_up():.1f} s")
