"""Science checks of the features: cells hold their nucleus; shape, intensity, texture vs scikit-image."""

from __future__ import annotations

import numpy as np
from skimage.feature import graycomatrix, graycoprops
from skimage.measure import regionprops_table

from labstream.phenomics.features import cell_features, feature_columns
from labstream.phenomics.features.texture import LEVELS, glcm, haralick_from_glcm
from labstream.phenomics.image import segment
from labstream.phenomics.reading import discover, load_site


def test_cells_contain_their_nucleus_and_features_exceed_300(tiff_set) -> None:
    sites = discover(tiff_set.images)
    key = sorted(sites)[0]
    img = load_site(key, sites[key])
    seg = segment(img.pixels)
    for k in range(1, seg.count + 1):
        assert (seg.cells[seg.nuclei == k] == k).all()
    df = cell_features(img.pixels, seg)
    feats = feature_columns(df)
    assert len(df) == seg.count
    assert len(feats) >= 300
    assert len(set(feats)) == len(feats)
    for prefix in (
        "Nuclei_AreaShape_",
        "Cells_Intensity_",
        "Cytoplasm_Intensity_",
        "Cells_Texture_",
        "Cells_Granularity_",
        "Cells_Correlation_",
        "Cells_RadialDistribution_",
    ):
        assert any(f.startswith(prefix) for f in feats), prefix


def test_vectorised_shape_and_intensity_match_regionprops(tiff_set) -> None:
    sites = discover(tiff_set.images)
    key = sorted(sites)[1]
    img = load_site(key, sites[key])
    seg = segment(img.pixels)
    df = cell_features(img.pixels, seg)
    ref = regionprops_table(
        seg.cells,
        intensity_image=np.moveaxis(img.pixels, 0, -1).astype(float),
        properties=(
            "label",
            "area",
            "eccentricity",
            "major_axis_length",
            "minor_axis_length",
            "moments_hu",
            "intensity_mean",
            "intensity_max",
        ),
    )
    np.testing.assert_allclose(df.Cells_AreaShape_Area, ref["area"])
    np.testing.assert_allclose(df.Cells_AreaShape_Eccentricity, ref["eccentricity"], atol=1e-6)
    np.testing.assert_allclose(df.Cells_AreaShape_MajorAxisLength, ref["major_axis_length"], rtol=1e-6)
    np.testing.assert_allclose(df.Cells_AreaShape_MinorAxisLength, ref["minor_axis_length"], rtol=1e-6)
    for i in range(7):
        np.testing.assert_allclose(
            df[f"Cells_AreaShape_HuMoment_{i}"], ref[f"moments_hu-{i}"], rtol=1e-5, atol=1e-12
        )
    np.testing.assert_allclose(df.Cells_Intensity_MeanIntensity_ER, ref["intensity_mean-1"], rtol=1e-9)
    np.testing.assert_allclose(df.Cells_Intensity_MaxIntensity_Mito, ref["intensity_max-4"])


def test_haralick_matches_scikit_image_on_one_object() -> None:
    rng = np.random.default_rng(0)
    q = rng.integers(0, LEVELS, size=(40, 40))
    labels = np.ones((40, 40), np.int64)
    p = glcm(labels, q, 1, 1)
    ref = graycomatrix(
        q.astype(np.uint8),
        [1],
        [0, np.pi / 2, np.pi / 4, 3 * np.pi / 4],
        levels=LEVELS,
        symmetric=True,
        normed=True,
    )
    # skimage's angles: 0 -> (0, 1), pi/2 -> (-1, 0), pi/4 -> (-1, 1), 3pi/4 -> (-1, -1): the same
    # unordered pixel pairs as ours, so the direction-averaged symmetric matrices are equal
    avg = ref[:, :, 0, :].mean(axis=-1)
    np.testing.assert_allclose(p[0], avg, atol=1e-12)
    ours = haralick_from_glcm(p)
    for name, key in (
        ("Contrast", "contrast"),
        ("AngularSecondMoment", "ASM"),
        ("InverseDifferenceMoment", "homogeneity"),
        ("Correlation", "correlation"),
    ):
        np.testing.assert_allclose(ours[name][0], graycoprops(avg[:, :, None, None], key)[0, 0], rtol=1e-9)
