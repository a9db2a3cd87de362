"""Per-cell features: shape, intensity, texture, granularity, correlation and radial distribution.

`cells` assembles one float64 block per site (CellProfiler column names) from the feature families in
`shape`, `intensity` and `texture`. Its compiled path runs the private numba kernels
(`_kernels_intensity`, `_kernels_shape`, `_kernels_texture`); the NumPy reference gives the same columns.
"""

from __future__ import annotations

from labstream.phenomics.features.cells import (
    cell_feature_block,
    cell_feature_names,
    cell_features,
    feature_columns,
    illumination_scaled,
    reference_feature_block,
)

__all__ = [
    "cell_feature_block",
    "cell_feature_names",
    "cell_features",
    "feature_columns",
    "illumination_scaled",
    "reference_feature_block",
]
