"""Map metrics: phenotypic activity (mAP against controls) and known-relationship recall.

Activity follows copairs: for each replicate profile of a treatment, rank its other replicates
(positives) and the negative controls (negatives) by cosine similarity; AP is the mean precision at
the rank of each positive; a perturbation's activity is the mean AP of its replicates, with a p-value
against APs of random rankings of the same size (copairs' null) and Benjamini-Hochberg correction.

Recall follows EFAAR benchmarks: the fraction of known related pairs (present in the map) whose
cosine similarity falls in the top or bottom `tail` of all pairwise similarities (chance: 2 * tail).
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


def phenotypic_activity(
    profiles: pd.DataFrame,
    by: str = "Metadata_Perturbation",
    null_size: int = 2000,
    seed: int = 0,
    threshold: float = 0.05,
) -> pd.DataFrame:
    """Mean AP per perturbation with permutation p-values and BH-corrected p-values."""
    ap = average_precision(profiles, by)
    ap = ap[(ap.n_pos_pairs > 0) & ap.average_precision.notna()]
    rng = np.random.default_rng(seed)
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
        rows.append({by: name, "mean_average_precision": m, "p_value": p})
    out = pd.DataFrame(rows, columns=[by, "mean_average_precision", "p_value"])
    out["corrected_p_value"] = bh_fdr(out.p_value.to_numpy())
    out["below_corrected_p"] = out.corrected_p_value < threshold
    return out


@dataclass
class RecallResult:
    recall: float
    n_pairs: int
    n_recalled: int
    low: float
    high: float
    chance: float


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
    return RecallResult(recalled / n if n else float("nan"), n, recalled, float(low), float(high), 2 * tail)
