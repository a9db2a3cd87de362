"""Pipelines by name, imported lazily: `labstream watch --pipeline NAME` and the demo pick from here."""

from __future__ import annotations

import importlib
from typing import Any

from labstream.core.errors import ConfigError

PIPELINES: dict[str, str] = {
    "filestats": "labstream.pipelines.filestats:pipeline",
    "phenomics": "labstream.phenomics.stages:pipeline",
    "genomics": "labstream.genomics.stages:pipeline",
}


def get_pipeline(name: str, **kwargs: Any) -> Any:
    if name not in PIPELINES:
        raise ConfigError(f"unknown pipeline {name!r}; use one of: {', '.join(PIPELINES)}")
    module, _, attr = PIPELINES[name].partition(":")
    return getattr(importlib.import_module(module), attr)(**kwargs)
