"""The compiled feature kernels against the NumPy reference, column by column, on simulated sites."""

from __future__ import annotations

import numpy as np
import pytest

from labstream.phenomics.features import cell_feature_block, reference_feature_block
from labstream.phenomics.image import Segmentation, segment
from labstream.phenomics.reading import discover, load_site

RTOL = 1e-9  # stated tolerance: sums add in the same order; only Haralick reductions reorder (~1e-13)


def _compare(pixels: np.ndarray, seg: Segmentation) -> None:
    names, fused = cell_feature_block(pixels, seg)
    ref_names, ref = reference_feature_block(pixels, seg)
    assert names == ref_names
    assert fused.shape == ref.shape and fused.shape[0] == seg.count
    for j, name in enumerate(names):
        np.testing.assert_allclose(
            fused[:, j], ref[:, j], rtol=RTOL, atol=1e-12, equal_nan=True, err_msg=name
        )


@pytest.fixture(scope="module")
def sites(tiff_set) -> list[tuple[np.ndarray, Segmentation]]:
    found = discover(tiff_set.images)
    out = []
    for key in sorted(found)[:3]:
        px = load_site(key, found[key]).pixels
        out.append((px, segment(px)))
    return out


def test_fused_equals_reference_on_simulated_sites(sites) -> None:
    assert sum(seg.count for _, seg in sites) > 5
    for pixels, seg in sites:
        _compare(pixels, seg)


@pytest.mark.parametrize("dtype", [np.uint8, np.float32, np.float64])
def test_fused_equals_reference_for_other_pixel_types(sites, dtype) -> None:
    pixels, seg = sites[0]
    x = pixels.astype(np.float64) / max(float(pixels.max()), 1) * 255
    _compare(x.astype(dtype), seg)


def test_fused_handles_odd_objects() -> None:
    """Objects at the image border, one-pixel objects, a cell that is all nucleus, holes."""
    rng = np.random.default_rng(1)
    cells = np.zeros((40, 50), np.int32)
    nuclei = np.zeros_like(cells)
    cells[0:10, 0:12] = 1
    nuclei[2:6, 0:5] = 1
    cells[20, 20] = nuclei[20, 20] = 2
    cells[25:35, 30:50] = 3
    cells[28:31, 35:38] = 0  # a hole
    nuclei[26:33, 40:49] = 3
    cells[12:18, 12:30] = nuclei[12:18, 12:30] = 4  # all nucleus
    pixels = rng.integers(0, 4000, (5, 40, 50)).astype(np.uint16)
    _compare(pixels, Segmentation(nuclei, cells))


def test_nuclei_outside_their_cells_take_the_reference_path() -> None:
    cells = np.zeros((30, 30), np.int32)
    cells[2:12, 2:12] = 1
    cells[15:28, 15:28] = 2
    nuclei = np.zeros_like(cells)
    nuclei[4:8, 4:8] = 2  # nucleus 2 lies in cell 1
    nuclei[18:22, 18:22] = 1
    pixels = np.random.default_rng(2).integers(0, 255, (5, 30, 30)).astype(np.uint8)
    names, block = cell_feature_block(pixels, Segmentation(nuclei, cells))
    ref_names, ref = reference_feature_block(pixels, Segmentation(nuclei, cells))
    assert names == ref_names
    np.testing.assert_array_equal(block, ref)
