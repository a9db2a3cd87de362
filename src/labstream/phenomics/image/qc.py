"""Per-site image quality: focus, saturation, empty field.

Focus is the variance of the Laplacian of the mean-normalised DNA channel (scale-free, so it compares
across plates with different gains). Saturation is the fraction of pixels at the dtype's ceiling. An
empty field has no object brighter than the background noise could explain: it raises InputError
because nothing downstream can use it.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import cv2
import numpy as np

from labstream.core.errors import InputError
from labstream.phenomics.image._kernels import percentiles
from labstream.phenomics.model import CHANNELS, SiteImage


@dataclass
class SiteQC:
    Metadata_Plate: str
    Metadata_Well: str
    Metadata_Site: int
    focus_score: float
    saturation_max: float  # worst channel's saturated fraction
    foreground_fraction: float
    blurry: bool
    saturated: bool
    qc_pass: bool

    def as_row(self) -> dict[str, object]:
        return asdict(self)


@dataclass(frozen=True)
class QCThresholds:
    min_focus: float = 0.02
    max_saturation: float = 0.01
    min_contrast: float = 0.5  # (p99.9 - median) / median of DNA below this: empty field


def focus_score(dna: np.ndarray) -> float:
    """Variance of the Laplacian of the mean-normalised image (OpenCV's 3x3 Laplacian with scipy's
    reflect border: `ndimage.laplace` to float32 rounding)."""
    x = dna.astype(np.float32)
    x /= max(float(x.mean()), 1e-6)
    return float(cv2.Laplacian(x, cv2.CV_32F, ksize=1, borderType=cv2.BORDER_REFLECT).var())


def saturation(pixels: np.ndarray) -> np.ndarray:
    """Fraction of each channel's pixels at the ceiling; a channel whose maximum is below it (the
    usual case) is 0 without the full comparison pass."""
    top = np.iinfo(pixels.dtype).max if np.issubdtype(pixels.dtype, np.integer) else 1.0
    flat = pixels.reshape(pixels.shape[0], -1)
    out = np.zeros(flat.shape[0])
    for c in np.flatnonzero(flat.max(axis=1) >= top):
        out[c] = np.count_nonzero(flat[c] >= top) / flat.shape[1]
    return out


def site_qc(img: SiteImage, t: QCThresholds | None = None) -> SiteQC:
    """Measure one site; an empty field raises InputError naming the site's DNA file."""
    t = t or QCThresholds()
    raw = img.pixels[CHANNELS.index("DNA")]
    dna = raw.astype(np.float32)
    med, p999 = (
        float(v) for v in percentiles(raw if np.issubdtype(raw.dtype, np.integer) else dna, [50, 99.9])
    )
    contrast = (p999 - med) / max(med, 1.0)
    if contrast < t.min_contrast:
        src = img.sources[0] if img.sources else img.key.id
        raise InputError(
            src,
            f"empty field: no nuclei in site {img.key.id} (DNA contrast {contrast:.2f})",
            hint="the site is quarantined; check focus and dispensing for this well",
        )
    fg = float((dna > med + 0.5 * (p999 - med)).mean())
    f = focus_score(dna)
    sat = float(saturation(img.pixels).max())
    blurry, saturated = f < t.min_focus, sat > t.max_saturation
    return SiteQC(
        img.key.plate, img.key.well, img.key.site, f, sat, fg, blurry, saturated, not (blurry or saturated)
    )
