"""Where a site's CPU time goes, per engine and stage (bench/phenomics.py's `where_time_goes`).

labstream: read, QC, nuclei and cell segmentation, then the feature block by kernel (shape, the
per-cell intensity walk, Haralick texture, granularity) and the illumination block means.
The classic recipe: read, nuclei (Gaussian, Otsu, distance transform, peaks, watershed), cells
(cytoplasm Gaussian, Otsu, watershed) and `regionprops_table` for both compartments.
Each stage runs on the same sites in the same process (CPU seconds, `time.process_time`), once
after a warm-up site, so the shares are comparable within one run; run it in its own process.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import numpy as np


def _timed(acc: dict[str, float], name: str, fn: Callable[..., Any], *args: Any) -> Any:
    c0 = time.process_time()
    out = fn(*args)
    acc[name] = acc.get(name, 0.0) + time.process_time() - c0
    return out


def _labstream_site(acc: dict[str, float], key: Any, files: Any) -> None:
    from labstream.phenomics.features import _kernels_intensity as KI
    from labstream.phenomics.features import _kernels_shape as KS
    from labstream.phenomics.features import cells as FC
    from labstream.phenomics.features.granularity import granularity_features
    from labstream.phenomics.image import block_mean, segmentation, site_qc
    from labstream.phenomics.reading import load_site

    img = _timed(acc, "read", load_site, key, files)
    px = img.pixels
    _timed(acc, "qc", site_qc, img, None)
    nuc = _timed(acc, "segment_nuclei", segmentation.segment_nuclei, px[0])
    seg = _timed(acc, "segment_nuclei_and_cells", segmentation.segment, px)
    n, cells, flat = seg.count, seg.cells, px.reshape(px.shape[0], -1)
    _, oc, on = _timed(acc, "features_order", KS.nested_orders, cells, nuc, n)
    sn = _timed(acc, "features_shape", FC._shape, nuc, on, n, "Nuclei")
    _timed(acc, "features_shape", FC._shape, cells, oc, n, "Cells")
    integral = bool(np.issubdtype(px.dtype, np.integer))
    args = (flat, oc[0], oc[1], nuc.ravel(), n, cells.shape[1], sn[1], sn[2], integral)
    quant = _timed(acc, "features_intensity_walk", KI.cell_intensity, *args)[1]
    lo, hi = quant[KI.CELLS, :, :, KI.QMIN], quant[KI.CELLS, :, :, KI.QMAX]
    _timed(acc, "features_texture", FC._texture, cells, oc, flat, lo, hi, (1, 3))
    lo, hi = quant[KI.NUCLEI, :, :, KI.QMIN], quant[KI.NUCLEI, :, :, KI.QMAX]
    _timed(acc, "features_texture", FC._texture, nuc, on, flat, lo, hi, (1,))
    _timed(acc, "features_granularity", granularity_features, cells, px, n, "Cells", 6)
    _timed(acc, "features_block_total", FC.cell_feature_block, px, seg)
    _timed(acc, "illumination_block_means", block_mean, px, 8)


def _baseline_site(acc: dict[str, float], key: Any, files: Any) -> None:
    from scipy import ndimage as ndi
    from skimage.feature import peak_local_max
    from skimage.filters import gaussian, threshold_otsu
    from skimage.measure import regionprops_table
    from skimage.segmentation import watershed

    from labstream.phenomics.reading import load_site

    px = _timed(acc, "read", load_site, key, files).pixels

    def nuclei() -> np.ndarray:
        dna = gaussian(px[0].astype(float), 1.0)
        mask = ndi.binary_fill_holes(dna > threshold_otsu(dna))
        dist = ndi.distance_transform_edt(mask)
        peaks = peak_local_max(dist, min_distance=4, labels=ndi.label(mask)[0], exclude_border=False)
        markers = np.zeros(dna.shape, np.int32)
        markers[tuple(peaks.T)] = np.arange(1, len(peaks) + 1)
        return watershed(-dist, markers, mask=mask)

    def cells(nuc: np.ndarray) -> np.ndarray:
        cyto = gaussian(px[1:4].astype(float).sum(axis=0), 1.5)
        return watershed(-cyto, nuc, mask=(cyto > threshold_otsu(cyto)) | (nuc > 0))

    nuc = _timed(acc, "segment_nuclei", nuclei)
    cel = _timed(acc, "segment_cells", cells, nuc)
    inten = np.moveaxis(px, 0, -1).astype(float)
    props = ("label", "area", "perimeter", "eccentricity", "solidity", "extent", "major_axis_length")
    props += ("minor_axis_length", "orientation", "intensity_mean", "intensity_min", "intensity_max")
    _timed(acc, "features_regionprops", regionprops_table, nuc, inten, props)
    _timed(acc, "features_regionprops", regionprops_table, cel, inten, props)


def where_time_goes(images: str, n_sites: int = 4) -> dict[str, dict[str, float]]:
    """Mean CPU milliseconds per site and stage for both engines on the first `n_sites` sites."""
    from labstream.phenomics.reading import discover
    from labstream.phenomics.warm import warm_up

    warm_up()
    sites = discover(images)
    keys = sorted(sites)[: n_sites + 1]
    out: dict[str, dict[str, float]] = {}
    for name, fn in (("labstream", _labstream_site), ("baseline", _baseline_site)):
        acc: dict[str, float] = {}
        fn({}, keys[0], sites[keys[0]])  # warm-up site: imports, first-call costs
        for key in keys[1:]:
            fn(acc, key, sites[key])
        per_site = {k: 1000.0 * v / max(len(keys) - 1, 1) for k, v in acc.items()}
        if name == "labstream":  # `segment` ran nuclei again: cells are the difference
            both = per_site.pop("segment_nuclei_and_cells")
            per_site["segment_cells"] = both - per_site["segment_nuclei"]
            per_site["features_other"] = per_site.pop("features_block_total") - sum(
                v for k, v in per_site.items() if k.startswith("features_")
            )
        out[name] = {k: round(v, 2) for k, v in per_site.items()}
    return out
