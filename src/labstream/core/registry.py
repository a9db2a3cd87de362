"""Backends by URL scheme, through dotted import paths imported lazily (fsspec-style registry)."""

from __future__ import annotations

import importlib
from typing import Any
from urllib.parse import urlparse

from labstream.core.errors import ConfigError, MissingDependencyError


def scheme_of(url: str) -> str:
    if "://" not in url:
        url = url.split("?", 1)[0]  # `local?cpu=4`
        return url.split(":", 1)[0] if ":" in url and not url.startswith("/") else url
    return urlparse(url).scheme


def load(registry: dict[str, tuple[str, str]], url: str, kind: str) -> Any:
    """Return the class registered for the URL's scheme. registry: scheme -> ("module:Class", extra)."""
    scheme = scheme_of(url)
    if scheme not in registry:
        known = ", ".join(sorted(registry))
        raise ConfigError(f"unknown {kind} URL scheme {scheme!r} in {url!r}; use one of: {known}")
    target, extra = registry[scheme]
    module_name, _, attr = target.partition(":")
    try:
        module = importlib.import_module(module_name)
    except ImportError as err:
        raise MissingDependencyError(err.name or module_name, extra) from err
    return getattr(module, attr)
