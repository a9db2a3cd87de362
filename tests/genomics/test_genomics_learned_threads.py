"""The learned caller's model runs with a stated number of OpenMP threads; results do not depend on it."""

from __future__ import annotations

import os

import numpy as np
from threadpoolctl import threadpool_info

from labstream.genomics.learned_features import FEATURES
from labstream.genomics.learned_model import VariantModel, _limited, cpu_threads, output_digest


def _tiny(seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(200, len(FEATURES)))  # small: 2 spin-waiting threads on a loaded machine are slow
    y = np.digitize(x[:, 0] + 0.5 * x[:, 1] + rng.normal(scale=0.5, size=200), [-0.5, 0.5])  # classes 0, 1, 2
    return x, y


def test_threads_default_is_the_usable_cpus_never_more() -> None:
    usable = len(os.sched_getaffinity(0))
    assert cpu_threads() == usable
    assert cpu_threads(10_000) == usable
    assert cpu_threads(1) == 1
    import sklearn.ensemble  # noqa: F401  # loads the OpenMP runtime that threadpoolctl limits

    with _limited(1):
        omp = [p for p in threadpool_info() if p["user_api"] == "openmp"]
        assert omp and all(p["num_threads"] == 1 for p in omp)


def test_fit_and_predict_identical_for_1_and_2_threads() -> None:
    x, y = _tiny(7)
    one = VariantModel.fit(x, y, seed=3, max_iter=10, threads=1)
    two = VariantModel.fit(x, y, seed=3, max_iter=10, threads=2)
    assert one.to_bytes() == two.to_bytes()  # the same weights, so the same registry digest
    probe, _ = _tiny(8)
    p11 = one.predict_proba(probe, threads=1)
    assert p11.shape == (200, 3) and len(set(p11.argmax(1))) == 3  # a real model: all three classes predicted
    digests = {output_digest(m.predict_proba(probe, threads=t)) for m in (one, two) for t in (1, 2)}
    assert digests == {output_digest(p11)}
