"""Flavors: how to load a version's weights and run its test input. One entry per model format.

A flavor's test input is an `.npy` array (no pickles in test inputs) and its test output digest is the
sha256 of the output array as little-endian float64 (genomics/learned_model.py: `output_digest`).
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from typing import Any

import numpy as np

from labstream.core.errors import InputError
from labstream.models.base import ModelRegistry, ModelVersion

VARIANT_GBM = "labstream.variant-gbm/1"


@dataclass(frozen=True)
class LoadedModel:
    """A pinned version and its model, loaded from weights whose sha256 matched."""

    version: ModelVersion
    model: Any


def array_bytes(x: np.ndarray) -> bytes:
    buf = io.BytesIO()
    np.save(buf, np.ascontiguousarray(x), allow_pickle=False)
    return buf.getvalue()


def array_from_bytes(data: bytes) -> np.ndarray:
    return np.load(io.BytesIO(data), allow_pickle=False)


def load(registry: ModelRegistry, mv: ModelVersion) -> LoadedModel:
    if mv.flavor != VARIANT_GBM:
        raise InputError(
            mv.tag, f"unknown model flavor {mv.flavor!r}", hint=f"this labstream runs {VARIANT_GBM}"
        )
    from labstream.genomics.learned_model import VariantModel

    return LoadedModel(mv, VariantModel.from_bytes(registry.weights(mv), mv.sha256, source=mv.tag))


def run_test(loaded: LoadedModel, test_input: bytes) -> str:
    """The digest of the model's output on its test input."""
    from labstream.genomics.learned_model import output_digest

    return output_digest(loaded.model.predict_proba(array_from_bytes(test_input)))


__all__ = ["VARIANT_GBM", "LoadedModel", "array_bytes", "array_from_bytes", "load", "run_test"]
