"""Every pipeline by name, each declared once as a contract (labstream.runtime.contract).

    names()                                   -> ["filestats", "genomics", "nanopore", "phenomics"]
    get_contract("genomics")                  -> its PipelineContract (settings, layouts, tables, ...)
    build_pipeline("genomics", {"reference": "ref.fa"}, input_topic=...)   -> a runnable Pipeline

`watch`, `demo`, `status`, the dashboard and the WES run executor read this registry; adding a pipeline
is one line here and one contract beside its science. Contracts are imported lazily: science modules
are heavy and a face that needs one pipeline should not load the others.
"""

from __future__ import annotations

import difflib
import importlib
from collections.abc import Mapping
from typing import Any

from labstream.core.errors import ConfigError
from labstream.runtime.contract import PipelineContract
from labstream.runtime.stage import Pipeline

__all__ = ["CONTRACTS", "build_pipeline", "contracts", "get_contract", "names"]

CONTRACTS: dict[str, str] = {
    "filestats": "labstream.pipelines.filestats:CONTRACT",
    "genomics": "labstream.genomics.contract:CONTRACT",
    "nanopore": "labstream.genomics.nanopore_contract:CONTRACT",
    "phenomics": "labstream.phenomics.contract:CONTRACT",
}


def names() -> list[str]:
    return sorted(CONTRACTS)


def get_contract(name: str) -> PipelineContract:
    """The contract registered under `name`; ConfigError with the known names (and a guess) if none."""
    if name not in CONTRACTS:
        guess = difflib.get_close_matches(name, CONTRACTS, n=1)
        hint = f" (did you mean {guess[0]!r}?)" if guess else ""
        raise ConfigError(f"unknown pipeline {name!r}{hint}; use one of: {', '.join(names())}")
    module, _, attr = CONTRACTS[name].partition(":")
    contract = getattr(importlib.import_module(module), attr)
    if not isinstance(contract, PipelineContract) or contract.name != name:
        raise ConfigError(f"{CONTRACTS[name]} is not the contract of pipeline {name!r}; fix the registry")
    return contract


def contracts() -> list[PipelineContract]:
    return [get_contract(n) for n in names()]


def build_pipeline(
    name: str,
    settings: Mapping[str, Any] | None = None,
    *,
    input_topic: str | None = None,
    source: str = "settings",
) -> Pipeline:
    """The named pipeline, its settings validated first (ConfigError naming the setting and `source`)."""
    contract = get_contract(name)
    return contract.pipeline(contract.configure(settings, source=source), input_topic=input_topic)
