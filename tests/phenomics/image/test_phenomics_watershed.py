"""The per-component watershed and crop distances give the whole-image results on simulated sites."""

from __future__ import annotations

import numpy as np
import pytest

from labstream.instruments.microscope import MicroscopeSimulator, PlateSetSpec
from labstream.phenomics.image import segmentation as S
from labstream.phenomics.image._kernels import otsu, percentiles
from labstream.phenomics.image._watershed import Components, Flood, _marker_labels


def _sites(size: int, cells: tuple[int, int], count: int, seed: int) -> list[np.ndarray]:
    sim = MicroscopeSimulator(PlateSetSpec(plates=1, size=size, cells_per_site=cells, seed=seed))
    return [sim.render(k)[0] for k in list(sim.sites())[:count]]


def _cyto(px: np.ndarray) -> np.ndarray:
    planes = px[[2, 3, 1]]  # RNA, AGP, ER as in segment()
    r = np.array([percentiles(p[::2, ::2], [1, 99.5]) for p in planes])
    return S._cyto_sum(planes, r[:, 0].astype(np.float32), r[:, 1].astype(np.float32))


def _tied_components(fl: Flood) -> set[int]:
    """Components where two different markers share an exact elevation value: scikit-image pushes
    every marker pixel with age 0, so their order is its heap's layout, which other components'
    markers change. Only there may the per-component result differ."""
    comps = Components.of(fl.mask)
    h, w = fl.mask.shape
    el = fl.elevation(0, h, 0, w, np.asarray(fl.mask, bool))
    sel = (fl.markers > 0) & (comps.ids > 0)
    c, lab, val = comps.ids[sel], fl.markers[sel], el[sel]
    o = np.lexsort((lab, val, c))
    c, lab, val = c[o], lab[o], val[o]
    tie = (c[1:] == c[:-1]) & (val[1:] == val[:-1]) & (lab[1:] != lab[:-1])
    return set(c[1:][tie].tolist())


@pytest.mark.parametrize(
    ("size", "cells", "seed"), [(256, (12, 20), 9), (256, (60, 90), 5), (512, (40, 60), 2)]
)
def test_floods_by_component_equal_whole_image(size: int, cells: tuple[int, int], seed: int) -> None:
    equal, multi, tied = 0, 0, 0
    floods = 0
    for px in _sites(size, cells, 8 if size == 256 else 3, seed):
        nuc_flood = S.nuclei_flood(px[0])
        assert nuc_flood is not None
        nuclei = S.segment_nuclei(px[0])
        cell_flood = S.cells_flood(nuclei, _cyto(px))
        assert cell_flood is not None
        for fl in (nuc_flood, cell_flood):
            floods += 1
            found = _marker_labels(Components.of(fl.mask), fl.markers)
            assert found is not None
            multi += int((found[0] >= 2).sum())
            a, b = fl.by_component(), fl.whole()
            assert a.dtype == b.dtype == np.int32
            if np.array_equal(a, b):
                equal += 1
                continue
            differ = set(np.unique(Components.of(fl.mask).ids[a != b]).tolist())
            assert differ <= _tied_components(fl), "labels differ outside exact marker ties"
            tied += 1
    assert multi > 0  # the crop path ran, not only the one-marker shortcut
    assert equal >= floods - 1 and tied <= 1


def test_single_marker_components_flood_whole_component() -> None:
    mask = np.zeros((20, 30), bool)
    mask[2:8, 2:10] = True  # one marker
    mask[12:18, 3:25] = True  # two markers
    mask[2:6, 20:28] = True  # none
    markers = np.zeros(mask.shape, np.int32)
    markers[4, 4] = 7
    markers[14, 5], markers[15, 22] = 2, 3
    markers[0, 0] = 9  # outside the mask: ignored, as scikit-image does
    elev = np.add.outer(np.arange(20.0), np.arange(30.0)) % 5
    fl = Flood(markers, mask, lambda y0, y1, x0, x1, _: elev[y0:y1, x0:x1])
    out = fl.by_component()
    assert np.array_equal(out, fl.whole())
    assert (out[2:8, 2:10] == 7).all() and (out[2:6, 20:28] == 0).all()
    assert set(np.unique(out[12:18, 3:25])) == {2, 3}


def test_marker_spanning_components_falls_back_to_whole_image() -> None:
    mask = np.zeros((10, 10), bool)
    mask[1:4, 1:4] = mask[6:9, 6:9] = True
    markers = np.zeros(mask.shape, np.int32)
    markers[2, 2] = markers[7, 7] = 1  # one label in two components
    fl = Flood(markers, mask, lambda y0, y1, x0, x1, _: np.zeros((y1 - y0, x1 - x0)))
    assert _marker_labels(Components.of(mask), markers) is None
    assert np.array_equal(fl.by_component(), fl.whole())


@pytest.mark.parametrize(("size", "cells"), [(256, (60, 90)), (512, (12, 20))])
def test_crop_distances_are_bitwise_the_whole_image_ones(size: int, cells: tuple[int, int]) -> None:
    for px in _sites(size, cells, 3, 4):
        sm = S._smooth(px[0], 1.0)
        mask = S._fill_holes(sm > otsu(sm))
        comps = Components.of(mask)
        assert np.array_equal(S._distance_inside(mask, comps), S.distance_transform(mask))
        nuclei = S.segment_nuclei(px[0])
        full = S.distance_transform(nuclei == 0)
        fl = S.cells_flood(nuclei, _cyto(px))
        assert fl is not None
        cell_comps = Components.of(fl.mask)
        far = 0.0
        for c in range(1, cell_comps.count):
            y0, y1, x0, x1 = cell_comps.box(c)
            sub = cell_comps.ids[y0:y1, x0:x1] == c
            got = S._distance_to_nuclei(nuclei, y0, y1, x0, x1, sub)
            assert np.array_equal(got[sub], full[y0:y1, x0:x1][sub])
            far = max(far, float(got[sub].max()))
        assert far > 5  # cytoplasm lies well away from the nuclei


@pytest.mark.parametrize(("size", "cells"), [(256, (60, 90)), (512, (12, 20))])
def test_nuclei_peaks_from_crops_equal_the_whole_image(size: int, cells: tuple[int, int]) -> None:
    """The nuclei markers found around each mask component (`_peaks_by_component`) are the
    whole-image ones (fields cut off-centre, so nuclei lie on the frame)."""
    import cv2

    from labstream.phenomics.image._kernels import peak_labels

    edge = 0
    for px in _sites(size, cells, 3, 6):
        dna = np.ascontiguousarray(px[0][size // 5 :, : size - size // 7])
        h, w = dna.shape
        sm = S._smooth(dna, 1.0)
        mask = S._fill_holes(sm > otsu(sm))
        comps = Components.of(mask)
        inside = S._distance_inside(mask, comps)
        dist = S.gaussian(inside, 1.0)
        whole = peak_labels(dist, cv2.dilate(dist, np.ones((9, 9), np.uint8)), 1.5)
        assert np.array_equal(S._peaks_by_component(dist, comps, 4), whole)
        fl = S.nuclei_flood(dna)
        assert fl is not None and np.array_equal(fl.markers, whole)
        for c in range(1, comps.count):
            y0, y1, x0, x1 = comps.box(c)
            edge += int(min(y0, x0) == 0 or y1 == h or x1 == w)
    assert edge > 0
