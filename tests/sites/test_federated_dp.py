"""Differential privacy of the sites' local training: clipping + Gaussian noise is the plain gradient
step when switched off, the noise is really applied, the (epsilon, delta) accountant agrees with a
numeric Renyi-DP conversion, and FedAvg over three non-IID sites at epsilon ~5 stays useful."""

from __future__ import annotations

import numpy as np
import pytest
from fl_bounds import public_bounds
from sklearn.datasets import load_breast_cancer
from sklearn.model_selection import train_test_split

from labstream.sites.federated import logreg


def _split(seed: int):  # type: ignore[no-untyped-def]
    x, y = load_breast_cancer(return_X_y=True)
    xtr, xte, ytr, yte = train_test_split(x, y, test_size=0.3, random_state=seed, stratify=y)
    return xtr, xte, ytr, yte, np.array_split(np.argsort(xtr[:, 0]), 3)


def test_without_noise_and_clipping_dp_training_is_the_plain_step() -> None:
    xtr, _, ytr, _, _ = _split(0)
    mu, sq = logreg.local_moments(xtr)
    start = [np.zeros(30), np.zeros(1), mu, logreg.sigma_from(mu, sq)]
    plain, _ = logreg.local_train(start, xtr, ytr, epochs=10, lr=0.5)
    rng = np.random.default_rng(0)
    dp = logreg.local_train_dp(start, xtr, ytr, epochs=10, lr=0.5, clip=1e9, noise_multiplier=0.0, rng=rng)
    for a, b in zip(plain, dp, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-12)
    one = logreg.local_train_dp(start, xtr, ytr, epochs=10, lr=0.5, clip=1.0, noise_multiplier=4.0, rng=rng)
    two = logreg.local_train_dp(start, xtr, ytr, epochs=10, lr=0.5, clip=1.0, noise_multiplier=4.0, rng=rng)
    assert not np.allclose(one[0], two[0])  # the noise is there


@pytest.mark.parametrize(("steps", "z", "delta"), [(60, 8.0, 1e-5), (10, 1.0, 1e-6), (500, 20.0, 1e-5)])
def test_epsilon_matches_a_numeric_renyi_conversion(steps: int, z: float, delta: float) -> None:
    # RDP of the Gaussian mechanism: alpha / (2 z^2) per step; eps = min_alpha RDP + ln(1/delta)/(alpha-1)
    alphas = np.linspace(1.0001, 2000, 2_000_000)
    numeric = float(np.min(steps * alphas / (2 * z * z) + np.log(1 / delta) / (alphas - 1)))
    assert logreg.epsilon_for(steps, z, delta) == pytest.approx(numeric, rel=1e-4)
    assert logreg.epsilon_for(steps, 2 * z, delta) < logreg.epsilon_for(steps, z, delta)
    assert logreg.epsilon_for(steps, 0.0, delta) == float("inf")


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_fedavg_with_dp_at_epsilon_six_stays_near_the_pooled_model(seed: int) -> None:
    """Everything a site sends is noised: its moments (public bounds, z = 2) and its training (z = 8)."""
    xtr, xte, ytr, yte, parts = _split(seed)
    lo, hi = public_bounds()
    rng = np.random.default_rng(seed)
    n = [len(p) for p in parts]
    moments = [logreg.local_moments_dp(xtr[p], lo, hi, noise_multiplier=2.0, rng=rng) for p in parts]
    mean = sum(k * m[0] for k, m in zip(n, moments, strict=True)) / sum(n)
    mean_sq = sum(k * m[1] for k, m in zip(n, moments, strict=True)) / sum(n)
    sigma = np.maximum(logreg.sigma_from(mean, mean_sq), (hi - lo) / 10)  # as the ServerApp floors it
    params = [np.zeros(30), np.zeros(1), mean, sigma]
    for _ in range(2):
        outs = [
            logreg.local_train_dp(
                params, xtr[p], ytr[p], epochs=30, lr=0.5, clip=1.0, noise_multiplier=8.0, rng=rng
            )
            for p in parts
        ]
        params = [sum(k * o[i] for k, o in zip(n, outs, strict=True)) / sum(n) for i in range(4)]
    pooled = logreg.accuracy(logreg.fit_pooled(xtr, ytr, epochs=300, lr=0.5), xte, yte)
    assert logreg.epsilon_for(60, 8.0, 1e-5, moments_noise=2.0) < 6.0
    acc = logreg.accuracy(params, xte, yte)
    # the price of noising the moments too (z = 2 on ~130 rows a site): 1-6 points here, not 1-2
    assert acc >= pooled - 0.08, (acc, pooled)


def test_dp_moments_are_the_plain_moments_without_noise_and_noised_by_the_stated_scale() -> None:
    xtr, _, _, _, _ = _split(0)
    lo, hi = public_bounds()
    assert np.all(xtr >= lo - 1e-9) and np.all(xtr <= hi + 1e-9)  # the documented bounds hold
    rng = np.random.default_rng(3)
    exact = logreg.local_moments(xtr)
    for a, b in zip(exact, logreg.local_moments_dp(xtr, lo, hi, noise_multiplier=0.0, rng=rng), strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-9)
    # the noise on the released sum of u = (x - lo) / (hi - lo) has sd z * sqrt(2 d)
    z, n = 2.0, len(xtr)
    draws = np.array(
        [
            (logreg.local_moments_dp(xtr, lo, hi, noise_multiplier=z, rng=rng)[0] - exact[0])
            for _ in range(400)
        ]
    )
    sd_sum_u = (draws / (hi - lo) * n).std(axis=0)
    np.testing.assert_allclose(sd_sum_u, z * np.sqrt(60), rtol=0.15)


def test_epsilon_with_the_moments_release_composes_both() -> None:
    steps, z, zm, delta = 60, 8.0, 2.0, 1e-5
    alphas = np.linspace(1.0001, 2000, 2_000_000)
    rdp = alphas * (steps / (2 * z * z) + 1 / (2 * zm * zm))
    numeric = float(np.min(rdp + np.log(1 / delta) / (alphas - 1)))
    both = logreg.epsilon_for(steps, z, delta, moments_noise=zm)
    assert both == pytest.approx(numeric, rel=1e-4)
    assert both > logreg.epsilon_for(steps, z, delta)
