"""Compiled image helpers (percentiles, Otsu, hole filling, labelling, cytoplasm sum) against NumPy,
scikit-image and scipy."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from scipy import ndimage as ndi
from skimage.filters import threshold_otsu

from labstream.phenomics.image import focus_score
from labstream.phenomics.image._kernels import _histogram, otsu, peak_labels, percentiles
from labstream.phenomics.image.segmentation import _cyto_sum


@pytest.mark.parametrize("dtype", [np.float32, np.uint16, np.uint8, np.int32])
def test_percentiles_equal_numpy(dtype) -> None:
    rng = np.random.default_rng(4)
    q = [0, 1, 25, 50, 99, 99.5, 99.9, 100]
    for i in range(40):
        x = rng.gamma(2.0, 300.0, (30 + i, 17 + i % 5))
        if dtype == np.float32:
            x -= 200  # negative values too
        x = x.astype(dtype)
        np.testing.assert_allclose(percentiles(x, q), np.percentile(x, q), rtol=1e-12)
        view = x[::2, 1::3]  # strided, as segment() takes a quarter of each plane
        np.testing.assert_allclose(percentiles(view, q), np.percentile(view, q), rtol=1e-12)
    const = np.full((5, 5), 7, dtype)
    np.testing.assert_array_equal(percentiles(const, q), np.percentile(const, q))


def test_otsu_equals_scikit_image_exactly() -> None:
    rng = np.random.default_rng(0)
    for i in range(60):
        x = ndi.gaussian_filter(rng.gamma(2, 300, (64 + i % 7, 80)), 1 + i % 3).astype(np.float32)
        assert otsu(x) == threshold_otsu(x)
    assert otsu(np.ones((4, 4), np.float32)) == 1.0


def test_histogram_counts_equal_numpy_exactly() -> None:
    """The multiply-then-correct bin estimate gives np.histogram's counts, values on the edges too."""
    rng = np.random.default_rng(5)
    for i in range(40):
        x = (rng.gamma(2, 300, 5000) * (1 + i)).astype(np.float32) - np.float32(i * 37)
        lo, hi = x.min(), x.max()
        edges = np.linspace(lo, hi, 257, endpoint=True, dtype=np.float32)
        x[:257] = edges  # every edge itself, and its float32 neighbours
        x[257:514] = np.nextafter(edges, np.float32(np.inf)).clip(lo, hi)
        x[514:771] = np.nextafter(edges, np.float32(-np.inf)).clip(lo, hi)
        want, np_edges = np.histogram(x, bins=256, range=(lo, hi))  # float32 ends, as scikit-image
        assert np.array_equal(np_edges.astype(np.float32), edges)
        assert np.array_equal(_histogram(x, edges), want)
        for m in (x.size - 1, x.size - 3, 2):  # the four-at-a-time loop's tail
            assert np.array_equal(_histogram(x[:m], edges), np.histogram(x[:m], bins=256, range=(lo, hi))[0])


def test_peak_labels_equal_ndimage_label_of_the_peak_mask() -> None:
    """Plateaus of every shape (U-shapes joining late, diagonal touches that stay apart, the image
    frame) numbered as `ndimage.label` numbers the mask (dist == dilated) & (dist > floor)."""
    rng = np.random.default_rng(1)
    for p in (0.995, 0.99, 0.9, 0.6):
        dist = (ndi.binary_dilation(rng.random((120, 90)) > p) * 3.0).astype(np.float32)
        dist += rng.integers(0, 2, dist.shape) * np.float32(1.0)
        dilated = cv2.dilate(dist, np.ones((3, 3), np.uint8))
        ref, _ = ndi.label((dist == dilated) & (dist > 1.5))
        np.testing.assert_array_equal(peak_labels(dist, dilated, 1.5), ref)
    u = np.zeros((6, 7), np.float32)
    u[1:5, 1], u[1:5, 5], u[4, 1:6], u[0, 3] = 2, 2, 2, 2  # a U joined at its bottom row; a lone pixel
    np.testing.assert_array_equal(peak_labels(u, u, 1.5), ndi.label(u > 1.5)[0])


def test_cyto_sum_equals_numpy_float32() -> None:
    rng = np.random.default_rng(2)
    planes = rng.integers(0, 5000, (3, 40, 50)).astype(np.uint16)
    lo, hi = np.array([10, 20, 30], np.float32), np.array([3000, 4000, 100], np.float32)
    ref = np.zeros((40, 50), np.float32)
    for k in range(3):
        ref += np.clip((planes[k].astype(np.float32) - lo[k]) / max(hi[k] - lo[k], np.float32(1e-6)), 0, 1)
    np.testing.assert_allclose(_cyto_sum(planes, lo, hi), ref, rtol=1e-6)


def test_focus_score_equals_ndimage_laplace() -> None:
    x = ndi.gaussian_filter(np.random.default_rng(3).gamma(2, 300, (64, 70)), 1.5).astype(np.uint16)
    y = x.astype(np.float32) / float(x.astype(np.float32).mean())
    assert focus_score(x) == pytest.approx(float(ndi.laplace(y).var()), rel=1e-4)


@pytest.mark.parametrize("dtype", [np.uint8, np.uint16])
def test_block_mean_equals_float64_reshape_mean(dtype) -> None:
    from labstream.phenomics.image import block_mean

    top = np.iinfo(dtype).max
    px = np.random.default_rng(7).integers(0, top + 1, (5, 67, 83)).astype(dtype)
    for f in (2, 8, 16):
        hh, ww = 67 // f, 83 // f
        ref = px[:, : hh * f, : ww * f].astype(np.float64).reshape(5, hh, f, ww, f).mean(axis=(2, 4))
        np.testing.assert_array_equal(block_mean(px, f), ref)
