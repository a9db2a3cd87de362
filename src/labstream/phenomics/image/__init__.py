"""Image processing of one site: QC, illumination correction, segmentation of nuclei and cells.

`qc` scores focus, saturation and empty fields; `illumination` accumulates each plate's per-channel
illumination function from block-averaged images; `segmentation` finds nuclei and cells (pluggable
segmenters, the classic one by default). Private beside them: `_kernels` (numba histogram, Otsu and
percentiles), `_watershed` (per-component floods) and `_gpu` (optional CuPy filters).
"""

from __future__ import annotations

from labstream.phenomics.image.illumination import IlluminationAccumulator, block_mean, correct, value_at
from labstream.phenomics.image.qc import QCThresholds, SiteQC, focus_score, saturation, site_qc
from labstream.phenomics.image.segmentation import Segmentation, get_segmenter, register_segmenter, segment

__all__ = [
    "IlluminationAccumulator",
    "QCThresholds",
    "Segmentation",
    "SiteQC",
    "block_mean",
    "correct",
    "focus_score",
    "get_segmenter",
    "register_segmenter",
    "saturation",
    "segment",
    "site_qc",
    "value_at",
]
