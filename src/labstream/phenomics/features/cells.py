"""Per-cell features of a site: >= 300 columns per cell in one float64 block.

Two implementations with the same columns: the compiled one (`_kernels_*`, numba: one walk over each
cell's pixels for intensity, quantiles, correlation and radial rings; one image walk per distance for
co-occurrence; one for perimeter and Euler number) used whenever nuclei lie inside their own cells
(the classic segmenter's contract), and the NumPy reference (`reference_feature_block`: bincounts over
all objects) for everything else. They agree to float rounding (tests/phenomics). Column names follow
CellProfiler (`Cells_AreaShape_Area`, `Nuclei_Intensity_MeanIntensity_DNA`,
`Cells_Texture_Contrast_ER_3`, ...). Compartments: Nuclei, Cells and Cytoplasm (cell minus nucleus),
sharing label ids.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import pandas as pd

from labstream.phenomics.features import _kernels_intensity as KI
from labstream.phenomics.features import _kernels_shape as KS
from labstream.phenomics.features._kernels_texture import haralick
from labstream.phenomics.features.granularity import granularity_features
from labstream.phenomics.features.intensity import (
    COMPARTMENTS,
    INTENSITY_STATS,
    Objects,
    fast_quantile_stats,
    intensity_columns,
    intensity_features,
)
from labstream.phenomics.features.shape import MOMENTS, shape_columns, shape_features
from labstream.phenomics.features.texture import (
    HARALICK,
    LEVELS,
    correlation_columns,
    correlation_features,
    haralick_columns,
    haralick_features,
    radial_columns,
    radial_features,
)
from labstream.phenomics.image import Segmentation
from labstream.phenomics.model import CHANNELS

__all__ = [
    "COMPARTMENTS",
    "DEFAULT_SCALES",
    "FeatureScales",
    "INTENSITY_STATS",
    "MOMENTS",
    "cell_feature_block",
    "cell_feature_names",
    "cell_features",
    "feature_columns",
    "illumination_scaled",
    "reference_feature_block",
    "warm_up",
]


def _shape(
    labels: np.ndarray, order: tuple[np.ndarray, np.ndarray], n: int, comp: str
) -> tuple[dict[str, np.ndarray], np.ndarray, np.ndarray]:
    """AreaShape columns and centres of one label image from the compiled shape kernels."""
    t = KS.shape_table(labels, *order, n)
    per, eul = KS.perimeter_euler(labels, n, KS._PERIM_W, KS._EULER8, *order)
    mu = {pq: t[:, col] for pq, col in zip(MOMENTS, range(KS.MU20, KS.MU03 + 1), strict=True)}
    area = t[:, KS.AREA]
    return shape_columns(comp, area, mu, per, eul, t[:, KS.HULL], t[:, KS.BBOX]), t[:, KS.CY], t[:, KS.CX]


def _texture(
    labels: np.ndarray,
    order: tuple[np.ndarray, np.ndarray],
    flat: np.ndarray,
    lo: np.ndarray,
    hi: np.ndarray,
    distances: tuple[int, ...],
) -> dict[int, dict[str, np.ndarray]]:
    """Haralick features {d: {name: (C, n)}} with grey levels quantised per object between lo and hi."""
    q = KI.quantise(flat, *order, np.nan_to_num(lo, nan=0.0), np.nan_to_num(hi, nan=1.0), LEVELS)
    f = haralick(labels, *order, q, np.asarray(distances, np.int64), LEVELS)
    return {d: {name: f[i, j] for j, name in enumerate(HARALICK)} for i, d in enumerate(distances)}


def _as_block(cols: dict[str, np.ndarray], n: int) -> tuple[list[str], np.ndarray]:
    """The columns' names and their values as one (n, columns) float64 array, in the same order."""
    names = list(cols)
    block = np.empty((n, len(names)), np.float64)
    for j, k in enumerate(names):
        block[:, j] = cols[k]
    return names, block


@dataclass(frozen=True)
class FeatureScales:
    """The scales the texture and granularity features are measured at (the same for every path)."""

    texture_distances: tuple[int, ...] = (1, 3)  # Haralick offsets for cells; nuclei use the first
    granularity_scales: int = 6  # opening radii of the granularity spectrum


DEFAULT_SCALES = FeatureScales()


def cell_feature_block(
    pixels: np.ndarray,
    seg: Segmentation,
    scales: FeatureScales = DEFAULT_SCALES,
) -> tuple[list[str], np.ndarray]:
    """Column names and a (cells, columns) float64 block: `Metadata_Object`, centre coordinates and
    >= 300 features per cell (the array form of `cell_features`, without pandas overhead)."""
    n = seg.count
    nuc, cells = seg.nuclei, seg.cells
    nested, order_c, order_n = KS.nested_orders(cells, nuc, n)  # each object's pixels, raster order
    if n == 0 or not nested:  # nuclei outside their own cell
        return reference_feature_block(pixels, seg, scales)
    flat = pixels.reshape(pixels.shape[0], -1)
    shape_n, ny, nx = _shape(nuc, order_n, n, "Nuclei")
    shape_c, cy, cx = _shape(cells, order_c, n, "Cells")
    starts, idx = order_c
    integral = bool(np.issubdtype(pixels.dtype, np.integer))
    sums, quant, cross, rcnt, rsum = KI.cell_intensity(
        flat, starts, idx, nuc.ravel(), n, cells.shape[1], ny, nx, integral
    )
    cols: dict[str, np.ndarray] = {"Metadata_Object": np.arange(1, n + 1)}
    cols["Metadata_Cell_Y"], cols["Metadata_Cell_X"] = cy, cx
    cols.update(shape_n)
    cols.update(shape_c)
    areas = {
        "Nuclei": shape_n["Nuclei_AreaShape_Area"],
        "Cells": shape_c["Cells_AreaShape_Area"],
        "Cytoplasm": np.nan_to_num(shape_c["Cells_AreaShape_Area"])
        - np.nan_to_num(shape_n["Nuclei_AreaShape_Area"]),
    }
    cols["Cytoplasm_AreaShape_Area"] = areas["Cytoplasm"]
    centres = {"Nuclei": (ny, nx), "Cells": (cy, cx), "Cytoplasm": (cy, cx)}
    for ci, comp in enumerate(COMPARTMENTS):
        sm, q = sums[ci], quant[ci]  # (C, n, 4), (C, n, 6)
        area = np.nan_to_num(areas[comp])
        qs = np.moveaxis(q[:, :, : KI.MAD], 2, 1)  # (C, 5, n) in QUANTILES order
        cols.update(
            intensity_columns(
                comp,
                area,
                sm[..., KI.S],
                sm[..., KI.S2],
                sm[..., KI.SY],
                sm[..., KI.SX],
                qs,
                q[:, :, KI.MAD],
                *centres[comp],
            )
        )
    for j, comp, labels, order, distances in (
        (KI.CELLS, "Cells", cells, order_c, scales.texture_distances),
        (KI.NUCLEI, "Nuclei", nuc, order_n, scales.texture_distances[:1]),
    ):
        tex = _texture(labels, order, flat, quant[j, :, :, KI.QMIN], quant[j, :, :, KI.QMAX], distances)
        cols.update(haralick_columns(comp, tex))
    cols.update(granularity_features(cells, pixels, n, "Cells", scales.granularity_scales))
    for j, comp in ((KI.CELLS, "Cells"), (KI.NUCLEI, "Nuclei")):
        sm = sums[j]
        cols.update(
            correlation_columns(
                comp,
                np.nan_to_num(areas[comp]),
                sm[..., KI.S],
                sm[..., KI.S2],
                cross[0 if comp == "Cells" else 1],
            )
        )
    cols.update(radial_columns("Cells", rcnt, rsum))
    return _as_block(cols, n)


def reference_feature_block(
    pixels: np.ndarray,
    seg: Segmentation,
    scales: FeatureScales = DEFAULT_SCALES,
) -> tuple[list[str], np.ndarray]:
    """`cell_feature_block` in NumPy only (bincounts over all objects at once): the reference the
    compiled path is tested against, and the path for nuclei that do not lie inside their own cell."""
    n = seg.count
    nuc, cells = seg.nuclei, seg.cells
    flat = pixels.reshape(pixels.shape[0], -1)
    oc = Objects.of(cells, flat, n)
    nuc_of_cells = nuc.ravel()[np.flatnonzero(cells)]
    same = bool(np.array_equal(cells[nuc > 0], nuc[nuc > 0]))  # every nucleus inside its own cell
    if same:  # nuclei and cytoplasm are subsets of the cell pixels: no second pass over the image
        on, oy = oc.subset(nuc_of_cells > 0), oc.subset(nuc_of_cells == 0)
    else:
        on, oy = Objects.of(nuc, flat, n), Objects.of(np.where(nuc > 0, 0, cells), flat, n)
    cols: dict[str, np.ndarray] = {"Metadata_Object": np.arange(1, n + 1)}
    shape_n, ny, nx = shape_features(nuc, on, "Nuclei")
    shape_c, cy, cx = shape_features(cells, oc, "Cells")
    cols["Metadata_Cell_Y"], cols["Metadata_Cell_X"] = cy, cx
    cols.update(shape_n)
    cols.update(shape_c)
    cols["Cytoplasm_AreaShape_Area"] = oy.sum().astype(np.float64)
    quant = (
        fast_quantile_stats(oc, nuc_of_cells) if same and np.issubdtype(pixels.dtype, np.integer) else None
    )
    for comp, o, (yc, xc) in (("Nuclei", on, (ny, nx)), ("Cells", oc, (cy, cx)), ("Cytoplasm", oy, (cy, cx))):
        cols.update(intensity_features(o, comp, yc, xc, quant[comp] if quant else None))
    rng = {k: [(q[3], q[4]) for q, _ in quant[k]] for k in ("Cells", "Nuclei")} if quant else {}
    cols.update(haralick_features(cells, pixels, n, "Cells", scales.texture_distances, rng.get("Cells")))
    cols.update(haralick_features(nuc, pixels, n, "Nuclei", scales.texture_distances[:1], rng.get("Nuclei")))
    cols.update(granularity_features(cells, pixels, n, "Cells", scales.granularity_scales))
    cols.update(correlation_features(oc.lab, oc.vals, n, "Cells"))
    cols.update(correlation_features(on.lab, on.vals, n, "Nuclei"))
    cols.update(radial_features(cells, nuc, pixels, n, "Cells", ny, nx))
    return _as_block(cols, n)


def cell_features(
    pixels: np.ndarray,
    seg: Segmentation,
    scales: FeatureScales = DEFAULT_SCALES,
) -> pd.DataFrame:
    """One row per cell with >= 300 features plus `Metadata_Object`, centre coordinates."""
    names, block = cell_feature_block(pixels, seg, scales)
    df = pd.DataFrame(block, columns=names)
    df["Metadata_Object"] = df["Metadata_Object"].astype(np.int64)
    return df


def feature_columns(df: pd.DataFrame) -> list[str]:
    """Feature columns: every column that is not metadata (pycytominer's convention)."""
    return [c for c in df.columns if not c.startswith("Metadata_")]


def illumination_scaled(columns: list[str]) -> dict[str, int]:
    """Intensity features that scale with illumination -> channel index (for deferred correction)."""
    out = {}
    for c in columns:
        parts = c.split("_")
        if len(parts) == 4 and parts[1] == "Intensity" and parts[2] in INTENSITY_STATS:
            out[c] = CHANNELS.index(parts[3])
    return out


@lru_cache(maxsize=1)
def cell_feature_names() -> tuple[str, ...]:
    """Every column `cell_features` produces, in order (measured on a tiny synthetic site once)."""
    pixels, seg = _one_cell_site(np.uint16, 100)
    return tuple(cell_features(pixels, seg).columns)


def _one_cell_site(dtype: type[np.generic], scale: int) -> tuple[np.ndarray, Segmentation]:
    """A 48² site holding one round cell around its nucleus, in every channel."""
    yy, xx = np.mgrid[0:48, 0:48]
    nuclei = (((yy - 24) ** 2 + (xx - 24) ** 2) < 36).astype(np.int32)
    cells = (((yy - 24) ** 2 + (xx - 24) ** 2) < 144).astype(np.int32)
    pixels = np.stack([(cells * (c + 1) * scale + yy * xx % 7).astype(dtype) for c in range(len(CHANNELS))])
    return pixels, Segmentation(nuclei, cells)


def warm_up() -> float:
    """Compile (or load from the on-disk cache) every kernel on a tiny site; returns the seconds it
    took. Call before timing, and in each worker process before its first site."""
    t0 = time.perf_counter()
    for dtype in (np.uint16, np.uint8, np.float32):
        cell_feature_block(*_one_cell_site(dtype, 20))
    return time.perf_counter() - t0
