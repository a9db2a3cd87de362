"""Map metrics: phenotypic activity (mAP against controls) and known-relationship recall.

Activity follows copairs: for each replicate profile of a treatment, rank its other replicates
(positives) and the negative controls (negatives) by cosine similarity; AP is the mean precision at
the rank of each positive; a perturbation's activity is the mean AP of its replicates, with a p-value
against APs of random rankings of the same size (copairs' null) and Benjamini-Hochberg correction.

Recall follows EFAAR benchmarks: the fraction of known related pairs (present in the map) whose
cosine similarity falls in the top or bottom `tail` of all pairwise similarities (chance: 2 * tail).

Both carry 95% confidence intervals that stay in [0, 1] by construction: a perturbation's mAP by the
percentile bootstrap of its replicates' APs (each AP is in [0, 1], so is every resampled mean), the
recall by the Wilson score interval of n_recalled of n_pairs (never the normal approximation, which
leaves [0, 1] near 0 and 1 and at a handful of pairs).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from labstream.phenomics.profiling.profiles import cosine_matrix, feature_names

CONTROL = "negative_control"


def _ap(rel: np.ndarray) -> float:
    """Average precision of a 0/1 relevance list already sorted by decreasing similarity."""
    hits = np.flatnonzero(rel)
    if hits.size == 0:
        return float("nan")
    return float((np.arange(1, hits.size + 1) / (hits + 1)).mean())


def average_precision(
    profiles: pd.DataFrame, by: str = "Metadata_Perturbation", role: str = "Metadata_Role"
) -> pd.DataFrame:
    """AP per treatment replicate: positives = same perturbation, negatives = negative controls."""
    feats = feature_names(profiles)
    sim = cosine_matrix(profiles[feats].to_numpy())
    groups = profiles[by].to_numpy()
    is_ctrl = (profiles[role] == CONTROL).to_numpy()
    ctrl_ix = np.flatnonzero(is_ctrl)
    rows = []
    for i in np.flatnonzero(~is_ctrl):
        pos = np.flatnonzero((groups == groups[i]) & ~is_ctrl)
        pos = pos[pos != i]
        cand = np.concatenate([pos, ctrl_ix])
        rel = np.concatenate([np.ones(pos.size), np.zeros(ctrl_ix.size)])
        order = np.argsort(-sim[i, cand], kind="stable")
        rows.append(
            {
                "index": i,
                by: groups[i],
                "average_precision": _ap(rel[order]),
                "n_pos_pairs": int(pos.size),
                "n_total_pairs": int(cand.size),
            }
        )
    return pd.DataFrame(rows)


def _random_ap(n_pos: int, total: int, size: int, rng: np.random.Generator) -> np.ndarray:
    keys = rng.random((size, total))
    rel = np.argsort(keys, axis=1) < n_pos  # exactly n_pos ones in random places
    ranks = np.cumsum(rel, axis=1)
    prec = np.where(rel, ranks / np.arange(1, total + 1), 0.0)
    return prec.sum(axis=1) / max(n_pos, 1)


def bh_fdr(p: np.ndarray) -> np.ndarray:
    p = np.asarray(p, np.float64)
    n = p.size
    if n == 0:
        return p
    order = np.argsort(p)
    q = p[order] * n / np.arange(1, n + 1)
    q = np.minimum.accumulate(q[::-1])[::-1]
    out = np.empty(n)
    out[order] = np.minimum(q, 1.0)
    return out


def bootstrap_ci(
    values: np.ndarray, rng: np.random.Generator, level: float = 0.95, size: int = 1000
) -> tuple[float, float]:
    """Percentile-bootstrap interval of the mean of `values` (inside their range: for APs, [0, 1])."""
    v = np.asarray(values, np.float64)
    if v.size == 0:
        return float("nan"), float("nan")
    means = v[rng.integers(0, v.size, size=(size, v.size))].mean(axis=1)
    lo, hi = np.quantile(means, [(1 - level) / 2, (1 + level) / 2])
    return float(max(lo, v.min())), float(min(hi, v.max()))


def wilson_ci(k: int, n: int, level: float = 0.95) -> tuple[float, float]:
    """Wilson score interval of a proportion k / n (within [0, 1] for every k and n)."""
    if n <= 0:
        return float("nan"), float("nan")
    from scipy.stats import norm

    z = float(norm.ppf((1 + level) / 2))
    p = k / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * np.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return float(min(max(0.0, centre - half), p)), float(max(min(1.0, centre + half), p))  # rounding


def phenotypic_activity(
    profiles: pd.DataFrame,
    by: str = "Metadata_Perturbation",
    null_size: int = 2000,
    seed: int = 0,
    threshold: float = 0.05,
) -> pd.DataFrame:
    """Mean AP per perturbation with its 95% bootstrap interval (`map_ci_low`, `map_ci_high`),
    permutation p-values and BH-corrected p-values."""
    ap = average_precision(profiles, by)
    ap = ap[(ap.n_pos_pairs > 0) & ap.average_precision.notna()]
    rng = np.random.default_rng(seed)
    ci_rng = np.random.default_rng([seed, 1])  # its own stream: the p-values stay as they were
    nulls: dict[tuple[int, int], np.ndarray] = {}
    rows = []
    for name, g in ap.groupby(by, sort=True):
        nd = []
        for conf in zip(g.n_pos_pairs, g.n_total_pairs, strict=True):
            if conf not in nulls:
                nulls[conf] = _random_ap(conf[0], conf[1], null_size, rng)
            nd.append(nulls[conf])
        null = np.mean(nd, axis=0)
        m = float(g.average_precision.mean())
        p = (float((null > m).sum()) + 1) / (null_size + 1)
        lo, hi = bootstrap_ci(g.average_precision.to_numpy(), ci_rng)
        rows.append(
            {by: name, "mean_average_precision": m, "map_ci_low": lo, "map_ci_high": hi, "p_value": p}
        )
    cols = [by, "mean_average_precision", "map_ci_low", "map_ci_high", "p_value"]
    out = pd.DataFrame(rows, columns=cols)
    out["corrected_p_value"] = bh_fdr(out.p_value.to_numpy())
    out["below_corrected_p"] = out.corrected_p_value < threshold
    return out


ACTIVITY_SUMMARY = [
    "Metadata_Perturbation",
    "mean_average_precision",
    "map_ci_low",
    "map_ci_high",
    "corrected_p_value",
]


def activity_records(activity: pd.DataFrame) -> list[dict[str, object]]:
    """The activity table as the chain's metrics.json lists it (mAP with its interval, corrected p)."""
    return activity.reindex(columns=ACTIVITY_SUMMARY).to_dict(orient="records")  # type: ignore[return-value]


@dataclass
class RecallResult:
    recall: float
    n_pairs: int
    n_recalled: int
    low: float  # the similarity below which a pair is in the bottom tail (a cosine, not a CI)
    high: float  # the similarity above which a pair is in the top tail
    chance: float
    ci_low: float = float("nan")  # 95% Wilson interval of the recall
    ci_high: float = float("nan")


def known_relationship_recall(
    profiles: pd.DataFrame, relationships: pd.DataFrame, tail: float = 0.05, by: str = "Metadata_Perturbation"
) -> RecallResult:
    """EFAAR-style recall of known pairs among the extreme `tail` of all pairwise cosine similarities."""
    names = profiles[by].astype(str).tolist()
    sim = cosine_matrix(profiles[feature_names(profiles)].to_numpy())
    iu = np.triu_indices(len(names), k=1)
    allsim = sim[iu]
    if allsim.size == 0:
        return RecallResult(float("nan"), 0, 0, float("nan"), float("nan"), 2 * tail)
    low, high = np.quantile(allsim, [tail, 1 - tail])
    pos = {n: i for i, n in enumerate(names)}
    pairs = {
        tuple(sorted((str(a), str(b))))
        for a, b in zip(relationships.gene_a, relationships.gene_b, strict=True)
        if a in pos and b in pos and a != b
    }
    recalled = sum(1 for a, b in pairs if sim[pos[a], pos[b]] >= high or sim[pos[a], pos[b]] <= low)
    n = len(pairs)
    ci = wilson_ci(recalled, n)
    return RecallResult(
        recalled / n if n else float("nan"), n, recalled, float(low), float(high), 2 * tail, *ci
    )
