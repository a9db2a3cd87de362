"""Marker watershed run one mask component at a time, on the components that need it.

With `mask=` (4-connected flooding, no compactness, no watershed line), scikit-image's watershed never
floods across mask components: a component holding one marker label is that label everywhere, one
holding none stays 0. Only components with two or more marker labels need the flood, and there it runs
on the component's bounding-box crop. Raster order inside a crop equals the full image's, and a
component's heap pops and pushes do not depend on other components' pixels, so the labels are the
full-image call's (tests compare them with `np.array_equal` on many simulated sites). Sparse sites skip
most of the work; the elevation of a crop is asked for only where a flood runs.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import cv2
import numpy as np
from skimage.segmentation import watershed

from labstream.phenomics._jit import njit

Elevation = Callable[[int, int, int, int, np.ndarray], np.ndarray]  # (y0, y1, x0, x1, comp crop mask)


@dataclass
class Components:
    """4-connected components of a mask: ids 1..count-1 (0 = background), boxes on demand."""

    count: int  # including the background id 0
    ids: np.ndarray
    _boxes: np.ndarray | None = None  # (count, 4) y0, y1, x0, x1

    @classmethod
    def of(cls, mask: np.ndarray) -> Components:
        # plain labelling + find_objects: a third of the CPU of connectedComponentsWithStats
        n, ids = cv2.connectedComponents(np.asarray(mask, np.uint8), connectivity=4, ltype=cv2.CV_32S)
        return cls(int(n), ids)

    def box(self, c: int) -> tuple[int, int, int, int]:
        """(y0, y1, x0, x1) of component c."""
        if self._boxes is None:
            self._boxes = _boxes(self.ids, self.count)
        y0, y1, x0, x1 = self._boxes[c]
        return int(y0), int(y1), int(x0), int(x1)


@njit
def _boxes(ids: np.ndarray, count: int) -> np.ndarray:
    """Bounding boxes (y0, y1, x0, x1) of labels 1..count-1 (row 0 unused) in one pass over the
    image, background skipped: `ndimage.find_objects`' slices."""
    out = np.empty((count, 4), np.int64)
    out[:, 0], out[:, 1], out[:, 2], out[:, 3] = ids.shape[0], 0, ids.shape[1], 0
    for y in range(ids.shape[0]):
        row = ids[y]
        for x in range(ids.shape[1]):
            c = row[x]
            if c == 0:
                continue
            if y < out[c, 0]:
                out[c, 0] = y
            out[c, 1] = y + 1  # rows come in order
            if x < out[c, 2]:
                out[c, 2] = x
            if x >= out[c, 3]:
                out[c, 3] = x + 1
    return out


@njit
def _census(ids: np.ndarray, markers: np.ndarray, count: int) -> tuple[np.ndarray, np.ndarray, bool]:
    """Per component: how many distinct marker labels it holds and (where one) which; False when a
    marker label lies in several components. Markers outside the mask (id 0) do not count."""
    nmark = 1
    for v in markers.ravel():
        nmark = max(nmark, v + 1)
    comp_of = np.zeros(nmark, np.int64)
    n_in = np.zeros(count, np.int64)
    single = np.zeros(count, np.int64)
    fi, fm = ids.ravel(), markers.ravel()
    for p in range(fi.size):
        m, c = fm[p], fi[p]
        if m <= 0 or c <= 0:
            continue
        if comp_of[m] == 0:
            comp_of[m] = c
            n_in[c] += 1
            single[c] = m
        elif comp_of[m] != c:
            return n_in, single, False
    return n_in, single, True


@njit
def relabel(ids: np.ndarray, lut: np.ndarray) -> np.ndarray:
    """lut[ids] (a third of NumPy's gather on a 1080² site)."""
    out = np.empty(ids.shape, np.int32)
    fi, fo = ids.ravel(), out.ravel()
    for p in range(fi.size):
        fo[p] = lut[fi[p]]
    return out


@njit
def label_areas(labels: np.ndarray) -> np.ndarray:
    """`np.bincount(labels.ravel())` of non-negative labels, background skipped in the count pass
    (labels cover a few percent of a site)."""
    fl = labels.ravel()
    top = 0
    for v in fl:
        top = max(top, v)
    out = np.zeros(top + 1, np.int64)
    for v in fl:
        if v != 0:
            out[v] += 1
    out[0] = fl.size - out[1:].sum()
    return out


def _marker_labels(comps: Components, markers: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
    """Per component: how many distinct marker labels it holds and (where one) which. None when a
    marker label spans several components (then the caller floods the whole image)."""
    count, single, ok = _census(comps.ids, np.ascontiguousarray(markers), comps.count)
    return (count, single) if ok else None


@dataclass
class Flood:
    """A marker watershed to run: markers, mask and the elevation as a crop function."""

    markers: np.ndarray
    mask: np.ndarray
    elevation: Elevation
    comps: Components | None = None  # of the mask, when the caller already has them

    def by_component(self) -> np.ndarray:
        return watershed_by_component(self.markers, self.mask, self.elevation, self.comps)

    def whole(self) -> np.ndarray:
        """The plain full-image call (the reference `by_component` must equal)."""
        h, w = self.mask.shape
        image = self.elevation(0, h, 0, w, np.asarray(self.mask, bool))
        return watershed(image, self.markers, mask=self.mask).astype(np.int32)


def watershed_by_component(
    markers: np.ndarray, mask: np.ndarray, elevation: Elevation, comps: Components | None = None
) -> np.ndarray:
    """`skimage.segmentation.watershed(image, markers, mask=mask)` as int32, with the elevation image
    produced per crop: `elevation(y0, y1, x0, x1, sub)` returns image[y0:y1, x0:x1] (it must be
    correct at least where `sub`, the component's pixels in the crop, holds)."""
    comps = comps or Components.of(mask)
    found = _marker_labels(comps, markers)
    h, w = mask.shape
    if found is None:
        return watershed(elevation(0, h, 0, w, np.asarray(mask, bool)), markers, mask=mask).astype(np.int32)
    count, single = found
    lut = np.where(count == 1, single, 0).astype(np.int32)
    lut[0] = 0
    out = relabel(comps.ids, lut)
    for c in np.flatnonzero(count >= 2):
        y0, y1, x0, x1 = comps.box(int(c))
        sub = comps.ids[y0:y1, x0:x1] == c
        crop_markers = np.where(sub, markers[y0:y1, x0:x1], 0)
        res = watershed(elevation(y0, y1, x0, x1, sub), crop_markers, mask=sub)
        out[y0:y1, x0:x1][sub] = res[sub]
    return out
