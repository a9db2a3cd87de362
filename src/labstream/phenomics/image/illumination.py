"""Illumination functions per plate x channel, CellProfiler-style, built in bounded memory.

The function is the mean of all of a plate's images of one channel, median-filtered heavily and scaled
to median 1. It is accumulated on block-averaged images (`factor` x smaller), so a plate of any size
costs a few kB per channel, and a site can be added the moment it lands.

Streaming compromise (used by the chain and the stages): a site's features are measured on its raw
pixels as soon as it lands; when the plate is complete, intensity features (which scale linearly with
illumination) are divided by the plate's illumination function at each cell's centre. The field is
smooth on the scale of a cell, so this equals correcting the image first to within a few percent,
while texture, granularity, correlation and radial features are scale-free and need no correction.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage as ndi

from labstream.phenomics.image._kernels import block_sums_mean


def block_mean(pixels: np.ndarray, factor: int) -> np.ndarray:
    """(C, H, W) -> (C, H//f, W//f) float64 block means (edges cropped).

    8- and 16-bit pixels take one compiled pass (`block_sums_mean`: exact integer block sums over
    f * f), the same numbers as the float64 means."""
    c, h, w = pixels.shape
    hh, ww = h // factor, w // factor
    if pixels.dtype in (np.uint8, np.uint16) and hh and ww:
        return block_sums_mean(pixels, factor)
    x = pixels[:, : hh * factor, : ww * factor].astype(np.float64)
    return x.reshape(c, hh, factor, ww, factor).mean(axis=(2, 4))


@dataclass
class IlluminationAccumulator:
    """Running sum of block-averaged site images of one plate; mergeable across workers."""

    factor: int = 8
    total: np.ndarray | None = None
    count: int = 0
    full_shape: tuple[int, int] = (0, 0)

    def add(self, pixels: np.ndarray) -> None:
        small = block_mean(pixels, self.factor)
        self.full_shape = (int(pixels.shape[1]), int(pixels.shape[2]))
        self.total = small if self.total is None else self.total + small
        self.count += 1

    def add_small(self, small: np.ndarray, full_shape: tuple[int, int]) -> None:
        self.full_shape = full_shape
        self.total = small if self.total is None else self.total + small
        self.count += 1

    def function(self, filter_fraction: float = 0.25) -> np.ndarray:
        """(C, h, w) illumination function with median 1 per channel."""
        if self.total is None or self.count == 0:
            raise ValueError("no images accumulated")
        mean = self.total / self.count
        size = max(3, int(round(filter_fraction * min(mean.shape[1:]))) | 1)
        out = np.empty_like(mean)
        for c in range(mean.shape[0]):
            sm = ndi.median_filter(mean[c], size=size, mode="nearest")
            sm = ndi.gaussian_filter(sm, size / 4, mode="nearest")
            out[c] = sm / max(float(np.median(sm)), 1e-12)
        return np.clip(out, 0.05, None)


def value_at(func: np.ndarray, y: np.ndarray, x: np.ndarray, factor: int) -> np.ndarray:
    """Illumination (C, N) at full-resolution coordinates, by bilinear interpolation."""
    yy = (np.asarray(y, np.float64) + 0.5) / factor - 0.5
    xx = (np.asarray(x, np.float64) + 0.5) / factor - 0.5
    return np.stack([ndi.map_coordinates(f, [yy, xx], order=1, mode="nearest") for f in func])


def correct(pixels: np.ndarray, func: np.ndarray, factor: int) -> np.ndarray:
    """Divide a whole (C, H, W) image by the upsampled function (gather-then-correct path)."""
    h, w = pixels.shape[1:]
    yy, xx = np.mgrid[0:h, 0:w]
    full = value_at(func, yy.ravel(), xx.ravel(), factor).reshape(-1, h, w)
    return pixels.astype(np.float32) / full.astype(np.float32)
