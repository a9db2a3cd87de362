"""Optional GPU path (CuPy): the per-site image filters on the device, with a CPU fallback.

Used only when CuPy imports and a device answers, and only when asked (`LABSTREAM_GPU=1` or
`use_gpu=True`). The kernels here are the image-wide filters of segmentation (Gaussian smoothing and the
Euclidean distance transform); results come back as NumPy and equal the CPU path within float32
rounding (`TOLERANCE`). Reductions over cells stay on the CPU: they are bincounts over a few thousand
pixels, where a device round trip costs more than it saves.
"""

from __future__ import annotations

import os
from functools import lru_cache
from typing import Any

import numpy as np
from scipy import ndimage as ndi

TOLERANCE = 1e-4  # max abs difference vs CPU, relative to the image's range


@lru_cache(maxsize=1)
def gpu_available() -> bool:
    try:
        import cupy

        return bool(cupy.cuda.runtime.getDeviceCount() > 0)
    except Exception:  # ImportError, CUDA driver errors: no usable GPU
        return False


def use_gpu(requested: bool | None = None) -> bool:
    wanted = requested if requested is not None else os.environ.get("LABSTREAM_GPU", "") in ("1", "true")
    return bool(wanted) and gpu_available()


def gaussian(x: np.ndarray, sigma: float | tuple[float, ...], gpu: bool | None = None) -> np.ndarray:
    """Gaussian filter as float32 on the GPU when enabled, else scipy."""
    if use_gpu(gpu):
        import cupy
        from cupyx.scipy import ndimage as cndi

        return cupy.asnumpy(cndi.gaussian_filter(cupy.asarray(x, dtype=cupy.float32), sigma))
    return ndi.gaussian_filter(np.asarray(x, np.float32), sigma)


def distance_transform(mask: np.ndarray, gpu: bool | None = None) -> np.ndarray:
    """Euclidean distance to the nearest background pixel, float32."""
    if use_gpu(gpu):
        import cupy
        from cupyx.scipy import ndimage as cndi

        return cupy.asnumpy(cndi.distance_transform_edt(cupy.asarray(mask))).astype(np.float32)
    return ndi.distance_transform_edt(mask).astype(np.float32)


def device_info() -> dict[str, Any]:
    if not gpu_available():
        return {"gpu": False}
    import cupy

    props = cupy.cuda.runtime.getDeviceProperties(0)
    return {
        "gpu": True,
        "name": props["name"].decode() if isinstance(props["name"], bytes) else props["name"],
    }
