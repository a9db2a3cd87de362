"""Flavors: how to load a version's weights and run its test input. One registry entry per model format
(`FLAVORS`), so `verify`, `rescore` and a pinned run load every registered model the same way.

A flavor's test input is an `.npy` array (no pickles in test inputs) and its test output digest is the
sha256 of the output array as little-endian float64 (genomics/learned_model.py: `output_digest`).

    labstream.variant-gbm/1       the learned variant caller (genomics/learned_model.py)
    labstream.federated-logreg/1  the federated logistic regression of labstream.sites: one float64
                                  vector [w (d), b, mu (d), sigma (d)]; output P(class 1) of each row
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from typing import Any

import numpy as np

from labstream.core.errors import InputError
from labstream.models.base import ModelRegistry, ModelVersion

VARIANT_GBM = "labstream.variant-gbm/1"
FEDERATED_LOGREG = "labstream.federated-logreg/1"


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


class _VariantGbm:
    @staticmethod
    def load(weights: bytes, sha256: str, source: str) -> Any:
        from labstream.genomics.learned_model import VariantModel

        return VariantModel.from_bytes(weights, sha256, source=source)

    @staticmethod
    def output(model: Any, x: np.ndarray) -> np.ndarray:
        return np.asarray(model.predict_proba(x))


class _LogisticRegression:
    """Standardise with the federation's pooled moments, then the logistic function of the score."""

    @staticmethod
    def load(weights: bytes, sha256: str, source: str) -> Any:
        try:
            vector = array_from_bytes(weights)
        except ValueError as err:
            raise InputError(
                source,
                f"weights are not an .npy array ({err})",
                hint="register the model.npy that sites.federated.model_files writes",
            ) from None
        if vector.ndim != 1 or len(vector) < 4 or (len(vector) - 1) % 3:
            raise InputError(
                source,
                f"weights of shape {vector.shape} are not [w, b, mu, sigma]",
                hint="register the model.npy that sites.federated.model_files writes",
            )
        d = (len(vector) - 1) // 3
        return vector[:d], float(vector[d]), vector[d + 1 : 2 * d + 1], vector[2 * d + 1 :]

    @staticmethod
    def output(model: Any, x: np.ndarray) -> np.ndarray:
        w, b, mu, sigma = model
        return 1.0 / (1.0 + np.exp(-(((x - mu) / sigma) @ w + b)))


FLAVORS: dict[str, Any] = {VARIANT_GBM: _VariantGbm, FEDERATED_LOGREG: _LogisticRegression}


def _flavor(mv: ModelVersion) -> Any:
    if mv.flavor not in FLAVORS:
        raise InputError(
            mv.tag, f"unknown model flavor {mv.flavor!r}", hint=f"this labstream runs {', '.join(FLAVORS)}"
        )
    return FLAVORS[mv.flavor]


def load(registry: ModelRegistry, mv: ModelVersion) -> LoadedModel:
    return LoadedModel(mv, _flavor(mv).load(registry.weights(mv), mv.sha256, mv.tag))


def run_test(loaded: LoadedModel, test_input: bytes) -> str:
    """The digest of the model's output on its test input."""
    from labstream.genomics.learned_model import output_digest

    return output_digest(_flavor(loaded.version).output(loaded.model, array_from_bytes(test_input)))


__all__ = [
    "FEDERATED_LOGREG",
    "FLAVORS",
    "VARIANT_GBM",
    "LoadedModel",
    "array_bytes",
    "array_from_bytes",
    "load",
    "run_test",
]
