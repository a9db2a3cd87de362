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
from labstream.phenomics._jit import njit
from labstream.phenomics.image._kernels import percentiles, percentiles_of_histogram
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


@njit
def _laplace_moments(x: np.ndarray) -> tuple[float, float]:
    """Sum and sum of squares of the 3x3 Laplacian of integer pixels x with scipy's reflect border,
    in int64: exact (|v| < 2**19, so v * v < 2**38 and a site's sum of squares stays far below 2**63)
    and, without a float chain to keep in order, the row loops vectorise."""
    h, w = x.shape
    s = s2 = np.int64(0)
    for y in range(h):
        up, row, down = x[max(y - 1, 0)], x[y], x[min(y + 1, h - 1)]
        for xx in range(w):
            xm, xp = max(xx - 1, 0), min(xx + 1, w - 1)
            v = np.int64(up[xx]) + np.int64(down[xx]) + np.int64(row[xm]) + np.int64(row[xp])
            v -= 4 * np.int64(row[xx])
            s += v
            s2 += v * v
    return float(s), float(s2)


@njit
def _histogram_and_sum(x: np.ndarray, bins: int) -> tuple[np.ndarray, float]:
    hist = np.zeros(bins, np.int64)
    total = np.int64(0)  # exact; a float64 sum of these integers is exact too (< 2**53)
    for v in x.ravel():
        hist[v] += 1
        total += v
    return hist, float(total)


def _integer_dna_qc(raw: np.ndarray) -> tuple[float, float, float, float]:
    """(median, p99.9, foreground fraction, focus) of an 8/16-bit DNA plane from one histogram pass
    and one Laplacian pass, as `site_qc`'s float32 route computes them: the percentiles exactly, the
    foreground count exactly (integers against the float32 threshold), the focus in float64 (the
    float32 route agrees to ~1e-6 relative)."""
    hist, total = _histogram_and_sum(raw, 1 << (8 * raw.itemsize))
    med, p999 = (float(v) for v in percentiles_of_histogram(hist, [50, 99.9]))
    cut = np.float32(med + 0.5 * (p999 - med))  # `dna > t` compares in float32
    first = int(np.floor(cut)) + 1
    fg = float(hist[max(first, 0) :].sum()) / raw.size
    n = float(raw.size)
    mean = max(total / n, 1e-6)
    s, s2 = _laplace_moments(raw)
    return med, p999, fg, (s2 / n - (s / n) ** 2) / (mean * mean)


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
    if raw.dtype in (np.uint8, np.uint16):
        med, p999, fg, f = _integer_dna_qc(raw)
    else:
        dna = raw.astype(np.float32)
        med, p999 = (float(v) for v in percentiles(dna, [50, 99.9]))
        fg = float((dna > med + 0.5 * (p999 - med)).mean())
        f = focus_score(dna)
    contrast = (p999 - med) / max(med, 1.0)
    if contrast < t.min_contrast:
        src = img.sources[0] if img.sources else img.key.id
        raise InputError(
            src,
            f"empty field: no nuclei in site {img.key.id} (DNA contrast {contrast:.2f})",
            hint="the site is quarantined; check focus and dispensing for this well",
        )
    sat = float(saturation(img.pixels).max())
    blurry, saturated = f < t.min_focus, sat > t.max_saturation
    return SiteQC(
        img.key.plate, img.key.well, img.key.site, f, sat, fg, blurry, saturated, not (blurry or saturated)
    )
