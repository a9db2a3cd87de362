"""Consensus perturbation profiles: the median (or mean) of a perturbation's aligned well profiles."""

from __future__ import annotations

import numpy as np
import pandas as pd


def feature_names(df: pd.DataFrame) -> list[str]:
    return [c for c in df.columns if not c.startswith("Metadata_")]


def consensus(
    wells: pd.DataFrame,
    by: str = "Metadata_Perturbation",
    operation: str = "median",
    weights: str | None = None,
) -> pd.DataFrame:
    """One row per perturbation: median (pycytominer's default) or mean (EFAAR's default) of its wells,
    its role and how many wells it had. `weights` names a column (e.g. `Metadata_Object_Count`, the
    well's cell count) that weights the mean; on the simulator family's train members it did not change
    recall (bench/phenomics_family.py), so the chain leaves it off."""
    if operation not in ("median", "mean"):
        raise ValueError(f"consensus operation must be median or mean, not {operation!r}")
    if weights is not None and operation != "mean":
        raise ValueError(f"consensus weights ({weights!r}) need operation='mean', not {operation!r}")
    feats = feature_names(wells)
    g = wells.groupby(by, sort=True)
    meta = pd.DataFrame({"Metadata_Well_Count": g.size()})
    if "Metadata_Role" in wells:
        meta.insert(0, "Metadata_Role", g["Metadata_Role"].first())
    # one concat: inserting columns into a wide frame fragments it (pandas PerformanceWarning)
    if weights is not None:
        w = wells[weights].astype(np.float64)
        weighted = wells[feats].astype(np.float64).mul(w, axis=0).groupby(wells[by], sort=True).sum()
        med = weighted.div(w.groupby(wells[by], sort=True).sum(), axis=0)
    else:
        med = g[feats].median() if operation == "median" else g[feats].mean()
    values = pd.DataFrame(med.to_numpy(np.float64), index=med.index, columns=feats)
    return pd.concat([meta, values], axis=1).reset_index()


def cosine_matrix(x: np.ndarray) -> np.ndarray:
    """Pairwise cosine similarity of the rows of x (zero rows give 0)."""
    x = np.nan_to_num(np.asarray(x, np.float64))
    norm = np.linalg.norm(x, axis=1, keepdims=True)
    u = x / np.where(norm > 0, norm, 1.0)
    return u @ u.T
