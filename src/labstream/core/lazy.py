"""`lazy_exports`: a package's public names, imported from their modules on first use (PEP 562), so
that importing the package stays cheap (pysam, scikit-image and friends load when a name is used)."""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from typing import Any


def lazy_exports(package: str, exports: Mapping[str, str]) -> Callable[[str], Any]:
    """The module `__getattr__` of `package`: `exports` maps each public name to the sub-module (relative
    to the package) that defines it; any other name is an AttributeError, as for a plain module."""

    def __getattr__(name: str) -> Any:
        if name not in exports:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        return getattr(importlib.import_module(f"{package}.{exports[name]}"), name)

    return __getattr__
