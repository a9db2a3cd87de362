"""Nuclei and cell segmentation: classic by default, a registered model when one is given.

Classic recipe (CellProfiler's IdentifyPrimary/SecondaryObjects): Gaussian smoothing, Otsu threshold,
hole filling, distance-transform watershed to split touching nuclei; cells grow from the nuclei over
the cytoplasm stains by an intensity watershed inside an Otsu mask. Nuclei and cells share label ids:
cell k contains nucleus k.

Both floods run per mask component (`_watershed`): a component with one nucleus (or peak) is
that label whole, so scikit-image's watershed runs only on the crops of components holding two or
more, and the distances it needs are computed on those crops too.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import cv2
import numpy as np

from labstream.core.errors import ConfigError
from labstream.phenomics._jit import njit
from labstream.phenomics.image import _gpu as gpu
from labstream.phenomics.image._kernels import label_listed, minmax, otsu, peak_labels, percentiles
from labstream.phenomics.image._watershed import Components, Flood, label_areas, relabel
from labstream.phenomics.model import CHANNELS


@dataclass
class Segmentation:
    nuclei: np.ndarray  # int32 labels 1..n
    cells: np.ndarray  # int32 labels 1..n, cells[nuclei == k] == k

    @property
    def count(self) -> int:
        return int(self.nuclei.max()) if self.nuclei.size else 0


Segmenter = Callable[[np.ndarray], Segmentation]
_REGISTRY: dict[str, Segmenter] = {}


def register_segmenter(name: str, fn: Segmenter) -> None:
    """Make a segmentation model available by name (e.g. a model loaded from the model registry)."""
    _REGISTRY[name] = fn


def get_segmenter(name: str = "classic") -> Segmenter:
    if name == "classic":
        return segment
    if name in _REGISTRY:
        return _REGISTRY[name]
    raise ConfigError(f"unknown segmentation model {name!r}; registered: {['classic', *_REGISTRY]}")


def gaussian(x: np.ndarray, sigma: float) -> np.ndarray:
    """Gaussian smoothing as float32: the GPU when enabled, else OpenCV (scipy's reflect border and
    4-sigma kernel; equal to `ndimage.gaussian_filter` to float32 rounding, about 5x faster)."""
    if gpu.use_gpu():
        return gpu.gaussian(x, sigma)
    return cv2.GaussianBlur(np.asarray(x, np.float32), (0, 0), sigma, borderType=cv2.BORDER_REFLECT)


def distance_transform(mask: np.ndarray) -> np.ndarray:
    """Exact Euclidean distance to the nearest background pixel, float32: the GPU when enabled, else
    OpenCV's exact (DIST_MASK_PRECISE) transform, several times faster than
    `ndimage.distance_transform_edt` and equal to it bit for bit: each value is re-rounded as the
    correctly rounded float32 square root of its integer squared distance, because OpenCV's own float32
    square roots come out one ulp low in its single-threaded path (small images, and every site since
    sites run OpenCV on one thread), so without it the distances would depend on the thread count."""
    if gpu.use_gpu():
        return gpu.distance_transform(mask)
    d = cv2.distanceTransform(np.asarray(mask, np.uint8), cv2.DIST_L2, cv2.DIST_MASK_PRECISE)
    return np.sqrt(np.rint(np.square(d, dtype=np.float64))).astype(np.float32)


def _smooth(x: np.ndarray, sigma: float) -> np.ndarray:
    return gaussian(x, sigma)


def _fill_holes(mask: np.ndarray) -> np.ndarray:
    """`ndimage.binary_fill_holes` (4-connected background): flood the background from a one-pixel
    frame around the image (OpenCV); holes are the background pixels the flood does not reach."""
    h, w = mask.shape
    im = np.zeros((h + 2, w + 2), np.uint8)
    im[1:-1, 1:-1] = mask
    cv2.floodFill(im, None, (0, 0), 2, flags=4)
    return np.asarray(im[1:-1, 1:-1] != 2)


@njit
def _cyto_sum(planes: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """Sum over planes of clip((x - lo) / max(hi - lo, 1e-6), 0, 1) in float32 arithmetic (lo, hi
    float32), one pass instead of five NumPy passes per plane."""
    c, h, w = planes.shape
    out = np.zeros((h, w), np.float32)
    zero, one = np.float32(0), np.float32(1)
    for k in range(c):  # plane by plane: the inner loop vectorises (~10x faster than planes inside)
        span = max(hi[k] - lo[k], np.float32(1e-6))
        for y in range(h):
            for x in range(w):
                v = (np.float32(planes[k, y, x]) - lo[k]) / span
                out[y, x] += min(max(v, zero), one)
    return out


def segment_nuclei(
    dna: np.ndarray, sigma: float = 1.0, min_area: int = 20, min_distance: int = 4
) -> np.ndarray:
    """Otsu mask of the DNA stain split by a distance-transform watershed."""
    flood = nuclei_flood(dna, sigma, min_distance)
    if flood is None:
        return np.zeros(dna.shape, np.int32)
    labels = flood.by_component()
    areas = label_areas(labels)
    keep = areas >= min_area
    keep[0] = False
    new_ids = np.where(keep, np.cumsum(keep), 0).astype(np.int32)  # drop small, renumber 1..n in order
    if np.array_equal(new_ids, np.arange(new_ids.size)):  # nothing dropped: already numbered 1..n
        return labels
    return relabel(labels, new_ids)


def nuclei_flood(dna: np.ndarray, sigma: float = 1.0, min_distance: int = 4) -> Flood | None:
    """The nuclei watershed's inputs: Otsu mask, distance-peak markers, elevation -distance
    (None for a flat image)."""
    sm = _smooth(dna, sigma)
    bounds = minmax(sm)
    if bounds[1] <= bounds[0]:
        return None
    mask = _fill_holes(sm > otsu(sm, bounds=bounds))
    comps = Components.of(mask)
    dist = gaussian(_distance_inside(mask, comps), 1.0)
    if gpu.use_gpu() or comps.count - 1 > mask.size // 4096:  # many small crops cost more than one pass
        size = 2 * min_distance + 1
        peaks = peak_labels(dist, cv2.dilate(dist, np.ones((size, size), np.uint8)), 1.5)  # = maximum_filter
    else:
        peaks = _peaks_by_component(dist, comps, min_distance)
    return Flood(peaks, mask, lambda y0, y1, x0, x1, _: -dist[y0:y1, x0:x1], comps)


_REACH = 4  # OpenCV's float32 Gaussian for sigma 1 has 9 taps: 4 pixels either side


def _peaks_by_component(dist: np.ndarray, comps: Components, min_distance: int) -> np.ndarray:
    """`peak_labels(dist, maximum_filter(dist), 1.5)` from crops around each mask component: the
    smoothed distance is 0 beyond the Gaussian's reach (4 px) from the mask, so every peak lies within
    a component's box grown by 4, and the maximum filter there needs `dist` on min_distance more
    (a maximum is exact on any crop; at the image's edge the crop's edge is the image's). The peaks,
    joined and numbered over the whole image, are the whole-image ones."""
    h, w = dist.shape
    size = 2 * min_distance + 1
    kernel = np.ones((size, size), np.uint8)
    found = []
    for c in range(1, comps.count):
        y0, y1, x0, x1 = comps.box(c)
        m = _REACH + min_distance
        oy, ox = max(y0 - m, 0), max(x0 - m, 0)
        top = cv2.dilate(dist[oy : min(y1 + m, h), ox : min(x1 + m, w)], kernel)
        py0, py1 = max(y0 - _REACH, 0), min(y1 + _REACH, h)
        px0, px1 = max(x0 - _REACH, 0), min(x1 + _REACH, w)
        d = dist[py0:py1, px0:px1]
        yy, xx = np.nonzero((d == top[py0 - oy : py1 - oy, px0 - ox : px1 - ox]) & (d > 1.5))
        found.append((yy + py0) * w + (xx + px0))
    listed = np.unique(np.concatenate(found)) if found else np.zeros(0, np.int64)
    return label_listed(listed, h, w)


def _distance_inside(mask: np.ndarray, comps: Components) -> np.ndarray:
    """`distance_transform(mask)` from each component's box grown by one pixel, when that is less work.

    Exact: walking from a pixel along a row or column, the first pixel off its component is background
    (a 4-neighbour of the component) inside the grown box, or the image edge, so any zero outside the
    box is farther than one inside it."""
    h, w = mask.shape
    if gpu.use_gpu() or comps.count - 1 > mask.size // 4096:  # many small crops cost more than one pass
        return distance_transform(mask)
    m8 = np.asarray(mask, np.uint8)
    out = np.zeros(mask.shape, np.float32)
    for c in range(1, comps.count):
        y0, y1, x0, x1 = comps.box(c)
        gy0, gy1, gx0, gx1 = max(y0 - 1, 0), min(y1 + 1, h), max(x0 - 1, 0), min(x1 + 1, w)
        d = distance_transform(m8[gy0:gy1, gx0:gx1])
        sub = comps.ids[y0:y1, x0:x1] == c
        out[y0:y1, x0:x1][sub] = d[y0 - gy0 : y1 - gy0, x0 - gx0 : x1 - gx0][sub]
    return out


def segment_cells(nuclei: np.ndarray, cyto: np.ndarray, sigma: float = 1.5) -> np.ndarray:
    """Grow each nucleus over the cytoplasm mask, nearest nucleus first, bent by intensity.

    A pure intensity watershed lets one cell flood its neighbour's bright membrane before the
    neighbour's dim perinuclear ring is reached; ranking by distance from the nuclei (with a little
    intensity to follow dim cell-cell borders) keeps each cell with its own nucleus.
    """
    flood = cells_flood(nuclei, cyto, sigma)
    return nuclei.copy() if flood is None else flood.by_component()


def cells_flood(nuclei: np.ndarray, cyto: np.ndarray, sigma: float = 1.5) -> Flood | None:
    """The cell watershed's inputs: nuclei as markers, the Otsu mask of the smoothed cytoplasm stains
    (plus the nuclei), elevation = distance from the nuclei - 3 x scaled intensity (None when flat)."""
    sm = _smooth(cyto, sigma)
    bounds = minmax(sm)
    if bounds[1] <= bounds[0]:
        return None
    mask = (sm > otsu(sm, bounds=bounds)) | (nuclei > 0)
    inside = sm[mask]
    lo, hi = percentiles(inside, [1, 99])
    span = float(hi - lo) or 1.0
    floor = float(inside.min())

    def elevation(y0: int, y1: int, x0: int, x1: int, sub: np.ndarray) -> np.ndarray:
        dist = _distance_to_nuclei(nuclei, y0, y1, x0, x1, sub)
        return dist - 3.0 * (sm[y0:y1, x0:x1] - floor) / span

    return Flood(nuclei, mask, elevation)


def _distance_to_nuclei(
    nuclei: np.ndarray, y0: int, y1: int, x0: int, x1: int, sub: np.ndarray
) -> np.ndarray:
    """`distance_transform(nuclei == 0)[y0:y1, x0:x1]`, exact where `sub` holds, from a padded crop.

    The crop's own distances bound the true ones from above (fewer nuclei, never closer), so padding
    the crop by their maximum over `sub` takes in every nucleus that can be nearer."""
    h, w = nuclei.shape
    if y0 == 0 and x0 == 0 and y1 == h and x1 == w:
        return distance_transform(nuclei == 0)
    near = distance_transform(nuclei[y0:y1, x0:x1] == 0)
    pad = int(np.ceil(float(near[sub].max(initial=0.0)))) + 1
    py0, py1, px0, px1 = max(y0 - pad, 0), min(y1 + pad, h), max(x0 - pad, 0), min(x1 + pad, w)
    full = distance_transform(nuclei[py0:py1, px0:px1] == 0)
    return full[y0 - py0 : y1 - py0, x0 - px0 : x1 - px0]


def segment(pixels: np.ndarray) -> Segmentation:
    """Classic segmentation of a (C, H, W) Cell Painting site."""
    nuclei = segment_nuclei(pixels[CHANNELS.index("DNA")])
    chans = [CHANNELS.index(name) for name in ("RNA", "AGP", "ER")]  # stains filling the cytoplasm
    planes = pixels[chans]
    # each scaled to its own range; a quarter of the pixels is plenty for the percentiles
    ranges = np.array([percentiles(p[::2, ::2], [1, 99.5]) for p in planes])
    cyto = _cyto_sum(planes, ranges[:, 0].astype(np.float32), ranges[:, 1].astype(np.float32))
    return Segmentation(nuclei, segment_cells(nuclei, cyto))
