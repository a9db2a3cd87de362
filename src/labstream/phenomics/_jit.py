"""One `njit` for the phenomics kernels: compiled once, cached on disk when a cache dir is writable.

Numba raises at decoration time when no cache locator is writable (a read-only install or checkout);
the kernels then compile in memory on first call instead of failing to import. `nogil` lets a thread
pool run several sites' kernels at once.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from typing import Any, TypeVar

import numba
from numba.core.errors import NumbaWarning

F = TypeVar("F", bound=Callable[..., Any])


def njit(fn: F) -> F:
    """`numba.njit(cache=True, nogil=True)`, falling back to an uncached compile."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", NumbaWarning)
            return numba.njit(cache=True, nogil=True)(fn)  # type: ignore[no-any-return]
    except (RuntimeError, NumbaWarning):
        return numba.njit(cache=False, nogil=True)(fn)  # type: ignore[no-any-return]
