"""One internal model of a Cell Painting plate, whatever layout the microscope wrote.

plate -> well -> site -> channel. Channels are ordered as Cell Painting's five stains; readers map
their layout's channel numbers (1..5) onto these indices (0..4).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from labstream.core.errors import InputError
from labstream.layouts import normalize_well

CHANNELS: tuple[str, ...] = ("DNA", "ER", "RNA", "AGP", "Mito")
ROLES: tuple[str, ...] = ("negative_control", "positive_control", "treatment")


@dataclass(frozen=True, order=True)
class SiteKey:
    """Identity of one field of view."""

    plate: str
    well: str
    site: int

    @property
    def id(self) -> str:
        return f"{self.plate}/{self.well}/s{self.site}"


@dataclass
class SiteImage:
    """All channels of one site as a (C, H, W) array, with the files they came from (for errors)."""

    key: SiteKey
    pixels: np.ndarray
    sources: tuple[str, ...] = field(default_factory=tuple)

    @property
    def source(self) -> str:
        return ", ".join(self.sources) if self.sources else self.key.id

    @property
    def nbytes(self) -> int:
        return int(self.pixels.nbytes)


def well_row_col(well: str) -> tuple[int, int]:
    """0-based (row, column) of a well name."""
    w = normalize_well(well)
    return ord(w[0]) - ord("A"), int(w[1:]) - 1


def well_name(row: int, col: int) -> str:
    return f"{chr(ord('A') + row)}{col + 1:02d}"


def check_pixels(arr: np.ndarray, source: str, shape: tuple[int, int] | None = None) -> np.ndarray:
    """Accept 2-D 8/16-bit (or float) grey images; anything else is bad input naming the file."""
    if arr.ndim != 2:
        raise InputError(
            source, f"expected a 2-D grey image, got shape {arr.shape}", hint="write one file per channel"
        )
    if arr.dtype not in (np.uint8, np.uint16, np.float32, np.float64):
        raise InputError(source, f"unsupported pixel type {arr.dtype}", hint="use 8- or 16-bit images")
    if shape is not None and tuple(arr.shape) != tuple(shape):
        raise InputError(source, f"shape {arr.shape} differs from the site's other channels {shape}")
    if min(arr.shape) < 16:
        raise InputError(source, f"image {arr.shape} is too small to hold cells")
    return arr
