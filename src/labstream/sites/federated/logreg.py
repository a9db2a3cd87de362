"""A binary logistic-regression classifier in numpy: the model each site trains on its own rows.

Pure functions over a parameter list [w, b, mu, sigma]; `mu`/`sigma` standardise the features and are
computed federatedly (a weighted average of each site's mean and mean square), so no site's rows, and
no site's own statistics alone, are needed to standardise everyone's.
"""

from __future__ import annotations

import numpy as np

__all__ = [
    "accuracy",
    "decision",
    "epsilon_for",
    "fit_pooled",
    "initial",
    "local_moments",
    "local_moments_dp",
    "local_train",
    "local_train_dp",
    "predict",
    "sigma_from",
]


def initial(d: int) -> list[np.ndarray]:
    return [np.zeros(d), np.zeros(1), np.zeros(d), np.ones(d)]


def local_moments(x: np.ndarray) -> list[np.ndarray]:
    """[mean, mean of squares] of one site's features (averaged over sites by example count)."""
    return [x.mean(axis=0), (x * x).mean(axis=0)]


def local_moments_dp(
    x: np.ndarray, lo: np.ndarray, hi: np.ndarray, *, noise_multiplier: float, rng: np.random.Generator
) -> list[np.ndarray]:
    """`local_moments` as a Gaussian mechanism, with public per-feature bounds (as DP means need:
    diffprivlib, OpenDP): features are clamped to [lo, hi] and scaled to u in [0, 1], so one example's
    vector [u, u^2] has L2 norm at most sqrt(2 d), the sensitivity of their sum; N(0, (z sqrt(2 d))^2)
    is added to the sum, which is then mapped back to the mean and mean square of x."""
    span = np.maximum(hi - lo, 1e-12)
    u = (np.clip(x, lo, hi) - lo) / span
    v = np.hstack([u, u * u])
    noisy = (v.sum(axis=0) + rng.normal(0.0, noise_multiplier * np.sqrt(v.shape[1]), v.shape[1])) / len(x)
    d = x.shape[1]
    mean_u, mean_u2 = noisy[:d], noisy[d:]
    return [lo + span * mean_u, lo * lo + 2 * lo * span * mean_u + span * span * mean_u2]


def sigma_from(mean: np.ndarray, mean_sq: np.ndarray) -> np.ndarray:
    return np.sqrt(np.maximum(mean_sq - mean * mean, 1e-12))


def _z(params: list[np.ndarray], x: np.ndarray) -> np.ndarray:
    w, b, mu, sigma = params
    return ((x - mu) / sigma) @ w + b[0]


def decision(params: list[np.ndarray], x: np.ndarray) -> np.ndarray:
    """The linear score (log-odds of class 1) of each row."""
    return _z(params, x)


def predict(params: list[np.ndarray], x: np.ndarray) -> np.ndarray:
    return (_z(params, x) > 0).astype(np.int64)


def accuracy(params: list[np.ndarray], x: np.ndarray, y: np.ndarray) -> float:
    return float((predict(params, x) == y).mean())


def local_train(
    params: list[np.ndarray], x: np.ndarray, y: np.ndarray, *, epochs: int, lr: float, l2: float = 1e-3
) -> tuple[list[np.ndarray], float]:
    """Full-batch gradient descent from `params` for `epochs` steps; returns new params and the loss."""
    w, b, mu, sigma = (p.copy() for p in params)
    xs = (x - mu) / sigma
    loss = 0.0
    for _ in range(epochs):
        p = 1.0 / (1.0 + np.exp(-(xs @ w + b[0])))
        grad = p - y
        w -= lr * (xs.T @ grad / len(y) + l2 * w)
        b -= lr * np.array([grad.mean()])
        eps = 1e-12
        loss = float(-(y * np.log(p + eps) + (1 - y) * np.log(1 - p + eps)).mean())
    return [w, b, mu, sigma], loss


def fit_pooled(x: np.ndarray, y: np.ndarray, *, epochs: int, lr: float) -> list[np.ndarray]:
    """The baseline: the same model trained on all rows in one place (what federation must approach)."""
    mu, sq = local_moments(x)
    params = [np.zeros(x.shape[1]), np.zeros(1), mu, sigma_from(mu, sq)]
    return local_train(params, x, y, epochs=epochs, lr=lr)[0]


def local_train_dp(
    params: list[np.ndarray],
    x: np.ndarray,
    y: np.ndarray,
    *,
    epochs: int,
    lr: float,
    clip: float,
    noise_multiplier: float,
    rng: np.random.Generator,
    l2: float = 1e-3,
) -> list[np.ndarray]:
    """Differentially private local training: each full-batch step clips every example's gradient to
    L2 norm `clip` and adds N(0, (noise_multiplier * clip)^2) to their sum, so one example changes a
    step's released sum by at most `clip` (a Gaussian mechanism; see `epsilon_for`)."""
    w, b, mu, sigma = (p.copy() for p in params)
    xs = np.hstack([(x - mu) / sigma, np.ones((len(y), 1))])
    for _ in range(epochs):
        p = 1.0 / (1.0 + np.exp(-(xs[:, :-1] @ w + b[0])))
        g = (p - y)[:, None] * xs  # per-example gradients, bias last
        norms = np.maximum(np.linalg.norm(g, axis=1) / clip, 1.0)
        total = (g / norms[:, None]).sum(axis=0) + rng.normal(0.0, noise_multiplier * clip, g.shape[1])
        step = total / len(y)
        w -= lr * (step[:-1] + l2 * w)
        b -= lr * step[-1:]
    return [w, b, mu, sigma]


def epsilon_for(
    steps: int, noise_multiplier: float, delta: float, *, moments_noise: float | None = None
) -> float:
    """(epsilon, delta)-DP of `steps` Gaussian-mechanism steps at `noise_multiplier` (sensitivity 1 in
    units of the clip), plus, with `moments_noise`, the one release of `local_moments_dp`: each is
    1/(2 z^2)-zCDP, zCDP composes by addition, and rho-zCDP implies (rho + 2 sqrt(rho ln(1/delta)),
    delta)-DP (Bun & Steinke 2016, Prop. 1.3). Full-batch steps, so no subsampling amplification is
    claimed; FedAvg's averaging and the server's use of the moments are post-processing."""
    if noise_multiplier <= 0 or (moments_noise is not None and moments_noise <= 0):
        return float("inf")
    rho = steps / (2.0 * noise_multiplier**2)
    if moments_noise is not None:
        rho += 1.0 / (2.0 * moments_noise**2)
    return float(rho + 2.0 * np.sqrt(rho * np.log(1.0 / delta)))
