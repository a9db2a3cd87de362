"""The fast per-site kernels against independent references (scipy, scikit-image, Qhull, NumPy)."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage as ndi
from scipy.spatial import ConvexHull
from skimage.feature import graycomatrix, graycoprops
from skimage.measure import regionprops_table

from labstream.phenomics.features import cell_features
from labstream.phenomics.features.intensity import Objects, fast_quantile_stats
from labstream.phenomics.features.shape import _hull_areas, _perimeter_euler
from labstream.phenomics.features.texture import (
    LEVELS,
    glcm,
    grey_opening,
    haralick_features,
    haralick_from_glcm,
)
from labstream.phenomics.image.segmentation import _fill_holes, distance_transform, gaussian, segment
from labstream.phenomics.model import CHANNELS
from labstream.phenomics.reading import discover, load_site


@pytest.fixture(scope="module")
def site(tiff_set):
    sites = discover(tiff_set.images)
    key = sorted(sites)[0]
    img = load_site(key, sites[key])
    return img.pixels, segment(img.pixels)


@pytest.mark.parametrize("size", [3, 5, 9, 13, 17])
def test_grey_opening_equals_scipy(size: int) -> None:
    x = np.random.default_rng(size).random((3, 37, 52)).astype(np.float32)
    np.testing.assert_array_equal(grey_opening(x, size), ndi.grey_opening(x, size=(1, size, size)))


def test_quantiles_and_mad_from_one_sort_equal_numpy(site) -> None:
    pixels, seg = site
    n = seg.count
    flat = pixels.reshape(pixels.shape[0], -1).astype(np.float64)
    oc = Objects.of(seg.cells, flat, n)
    stats = fast_quantile_stats(oc, seg.nuclei.ravel()[np.flatnonzero(seg.cells)])
    assert stats is not None
    cyto = np.where(seg.nuclei > 0, 0, seg.cells)
    for comp, labels in (("Cells", seg.cells), ("Nuclei", seg.nuclei), ("Cytoplasm", cyto)):
        for c in range(len(CHANNELS)):
            q, mad = stats[comp][c]
            for k in range(1, n + 1):
                v = pixels[c][labels == k].astype(np.float64)
                if v.size == 0:
                    assert np.isnan(q[0, k - 1])
                    continue
                ref = np.percentile(v, [50, 25, 75, 0, 100])
                np.testing.assert_allclose(q[:, k - 1], ref, rtol=1e-12)
                np.testing.assert_allclose(mad[k - 1], np.median(np.abs(v - np.median(v))), rtol=1e-12)


def test_shape_kernels_equal_qhull_and_regionprops(site) -> None:
    _, seg = site
    for labels in (seg.nuclei, seg.cells):
        n = int(labels.max())
        hull = _hull_areas(labels, n)
        corners = np.array([[-0.5, -0.5], [-0.5, 0.5], [0.5, -0.5], [0.5, 0.5]])
        for k in range(1, n + 1):
            ys, xs = np.nonzero(labels == k)
            pts = (np.column_stack([ys, xs])[:, None, :] + corners[None]).reshape(-1, 2)
            assert hull[k - 1] == pytest.approx(ConvexHull(pts).volume, rel=1e-9)
        per, eul = _perimeter_euler(labels, n)
        ref = regionprops_table(labels, properties=("label", "perimeter", "euler_number"))
        np.testing.assert_allclose(per, ref["perimeter"], rtol=1e-12)
        np.testing.assert_array_equal(eul, ref["euler_number"])


def test_euler_number_counts_holes() -> None:
    labels = np.zeros((20, 30), np.int32)
    labels[2:12, 2:12] = 1
    labels[5:7, 5:7] = 0  # one hole
    labels[2:12, 12:20] = 2  # touches object 1, no hole
    labels[14:18, 22:28] = 3
    labels[15:17, 23:25] = 0
    labels[16, 26] = 0  # two holes
    _, eul = _perimeter_euler(labels, 3)
    ref = regionprops_table(labels, properties=("euler_number",))["euler_number"]
    np.testing.assert_array_equal(eul, ref)
    np.testing.assert_array_equal(eul, [0, 1, -1])


def test_haralick_of_every_channel_and_object_equals_scikit_image() -> None:
    rng = np.random.default_rng(1)
    pixels = rng.integers(0, LEVELS, size=(len(CHANNELS), 30, 50)).astype(np.uint16)
    pixels[:, 0, 0], pixels[:, 0, 1] = 0, LEVELS - 1  # each object spans the full grey range,
    pixels[:, 0, 25], pixels[:, 0, 26] = 0, LEVELS - 1  # so per-object quantisation is the identity
    labels = np.ones((30, 50), np.int32)
    labels[:, 25:] = 2
    out = haralick_features(labels, pixels, 2, "Cells", (1, 3))
    for c, ch in enumerate(CHANNELS):
        # distance 3: the pixel-pair reference (skimage rounds diagonal offsets at d=3 to (2, 2))
        ref3 = haralick_from_glcm(glcm(labels, pixels[c], 2, 3))
        for name in ref3:
            np.testing.assert_allclose(out[f"Cells_Texture_{name}_{ch}_3"], ref3[name], rtol=1e-9, atol=1e-12)
        for k, crop in ((0, pixels[c][:, :25]), (1, pixels[c][:, 25:])):
            m = graycomatrix(
                crop.astype(np.uint8),
                [1],
                [0, np.pi / 2, np.pi / 4, 3 * np.pi / 4],
                levels=LEVELS,
                symmetric=True,
                normed=True,
            )
            avg = m[:, :, 0, :].mean(axis=-1)[:, :, None, None]
            for name, key in (
                ("Contrast", "contrast"),
                ("AngularSecondMoment", "ASM"),
                ("Correlation", "correlation"),
            ):
                ref = graycoprops(avg, key)[0, 0]
                assert out[f"Cells_Texture_{name}_{ch}_1"][k] == pytest.approx(ref, rel=1e-9)


def test_float_pixels_take_the_argsort_path_with_the_same_result(site) -> None:
    pixels, seg = site
    ints = cell_features(pixels, seg)
    floats = cell_features(pixels.astype(np.float32), seg)
    cols = [c for c in ints.columns if "Intensity" in c]
    np.testing.assert_allclose(floats[cols].to_numpy(), ints[cols].to_numpy(), rtol=1e-9, equal_nan=True)


def test_fill_holes_equals_scipy() -> None:
    rng = np.random.default_rng(5)
    for i in range(30):
        m = ndi.gaussian_filter(rng.random((70 + i, 90)), 1 + i % 3) > 0.5 + 0.01 * (i % 7)
        np.testing.assert_array_equal(_fill_holes(m), ndi.binary_fill_holes(m))


def test_opencv_filters_equal_scipy_within_float32_rounding() -> None:
    rng = np.random.default_rng(6)
    x = ndi.gaussian_filter(rng.gamma(2.0, 500.0, (96, 80)), 1.0).astype(np.float32)
    ref = ndi.gaussian_filter(x, 1.5)
    np.testing.assert_allclose(gaussian(x, 1.5), ref, rtol=0, atol=1e-5 * float(ref.max()))
    mask = x > np.median(x)
    np.testing.assert_allclose(distance_transform(mask), ndi.distance_transform_edt(mask), atol=1e-4)


@pytest.mark.parametrize("seed", range(4))
def test_statistics_off_the_key_histogram_equal_those_of_the_sorted_values(seed) -> None:
    """`hist_stats` (quantiles and MAD read off the counting sort's histogram) = `sorted_stats` of the
    sorted values, for the cell, its nucleus (odd keys) and its cytoplasm (even keys): ties, narrow
    and sparse ranges, one value, an empty compartment."""
    from labstream.phenomics.features import _kernels_intensity as KI
    from labstream.phenomics.features import _kernels_stats as KS

    rng = np.random.default_rng(seed)
    for m, spread in ((1, 3), (2, 1), (7, 4), (50, 3), (400, 900), (1001, 40), (30, 1)):
        lo = int(rng.integers(0, 1000))
        v = lo + rng.integers(0, spread, m)
        nuc = rng.random(m) < (0.0 if m == 2 else 1.0 if m == 7 else 0.4)
        hist = np.zeros(2 * (int(v.max()) - lo + 1), np.int32)
        np.add.at(hist, (v - lo) * 2 + nuc, 1)
        for sel, part in ((KI.CELLS, v), (KI.NUCLEI, v[nuc]), (KI.CYTOPLASM, v[~nuc])):
            want, got = np.empty(6), np.empty(6)
            KS.sorted_stats(np.sort(part).astype(np.float64), part.size, want)
            KS.hist_stats(hist, lo, int(v.max()) - lo + 1, sel, part.size, got)
            np.testing.assert_array_equal(got, want)


def test_integer_sums_equal_the_float64_chain_bit_for_bit(site) -> None:
    """8/16-bit cells take the int64 sums (`_integer_sums`): the same numbers as the float64 chain in
    raster order that float pixels take, for every sum, product sum and radial ring."""
    from labstream.phenomics.features import _kernels_intensity as KI
    from labstream.phenomics.features import _kernels_shape as KS

    pixels, seg = site
    n = seg.count
    oc, on = KS.order_by_label(seg.cells, n), KS.order_by_label(seg.nuclei, n)
    ny, nx = (KS.shape_table(seg.nuclei, *on, n)[:, col] for col in (KS.CY, KS.CX))
    for px in (pixels, pixels.astype(np.uint8)):
        flat = px.reshape(px.shape[0], -1)
        args = (oc[0], oc[1], seg.nuclei.ravel(), n, seg.cells.shape[1], ny, nx)
        ints = KI.cell_intensity(flat, *args, True)
        floats = KI.cell_intensity(flat.astype(np.float64), *args, False)
        for a, b in zip(ints, floats, strict=True):
            np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("seed", range(3))
def test_compiled_perimeter_and_euler_walk_equal_regionprops(seed) -> None:
    """`perimeter_euler` walks only the objects' pixels: touching objects, holes, objects on the
    frame, one-pixel objects and labels above n (ignored) give regionprops' perimeter and Euler number."""
    from labstream.phenomics.features import _kernels_shape as KS

    rng = np.random.default_rng(seed)
    field = ndi.gaussian_filter(rng.random((60, 75)), 2.0)
    labels = ndi.label(field > np.quantile(field, 0.45))[0].astype(np.int32)
    labels[(rng.random(labels.shape) < 0.03) & (labels > 0)] = 0  # holes and ragged borders
    labels[rng.random(labels.shape) < 0.01] = labels.max() + 1  # specks of one more label
    n = int(labels.max()) - 1  # the last label is not asked for
    per, eul = KS.perimeter_euler(labels, n, KS._PERIM_W, KS._EULER8, *KS.order_by_label(labels, n))
    ref = regionprops_table(labels, properties=("label", "perimeter", "euler_number"))
    np.testing.assert_allclose(per, ref["perimeter"][:n], rtol=1e-12)
    np.testing.assert_array_equal(eul, ref["euler_number"][:n])


@pytest.mark.parametrize("seed", range(3))
def test_nested_orders_equal_a_stable_sort_and_the_nesting_check(seed) -> None:
    """`nested_orders` (both objects' pixel orders in two image passes) = NumPy's stable sort of the
    cells' and of the nuclei's pixels by label, labels above n left out; it says False exactly when a
    nucleus pixel lies outside its own cell (the condition the fused feature path checked with NumPy)."""
    from labstream.phenomics.features import _kernels_shape as KS

    def sort_by_label(labels: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
        flat = labels.ravel()
        fg = np.flatnonzero((flat > 0) & (flat <= n))
        idx = fg[np.argsort(flat[fg], kind="stable")]
        return np.concatenate([[0, 0], np.cumsum(np.bincount(flat[fg], minlength=n + 1)[1:])]), idx

    rng = np.random.default_rng(seed)
    field = ndi.gaussian_filter(rng.random((70, 90)), 2.0)
    cells = ndi.label(field > np.quantile(field, 0.4))[0].astype(np.int32)
    n = int(cells.max()) - 1  # the last label is not asked for
    nuclei = np.where(rng.random(cells.shape) < 0.3, cells, 0).astype(np.int32)
    ok, oc, on = KS.nested_orders(cells, nuclei, n)
    assert ok
    for got, labels in ((oc, cells), (on, nuclei), (KS.order_by_label(cells, n), cells)):
        for a, b in zip(got, sort_by_label(labels, n), strict=True):
            np.testing.assert_array_equal(a, b)
    for k, lab in ((5, 1), (60, 0)):  # a nucleus pixel in another cell, or off every cell
        bad = nuclei.copy()
        ys, xs = np.nonzero(cells != lab) if lab else np.nonzero(cells == 0)
        bad[ys[k], xs[k]] = lab or 1
        assert KS.nested_orders(cells, bad, n)[0] is False
        assert not np.array_equal(cells[bad > 0], bad[bad > 0])


@pytest.mark.parametrize("nch", [5, 4])
def test_rank_sums_equal_bincount_in_raster_order(nch) -> None:
    """`label_rank_diff_sums` (five channels: running sums kept per run of one label) = NumPy's
    bincount of the same float32 values and differences, bit for bit, with labels that switch on
    every pixel, in long runs, and come back after other labels."""
    from labstream.phenomics.features import _kernels_granularity as KG

    rng = np.random.default_rng(nch)
    p, n = 5000, 9
    lut = (rng.integers(0, 400_000, (nch, 3000)) / 4).astype(np.float32)
    a, b = (rng.integers(0, 3000, (p, nch)).astype(np.uint16) for _ in range(2))
    pos = np.sort(rng.choice(p, 4000, replace=False))
    labs = np.concatenate([rng.integers(1, n + 1, 1000), np.repeat(rng.integers(1, n + 1, 30), 100)])
    for diff in (False, True):
        got = KG.label_rank_diff_sums(pos, labs, a, b, lut, diff, n)
        for c in range(nch):
            v = lut[c, a[pos, c]] - (lut[c, b[pos, c]] if diff else np.float32(0))
            want = np.bincount(labs, v.astype(np.float64), minlength=n + 1)[1:]
            np.testing.assert_array_equal(got[c], want)
