"""Robust normalisation per plate against its negative controls (pycytominer's mad_robustize).

x' = (x - median_neg) / (MAD_neg * 1.4826 + 1e-18), with median and MAD of the plate's negative control
wells, exactly as `pycytominer.normalize(method="mad_robustize", samples=...)` computes it.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from labstream.phenomics.features import feature_columns

EPSILON = 1e-18


def mad_robustize(
    df: pd.DataFrame,
    features: list[str] | None = None,
    control_query: str = "Metadata_Role == 'negative_control'",
    by: str | None = "Metadata_Plate",
) -> pd.DataFrame:
    """Robust z-scores of `features`, fitted on the rows matching `control_query` (per `by` group)."""
    features = features or feature_columns(df)
    values = df[features].to_numpy(np.float64)
    result = np.empty_like(values)
    groups = [(None, df)] if by is None else list(df.groupby(by, sort=False))
    for _, part in groups:
        ctrl = part.query(control_query)[features].to_numpy(np.float64)
        if len(ctrl) == 0:
            ctrl = part[features].to_numpy(np.float64)  # no controls on this plate: use all wells
        med = np.nanmedian(ctrl, axis=0)
        mad = np.nanmedian(np.abs(ctrl - med), axis=0) * 1.4826
        rows = df.index.get_indexer(part.index)
        result[rows] = (values[rows] - med) / (mad + EPSILON)
    return pd.concat(
        [df.drop(columns=features), pd.DataFrame(result, columns=features, index=df.index)], axis=1
    )
