"""The compiled watershed against scikit-image's (labels identical, ties included), and the cheaper
QC saturation against the plain comparison."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage as ndi
from skimage.segmentation import watershed as sk_watershed

from labstream.instruments.microscope import MicroscopeSimulator, PlateSetSpec
from labstream.phenomics import segmentation as seg
from labstream.phenomics.kernels_image import percentiles
from labstream.phenomics.kernels_watershed import watershed
from labstream.phenomics.qc import saturation


def test_watershed_equals_scikit_image_with_ties() -> None:
    """Few grey levels make plateaus everywhere: the tie-breaking (heap order, ages) must match."""
    rng = np.random.default_rng(0)
    for t in range(150):
        h, w = (int(v) for v in rng.integers(3, 40, 2))
        img = rng.integers(0, 4, (h, w)).astype(np.float32 if t % 2 else np.float64)
        markers = np.zeros((h, w), np.int32)
        pts = rng.choice(h * w, min(6, h * w), replace=False)
        markers.ravel()[pts] = rng.integers(1, 5, len(pts))
        mask = rng.random((h, w)) > 0.2
        np.testing.assert_array_equal(watershed(img, markers, mask), sk_watershed(img, markers, mask=mask))


def test_watershed_equals_scikit_image_on_smooth_images() -> None:
    rng = np.random.default_rng(1)
    img = ndi.gaussian_filter(rng.random((150, 170)), 4).astype(np.float32)
    markers = np.zeros(img.shape, np.int32)
    markers[10::30, 12::35] = np.arange(1, 1 + markers[10::30, 12::35].size).reshape(
        markers[10::30, 12::35].shape
    )
    mask = np.ones(img.shape, bool)
    mask[:, :3] = False
    np.testing.assert_array_equal(watershed(img, markers, mask), sk_watershed(img, markers, mask=mask))


@pytest.mark.parametrize("tie", [False, True])
def test_watershed_with_blob_markers_equals_scikit_image(tie: bool) -> None:
    """Markers that are whole discs (most of their pixels cannot grow and are left out of the heap
    when the growing ones have distinct values); with a planted tie every marker is queued."""
    rng = np.random.default_rng(8)
    for t in range(6):
        img = ndi.gaussian_filter(rng.random((120, 140)), 3).astype(np.float32)
        yy, xx = np.mgrid[0:120, 0:140]
        markers = np.zeros(img.shape, np.int32)
        for k, (cy, cx) in enumerate(rng.integers(10, 110, (7, 2)), start=1):
            markers[(yy - cy) ** 2 + (xx - cx) ** 2 < 36] = k
        if tie:  # two growing marker pixels of different blobs share a value
            edge = np.flatnonzero((markers > 0) & (ndi.minimum_filter(markers, 3) == 0))
            img.ravel()[edge[-1]] = img.ravel()[edge[0]]
        mask = img > np.quantile(img, 0.2 + 0.05 * t)
        np.testing.assert_array_equal(watershed(img, markers, mask), sk_watershed(img, markers, mask=mask))


def test_segmentation_labels_identical_to_scikit_image_watershed(monkeypatch: pytest.MonkeyPatch) -> None:
    """Whole classic segmentation on simulated sites: the compiled watershed gives the very labels
    scikit-image's gives (nuclei and cells)."""
    sim = MicroscopeSimulator(PlateSetSpec(plates=1, size=320, sites_per_well=1, seed=21))
    keys = list(sim.sites())[:4]
    for key in keys:
        px = sim.render(key)[0]
        ours = seg.segment(px)
        with monkeypatch.context() as m:
            m.setattr(
                seg, "watershed", lambda img, mk, mask: sk_watershed(img, mk, mask=mask).astype(np.int32)
            )
            ref = seg.segment(px)
        assert ours.count > 5
        np.testing.assert_array_equal(ours.nuclei, ref.nuclei)
        np.testing.assert_array_equal(ours.cells, ref.cells)


def test_watershed_rejects_shape_mismatch() -> None:
    with pytest.raises(ValueError, match="one shape"):
        watershed(np.zeros((4, 4)), np.zeros((4, 5), np.int32), np.ones((4, 4), bool))


@pytest.mark.parametrize("dtype", [np.uint8, np.uint16])
def test_saturation_equals_mean_of_comparison(dtype) -> None:
    top = np.iinfo(dtype).max
    px = np.random.default_rng(5).integers(0, top, (5, 40, 30)).astype(dtype)
    px[1, :3, :7] = top
    px[4, 10, 10] = top
    ref = (px >= top).reshape(5, -1).mean(axis=1)
    np.testing.assert_array_equal(saturation(px), ref)
    assert saturation(px)[0] == 0.0 and saturation(px)[1] > 0


def test_integer_percentiles_wide_range() -> None:
    """Integer images whose range needs more than one key per histogram bucket (gathered path) and
    narrow ones (answered from the histogram)."""
    rng = np.random.default_rng(6)
    q = [1, 50, 99.5, 99.9]
    for top in (200, 60000, 3_000_000):
        x = rng.integers(0, top, (70, 90)).astype(np.int32 if top > 65535 else np.uint16)
        np.testing.assert_allclose(percentiles(x, q), np.percentile(x, q), rtol=1e-12)


def test_wide_range_integer_cells_take_the_radix_path_with_the_same_features(tiff_set) -> None:
    """Cells whose intensity range is wide (radix sort) and narrow (counting sort): the compiled
    features equal the NumPy reference either way."""
    from labstream.phenomics.features import cell_feature_block, reference_feature_block
    from labstream.phenomics.readers import discover, load_site

    found = discover(tiff_set.images)
    key = sorted(found)[0]
    px = load_site(key, found[key]).pixels
    s = seg.segment(px)
    for pixels in (px.astype(np.uint32) * 37, (px // 256).astype(np.uint8)):
        names, fused = cell_feature_block(pixels, s)
        _, ref = reference_feature_block(pixels, s)
        for j, name in enumerate(names):
            np.testing.assert_allclose(
                fused[:, j], ref[:, j], rtol=1e-9, atol=1e-12, equal_nan=True, err_msg=name
            )
