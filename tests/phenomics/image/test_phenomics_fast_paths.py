"""The cheaper QC saturation, integer percentiles and narrow/wide-range quantile paths against the
plain computations."""

from __future__ import annotations

import numpy as np
import pytest

from labstream.phenomics.image import saturation
from labstream.phenomics.image import segmentation as seg
from labstream.phenomics.image._kernels import percentiles


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
    from labstream.phenomics.reading import discover, load_site

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


@pytest.mark.parametrize("dtype", [np.uint8, np.uint16])
def test_integer_dna_qc_equals_the_float32_route(dtype) -> None:
    """Median, p99.9 and foreground fraction from one histogram equal the float32 route exactly; the
    float64 focus agrees with OpenCV's float32 Laplacian variance to float rounding."""
    from scipy import ndimage as ndi

    from labstream.phenomics.image import focus_score
    from labstream.phenomics.image.qc import _integer_dna_qc

    rng = np.random.default_rng(11)
    for shape in ((64, 70), (201, 157)):
        top = np.iinfo(dtype).max
        x = ndi.gaussian_filter(rng.gamma(2, top / 12, shape), 1.5).clip(0, top).astype(dtype)
        dna = x.astype(np.float32)
        med, p999 = np.percentile(x, [50, 99.9])
        fg = float((dna > med + 0.5 * (p999 - med)).mean())
        got = _integer_dna_qc(x)
        assert got[:3] == (med, p999, fg)
        assert got[3] == pytest.approx(focus_score(dna), rel=1e-5)


def test_component_boxes_equal_find_objects() -> None:
    from scipy import ndimage as ndi

    from labstream.phenomics.image._watershed import Components

    mask = np.random.default_rng(12).random((90, 77)) > 0.55
    comps = Components.of(mask)
    for c, (sy, sx) in enumerate(ndi.find_objects(comps.ids), start=1):
        assert comps.box(c) == (sy.start, sy.stop, sx.start, sx.stop)
