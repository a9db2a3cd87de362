"""Feature selection after normalisation: drop NA-heavy, exploded and invariant features.

Mirrors pycytominer's `drop_na_columns`, `drop_outliers`, `variance_threshold` (frequency and unique cut) and,
on request only, `correlation_threshold` (drop, from each highly correlated pair, the feature with the
larger mean absolute correlation to all others).

Why the correlation filter is off by default: the chain whitens after selection (PCA + sphering on
controls), which already handles correlated features, and correlated measurements of one phenotype
are what averages its noise down there. Dropping them first lost recall: over 11 simulator seeds
(bench/phenomics_map.py, 3 plates x 2 sites) known-relationship recall fell from 0.905 to 0.867 with
the filter at 0.9 (mean mAP 0.988 vs 0.968; measured with the earlier map, the median of the aligned
wells). Use it for compact, interpretable profiles.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from labstream.phenomics.features import feature_columns


def drop_na(df: pd.DataFrame, features: list[str], cutoff: float = 0.05) -> list[str]:
    frac = df[features].isna().mean()
    return [f for f in features if frac[f] <= cutoff]


def drop_outliers(df: pd.DataFrame, features: list[str], cutoff: float = 500.0) -> list[str]:
    """pycytominer's `drop_outliers`: after robust normalisation a feature whose controls did not vary
    (MAD 0, e.g. Euler numbers) explodes to ~1e15 for other wells; such features carry no usable signal."""
    peak = df[features].abs().max()
    return [f for f in features if np.isfinite(peak[f]) and peak[f] <= cutoff]


def variance_threshold(
    df: pd.DataFrame, features: list[str], freq_cut: float = 0.05, unique_cut: float = 0.01
) -> list[str]:
    keep = []
    n = len(df)
    for f in features:
        col = df[f].dropna()
        if col.empty or col.nunique() <= 1:
            continue
        counts = col.value_counts()
        freq_ratio = counts.iloc[1] / counts.iloc[0] if len(counts) > 1 else 0.0
        if freq_ratio < freq_cut and col.nunique() / max(n, 1) < unique_cut:
            continue
        keep.append(f)
    return keep


def correlation_threshold(df: pd.DataFrame, features: list[str], threshold: float = 0.9) -> list[str]:
    if len(features) < 2:
        return features
    corr = np.abs(np.corrcoef(df[features].fillna(0).to_numpy(np.float64), rowvar=False))
    corr = np.nan_to_num(corr)
    np.fill_diagonal(corr, 0)
    dropped: set[int] = set()
    mean_abs = corr.mean(axis=0)
    for i, j in zip(*np.nonzero(np.triu(corr > threshold)), strict=True):
        if i in dropped or j in dropped:
            continue
        dropped.add(int(i) if mean_abs[i] >= mean_abs[j] else int(j))
    return [f for k, f in enumerate(features) if k not in dropped]


def select_features(
    df: pd.DataFrame,
    features: list[str] | None = None,
    *,
    corr_threshold: float | None = None,
    na_cutoff: float = 0.05,
    outlier_cutoff: float = 500.0,
) -> list[str]:
    """Names of the features kept by NA, outlier and variance filters (and the correlation filter
    when `corr_threshold` is given), in order."""
    feats = features or feature_columns(df)
    feats = drop_na(df, feats, na_cutoff)
    feats = drop_outliers(df, feats, outlier_cutoff)
    feats = variance_threshold(df, feats)
    return feats if corr_threshold is None else correlation_threshold(df, feats, corr_threshold)


def select_or_all_finite(df: pd.DataFrame, features: list[str]) -> tuple[list[str], bool]:
    """`select_features`, or (when it keeps fewer than 2, e.g. one control well per plate, where every
    robust z explodes) every finite, varying feature; the flag says the fallback was taken."""
    selected = select_features(df, features)
    if len(selected) >= 2:
        return selected, False
    finite = df[features].replace([np.inf, -np.inf], np.nan)
    return [f for f in features if finite[f].notna().all() and finite[f].std() > 0], True
