"""Science checks: segmentation counts, features against scikit-image, illumination recovery."""

from __future__ import annotations

import numpy as np
import pandas as pd
from skimage.feature import graycomatrix, graycoprops
from skimage.measure import regionprops_table

from labstream.instruments.microscope import MicroscopeSimulator, illumination_field
from labstream.phenomics.features import cell_features, feature_columns
from labstream.phenomics.illumination import IlluminationAccumulator, correct, value_at
from labstream.phenomics.readers import discover, load_site
from labstream.phenomics.segmentation import segment
from labstream.phenomics.texture import LEVELS, glcm, haralick_from_glcm


def test_segmentation_counts_nuclei_of_every_site(tiff_set) -> None:
    truth = pd.read_csv(tiff_set.root / "site_truth.csv")
    sites = discover(tiff_set.images)
    found = {(k.plate, k.well, k.site): segment(load_site(k, f).pixels).count for k, f in sites.items()}
    expected = {(r.plate, r.well, r.site): r.n_nuclei for r in truth.itertuples()}
    assert found == expected


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


def test_illumination_function_recovers_the_simulated_field(map_set) -> None:
    sim = MicroscopeSimulator(PlateSetSpec_from(map_set))
    acc = IlluminationAccumulator(8)
    keys = [k for k in sim.sites() if k.plate == "P01"]
    for k in keys:
        acc.add(sim.render(k)[0])
    func = acc.function()
    true = illumination_field(192, sim.illum_centres[0])
    yy, xx = np.mgrid[8:184:16, 8:184:16]
    est = value_at(func, yy.ravel(), xx.ravel(), 8)
    for c in range(5):
        r = np.corrcoef(est[c], true[yy, xx].ravel())[0, 1]
        assert r > 0.8, (c, r)
    flat = correct(sim.render(keys[0])[0], func, 8)
    assert flat.shape == (5, 192, 192)


def PlateSetSpec_from(simset):  # type: ignore[no-untyped-def]
    from labstream.instruments.microscope import PlateSetSpec

    return PlateSetSpec(
        plates=3,
        complexes=3,
        genes_per_complex=3,
        nulls=3,
        negative_controls=4,
        positive_controls=2,
        sites_per_well=1,
        size=192,
        effect=1.5,
        seed=11,
    )


def test_gpu_filters_match_cpu_or_fall_back(monkeypatch) -> None:
    from labstream.phenomics.gpu import TOLERANCE, distance_transform, gaussian, use_gpu

    rng = np.random.default_rng(1)
    x = rng.random((64, 64)).astype(np.float32) * 1000
    cpu = gaussian(x, 1.5, gpu=False)
    monkeypatch.setenv("LABSTREAM_GPU", "1")
    other = gaussian(x, 1.5)  # the device when CuPy and a GPU are present, else the same CPU code
    assert np.abs(other - cpu).max() <= TOLERANCE * float(x.max() - x.min())
    mask = x > 500
    np.testing.assert_allclose(distance_transform(mask), distance_transform(mask, gpu=False), atol=1e-4)
    assert use_gpu(False) is False
