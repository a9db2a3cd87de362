"""Granularity sums only the cells' pixels, each scale as it is subtracted: the numbers must be those
of the plain recipe (whole-image scipy openings, NumPy difference images, bincount per label)."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage as ndi

from labstream.instruments.microscope import MicroscopeSimulator, PlateSetSpec
from labstream.phenomics.features.granularity import granularity_features
from labstream.phenomics.image import segment
from labstream.phenomics.model import CHANNELS


def _plain(labels: np.ndarray, pixels: np.ndarray, n: int, scales: int) -> dict[str, np.ndarray]:
    h, w = (labels.shape[0] // 2) * 2, (labels.shape[1] // 2) * 2
    lab = labels[:h:2, :w:2].ravel()
    p = pixels[:, :h, :w].astype(np.float64)
    x = ((p[:, 0::2, 0::2] + p[:, 1::2, 0::2] + p[:, 0::2, 1::2] + p[:, 1::2, 1::2]) / 4).astype(np.float32)
    big = 2 * scales + 5
    x = x - ndi.grey_opening(x, size=(1, big, big))

    def per_cell(img: np.ndarray) -> np.ndarray:
        return np.stack(
            [
                np.bincount(lab, img[c].ravel().astype(np.float64), minlength=n + 1)[1:]
                for c in range(len(img))
            ]
        )

    start = np.maximum(per_cell(x), 1e-9)
    out, prev = {}, x
    for r in range(1, scales + 1):
        cur = ndi.grey_opening(x, size=(1, 2 * r + 1, 2 * r + 1))
        removed = 100.0 * per_cell(prev - cur) / start
        for i, ch in enumerate(CHANNELS):
            out[f"Cells_Granularity_{r}_{ch}"] = removed[i]
        prev = cur
    return out


def test_granularity_equals_the_plain_whole_image_recipe() -> None:
    for size, seed, cells in ((192, 2, (12, 20)), (250, 5, (40, 60))):  # 250: odd half-size crop
        sim = MicroscopeSimulator(
            PlateSetSpec(plates=1, size=size, seed=seed, cells_per_site=cells, cell_scale=1.0)
        )
        px = sim.render(next(iter(sim.sites())))[0]
        seg = segment(px)
        got = granularity_features(seg.cells, px, seg.count, "Cells", 6)
        ref = _plain(seg.cells, px, seg.count, 6)
        assert sorted(got) == sorted(ref) and seg.count > 5
        for k in ref:
            np.testing.assert_allclose(got[k], ref[k], rtol=1e-9, atol=1e-9, err_msg=k)


def test_integer_route_equals_the_float32_route_bit_for_bit() -> None:
    """uint16 sites take the coded openings: the same numbers as the float32 route, whether a channel's
    top-hat fits uint16 as 4x its value (dim channels) or needs ranks (bright ones); a channel with more
    than 65536 distinct values falls back to float32."""
    from labstream.phenomics.features import _kernels_granularity as KG
    from labstream.phenomics.features import granularity as G

    rng = np.random.default_rng(13)
    sim = MicroscopeSimulator(
        PlateSetSpec(plates=1, size=192, seed=3, cells_per_site=(12, 20), cell_scale=1.0)
    )
    px = sim.render(next(iter(sim.sites())))[0]
    bright = px.copy()
    bright[1] = np.minimum(px[1].astype(np.int64) * 40 + rng.integers(0, 9, px[1].shape), 65535).astype(
        np.uint16
    )
    seg = segment(px)
    flat = seg.cells[::2, ::2].ravel()
    pos = np.flatnonzero(flat > 0)
    codes = set()
    for img in (px, bright):
        top = G._tophat(img, 17)
        codes |= set((top.reshape(-1, 5).max(axis=0) * 4 >= 65536).tolist())  # True: coded by rank
        assert KG.quarter_ranks(top)[2]
        got = G._granulometry_ranks(img, pos, flat[pos], seg.count, 6, 17)
        ref = G._granulometry_float(img, pos, flat[pos], seg.count, 6, 17)
        assert got is not None and all(np.array_equal(a, b) for a, b in zip(got, ref, strict=True))
    assert codes == {False, True}  # both codings ran
    # a float32 site, or one with more distinct top-hat values than uint16 holds, takes the float route
    wide = rng.permutation(np.arange(4 * 70_000, dtype=np.float32)).reshape(1, 280, 1000) / 4
    assert not KG.quarter_ranks(np.ascontiguousarray(np.moveaxis(wide, 0, -1)))[2]
    f32 = granularity_features(seg.cells, px.astype(np.float32), seg.count, "Cells", 6)
    u16 = granularity_features(seg.cells, px, seg.count, "Cells", 6)
    assert all(np.array_equal(f32[k], u16[k]) for k in u16)


@pytest.mark.parametrize("dtype", [np.uint8, np.uint16])
def test_half_means_equal_the_exact_2x2_block_means(dtype) -> None:
    """The compiled one-pass 2x2 means of integer pixels (also on a cropped, non-contiguous view) are
    the exact block means, as float32 holds them."""
    from labstream.phenomics.features.texture import half_means

    top = np.iinfo(dtype).max
    px = np.random.default_rng(5).integers(0, top + 1, (5, 67, 83)).astype(dtype)
    view = px[:, :66, :82]
    ref = view.astype(np.float64).reshape(5, 33, 2, 41, 2).mean(axis=(2, 4))
    np.testing.assert_array_equal(half_means(view), np.moveaxis(ref, 0, -1).astype(np.float32))
