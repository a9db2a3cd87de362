"""Granularity: the percent of each cell's intensity removed by grey openings of growing size.

A granulometry at half resolution on the top-hat of each channel (CellProfiler's MeasureGranularity,
subsampled as its default does). Integer sites take the rank route (`_kernels_granularity`: the
openings in uint16, the same numbers); other dtypes, or a channel with more than 65536 distinct
values, the float32 route.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from labstream.phenomics.features import _kernels_granularity as KG
from labstream.phenomics.features._kernels_intensity import label_diff_sums
from labstream.phenomics.features.texture import _square_hwc, half_means
from labstream.phenomics.model import CHANNELS


def granularity_features(
    labels: np.ndarray, pixels: np.ndarray, n: int, comp: str, scales: int
) -> dict[str, np.ndarray]:
    """Percent of each cell's intensity removed between openings of size 2r-1 and 2r+1.

    Measured at half resolution (CellProfiler subsamples granularity by default too), so scale r
    spans 2r pixels of the original image. The erosions of the granulometry are chained (an erosion by
    a (2r+1)-square is the r-fold erosion by a 3-square), so each scale costs one 3-square erosion plus
    one dilation, and every channel is filtered (channels-last, one OpenCV call) and reduced in the
    same array pass.
    """
    h, w = (labels.shape[0] // 2) * 2, (labels.shape[1] // 2) * 2
    flat = labels[:h:2, :w:2].ravel()
    # only the cells' pixels are summed (raster order, as a pass over the whole image adds them), and
    # each scale's removed intensity is summed as it is subtracted (no full-size difference image)
    pos = np.flatnonzero((flat > 0) & (flat <= n))
    labs = flat[pos]
    big = 2 * scales + 5
    removed = None
    if pixels.dtype in (np.uint8, np.uint16):
        removed = _granulometry_ranks(pixels[:, :h, :w], pos, labs, n, scales, big)
    if removed is None:
        removed = _granulometry_float(pixels[:, :h, :w], pos, labs, n, scales, big)
    return {
        f"{comp}_Granularity_{r}_{ch}": removed[r - 1][i]
        for i, ch in enumerate(CHANNELS)
        for r in range(1, scales + 1)
    }


def _tophat(pixels: np.ndarray, big: int) -> np.ndarray:
    """(H/2, W/2, C) float32 half-resolution means minus their opening by a big square (background)."""
    x = half_means(pixels)
    return x - _square_hwc(_square_hwc(x, big, np.minimum), big, np.maximum)


def _granulometry(
    x: np.ndarray, sums: Callable[[np.ndarray, np.ndarray, bool], np.ndarray], scales: int
) -> list[np.ndarray]:
    """Percent removed per scale (C, n) from the top-hat `x` (H, W, C) and `sums(a, b, diff)`, the
    per-cell sums of a - b (diff) or of a. The erosions are chained: one 3-square erosion and one
    dilation per scale."""
    x2 = x.reshape(-1, x.shape[-1])
    start = np.maximum(sums(x2, x2, False), 1e-9)
    removed = []
    prev, eroded = x2, x
    for r in range(1, scales + 1):
        eroded = _square_hwc(eroded, 3, np.minimum)
        cur = _square_hwc(eroded, 2 * r + 1, np.maximum).reshape(x2.shape)
        removed.append(100.0 * sums(prev, cur, True) / start)
        prev = cur
    return removed


def _granulometry_float(
    pixels: np.ndarray, pos: np.ndarray, labs: np.ndarray, n: int, scales: int, big: int
) -> list[np.ndarray]:
    """Percent removed per scale (C, n) on float32 half-resolution means."""
    return _granulometry(
        _tophat(pixels, big), lambda a, b, diff: label_diff_sums(pos, labs, a, b, diff, n), scales
    )


def _granulometry_ranks(
    pixels: np.ndarray, pos: np.ndarray, labs: np.ndarray, n: int, scales: int, big: int
) -> list[np.ndarray] | None:
    """`_granulometry_float` on integer pixels, the granulometry's openings on uint16 codes of the
    top-hat (`_kernels_granularity`): the same numbers, or None when a channel holds more than 65536
    distinct values."""
    codes, lut, ok = KG.quarter_ranks(_tophat(pixels, big))
    if not ok:
        return None
    return _granulometry(
        codes, lambda a, b, diff: KG.label_rank_diff_sums(pos, labs, a, b, lut, diff, n), scales
    )
