"""Models: a registry every result answers to (versions with content-addressed weights, aliases, a
promotion gate, verification) and the training of the learned variant caller.

`base` (contract, `open_registry` by URL scheme, `resolve` a `name@alias` once per run), `mlflow_registry`
(the MLflow backend), `blobs` (content-addressed weights), `flavors` (load and run a model format),
`verify`, `gate` (promote / rollback with recorded decisions), `train` (fit and evaluate beside bcftools).
"""

from __future__ import annotations

from labstream.models.base import Decision, ModelRegistry, ModelVersion, open_registry, parse_ref, resolve
from labstream.models.errors import ModelNotFound, PromotionRefused, RegistryError

__all__ = [
    "Decision",
    "ModelNotFound",
    "ModelRegistry",
    "ModelVersion",
    "PromotionRefused",
    "RegistryError",
    "open_registry",
    "parse_ref",
    "resolve",
]
