"""The per-site step: read, QC, segment, measure. Pure; used by the chain and by the site stage.

Bad input (unreadable file, missing channel, wrong shape, empty field) raises InputError naming the
file; the caller quarantines that site and goes on with the rest of the plate.
"""

from __future__ import annotations

import ctypes
import functools
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import lru_cache

import cv2
import numpy as np
import pandas as pd

from labstream.phenomics.features import cell_feature_block
from labstream.phenomics.image import QCThresholds, block_mean, get_segmenter, site_qc
from labstream.phenomics.model import SiteImage, SiteKey
from labstream.phenomics.reading import Source, load_site

ILLUM_FACTOR = 8


@dataclass
class SiteResult:
    key: SiteKey
    cells: pd.DataFrame  # one row per cell, Metadata_Plate/Well/Site + features (float32)
    qc: dict[str, object]
    illum_small: np.ndarray  # (C, h, w) block means for the plate's illumination function
    full_shape: tuple[int, int]
    raw_bytes: int
    seconds: float
    cpu_seconds: float = 0.0
    sources: tuple[str, ...] = field(default_factory=tuple)


def one_thread_per_site() -> None:
    """Sites run in parallel as worker processes, one site at a time each: OpenCV's own thread pool
    only adds CPU there (measured at 1080² on 2 shared cores: ~15% more CPU per site for the same
    labels), so every OpenCV call of a site runs on the worker's own thread."""
    if cv2.getNumThreads() != 1:
        cv2.setNumThreads(1)
    reuse_freed_memory()


_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3  # glibc's mallopt parameters (malloc.h)
MMAP_ABOVE = 64 << 20  # allocations this large still get their own mapping
KEEP_FREE = 128 << 20  # free memory the heap keeps at its top instead of returning it


@lru_cache(maxsize=1)
@functools.cache  # once per process: the setting lasts (and a forked child inherits it)
def reuse_freed_memory() -> bool:
    """Let glibc's heap serve a site's large arrays from memory freed by the last site.

    By default glibc maps each array over ~4-32 MB afresh and unmaps it on free, so every 1080²
    site page-faults and zeroes ~16 MB of new pages: ~10 ms of kernel time of ~110 ms (measured,
    `getrusage` minor faults ~3,900 per site -> 0). The process keeps at most KEEP_FREE of freed
    memory at the heap's top, so its size stays flat from site to site. No effect on any value.
    False where the C library is not glibc (nothing changed)."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes, mallopt.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int
    return bool(mallopt(_M_MMAP_THRESHOLD, MMAP_ABOVE)) and bool(mallopt(_M_TRIM_THRESHOLD, KEEP_FREE))


def measure_site(img: SiteImage, *, segmenter: str = "classic", qc: QCThresholds | None = None) -> SiteResult:
    one_thread_per_site()
    t0, c0 = time.perf_counter(), time.process_time()
    q = site_qc(img, qc)
    seg = get_segmenter(segmenter)(img.pixels)
    names, block = cell_feature_block(img.pixels, seg)
    n = block.shape[0]
    obj = names.index("Metadata_Object")
    meta = pd.DataFrame(
        {
            "Metadata_Plate": [img.key.plate] * n,
            "Metadata_Well": [img.key.well] * n,
            "Metadata_Site": np.full(n, img.key.site, np.int32),
            "Metadata_Object": block[:, obj].astype(np.int64),
        }
    )
    rest = [j for j in range(len(names)) if j != obj]
    values = pd.DataFrame(block[:, rest].astype(np.float32), columns=[names[j] for j in rest])
    feats = pd.concat([meta, values], axis=1)  # one float32 block: cheap to build and to store
    qrow = q.as_row()
    qrow["n_cells"] = int(seg.count)
    return SiteResult(
        img.key,
        feats,
        qrow,
        block_mean(img.pixels, ILLUM_FACTOR),
        (int(img.pixels.shape[1]), int(img.pixels.shape[2])),
        img.nbytes,
        time.perf_counter() - t0,
        time.process_time() - c0,
        img.sources,
    )


def process_site(key: SiteKey, files: Mapping[int, Source], *, segmenter: str = "classic") -> SiteResult:
    """Read a site's files and measure it (raises InputError on bad input); times include the read."""
    t0, c0 = time.perf_counter(), time.process_time()
    res = measure_site(load_site(key, files), segmenter=segmenter)
    res.seconds, res.cpu_seconds = time.perf_counter() - t0, time.process_time() - c0
    return res
