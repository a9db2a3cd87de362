"""Every flavor in the registry's table loads and re-runs its test output: the federated logistic
regression of labstream.sites verifies through the registry's own code, and a tampered or malformed
weights file is named."""

from __future__ import annotations

import hashlib

import numpy as np
import pytest

from labstream.core.errors import InputError
from labstream.models.flavors import FEDERATED_LOGREG, FLAVORS, array_bytes
from labstream.models.verify import verify_all
from labstream.sites.federated import logreg


def _federated_version(registry, rng: np.random.Generator):  # type: ignore[no-untyped-def]
    d = 5
    params = [rng.normal(size=d), rng.normal(size=1), rng.normal(size=d), rng.uniform(0.5, 2, size=d)]
    x = rng.normal(size=(40, d))
    # the expected output from the sites package's own model code, not from the flavor under test
    p = 1.0 / (1.0 + np.exp(-logreg.decision(params, x)))
    return registry.register(
        "fl-logreg",
        array_bytes(np.concatenate(params)),
        flavor=FEDERATED_LOGREG,
        code_version="test",
        training_data=[],
        params={},
        metrics={},
        test_input=array_bytes(x),
        test_output_sha256=hashlib.sha256(np.ascontiguousarray(p, dtype="<f8").tobytes()).hexdigest(),
    )


def test_a_federated_model_verifies_and_tampering_is_named(registry) -> None:  # type: ignore[no-untyped-def]
    assert set(FLAVORS) >= {FEDERATED_LOGREG, "labstream.variant-gbm/1"}
    mv = _federated_version(registry, np.random.default_rng(7))
    [result] = verify_all(registry, "fl-logreg")
    assert result.ok, result.problem
    blob = registry.blobs.path(mv.sha256)
    blob.write_bytes(blob.read_bytes()[:-8] + b"\0" * 8)
    [tampered] = verify_all(registry, "fl-logreg")
    assert not tampered.ok and "sha256" in tampered.problem


def test_weights_of_another_shape_are_refused() -> None:
    with pytest.raises(InputError, match=r"not \[w, b, mu, sigma\]"):
        FLAVORS[FEDERATED_LOGREG].load(array_bytes(np.zeros(6)), "x", "fl/1")
    with pytest.raises(InputError, match="not an .npy"):
        FLAVORS[FEDERATED_LOGREG].load(b"not an npy", "x", "fl/1")
