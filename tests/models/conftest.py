"""Small real models for registry tests: fitted gradient-boosted trees on generated features (fast)."""

from __future__ import annotations

import functools
from typing import Any

import numpy as np
import pytest

from labstream.genomics.learned_features import FEATURES
from labstream.genomics.learned_model import FORMAT, VariantModel, output_digest
from labstream.models.flavors import array_bytes


@functools.lru_cache(maxsize=8)  # fitted once per session per seed: the tests never change a model
def fit_small(seed: int) -> tuple[VariantModel, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(300, len(FEATURES)))
    y = (x[:, 0] > 0).astype(int) + (x[:, 1] > 1).astype(int)
    return VariantModel.fit(x, y, seed=seed, max_iter=5), x[:20]


def register_small(reg: Any, name: str, seed: int, metrics: dict[str, dict[str, float]]) -> Any:
    model, test = fit_small(seed)
    return reg.register(
        name,
        model.to_bytes(),
        flavor=FORMAT,
        code_version="tests",
        training_data=[{"generator": "normal", "seed": seed}],
        params={"seed": seed},
        metrics=metrics,
        test_input=array_bytes(test),
        test_output_sha256=output_digest(model.predict_proba(test)),
    )


@pytest.fixture
def add_version():  # type: ignore[no-untyped-def]
    """`add_version(registry, name, seed, metrics)`: fit a small model and register it."""
    return register_small


@pytest.fixture
def registry(model_registry_url):  # type: ignore[no-untyped-def]
    from labstream.models import open_registry

    return open_registry(model_registry_url)
