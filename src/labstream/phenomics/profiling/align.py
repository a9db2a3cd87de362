"""Batch alignment across plates: typical-variation normalisation (TVN) fitted on controls.

1. PCA on all wells (keeps the directions in which the experiment varies at all),
2. sphering fitted on the negative-control wells in that space, with the control covariance shrunk
   towards a scaled identity (there are usually far fewer control wells than dimensions),
3. each plate's controls re-centred on zero (mean alignment), so plates line up.
Directions in which controls vary a lot (batch, plate, noise) shrink; biology stands out.

`replicate_sphering` builds the space the similarity map lives in: the same PCA, sphered by the
covariance of replicate deviations (each well minus the mean of its perturbation's wells) instead of
the controls alone. A screen has many more replicate degrees of freedom than control wells (3 plates:
~70 vs ~17), so the noise metric is estimated far better. It uses which wells share a perturbation
(the design), never relationships or truth; it is not used for activity, whose null must not have
seen the perturbation's own replicates.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

CONTROLS = "Metadata_Role == 'negative_control'"


@dataclass
class Sphering:
    mean: np.ndarray  # (d,) mean of all wells
    pca: np.ndarray  # (k, d) principal axes
    ctrl_mean: np.ndarray  # (k,)
    whiten: np.ndarray  # (k, k) inverse square root of the shrunk control covariance

    def transform(self, x: np.ndarray) -> np.ndarray:
        return ((x - self.mean) @ self.pca.T - self.ctrl_mean) @ self.whiten


def center_plates(df: pd.DataFrame, z: np.ndarray, ctrl_mask: np.ndarray) -> None:
    """Subtract, in place, each plate's control mean from that plate's rows of `z`."""
    if "Metadata_Plate" not in df:
        return
    plates = df["Metadata_Plate"].to_numpy()
    for p in np.unique(plates):
        m = plates == p
        if (m & ctrl_mask).any():
            z[m] -= z[m & ctrl_mask].mean(axis=0)


def fit_sphering(
    x: np.ndarray,
    ctrl: np.ndarray,
    max_components: int = 64,
    shrink: float | None = None,
    noise: np.ndarray | None = None,
) -> Sphering:
    """PCA on `x`, sphering on `ctrl`; `shrink=None` takes the Ledoit-Wolf shrinkage of the controls.
    With `noise` (zero-mean deviations, e.g. `replicate_deviations`) the covariance is theirs instead."""
    x = np.nan_to_num(x.astype(np.float64))
    mean = x.mean(axis=0)
    _, s, vt = np.linalg.svd(x - mean, full_matrices=False)
    k = int(min(max_components, max(1, (s > s[0] * 1e-6).sum() if s.size else 1)))
    pca = vt[:k]
    yc = (np.nan_to_num(ctrl) - mean) @ pca.T
    cmean = yc.mean(axis=0)
    if noise is not None and len(noise) > 1:
        from sklearn.covariance import ledoit_wolf

        cov = ledoit_wolf(np.nan_to_num(noise) @ pca.T, assume_centered=True)[0]
    elif shrink is None and len(yc) > 1:
        from sklearn.covariance import ledoit_wolf

        cov = ledoit_wolf(yc)[0]
    else:
        cov = np.cov(yc, rowvar=False).reshape(k, k) if len(yc) > 1 else np.eye(k)
        target = np.trace(cov) / k if np.trace(cov) > 0 else 1.0
        w = 0.5 if shrink is None else shrink
        cov = (1 - w) * cov + w * target * np.eye(k)
    vals, vecs = np.linalg.eigh(cov)
    whiten = vecs @ np.diag(1.0 / np.sqrt(np.maximum(vals, 1e-12))) @ vecs.T
    return Sphering(mean, pca, cmean, whiten)


def tvn(
    df: pd.DataFrame,
    features: list[str],
    control_query: str = CONTROLS,
    center_per_plate: bool = True,
    max_components: int = 64,
    fit_on_controls: bool = True,
    shrink: float | None = None,
) -> pd.DataFrame:
    """Aligned profiles: feature columns become `TVN_0..k` (metadata columns kept, same row order).

    The sphering is fitted on the controls (TVN); `fit_on_controls=False` fits it on all wells (plain
    PCA whitening). `shrink` pulls the control covariance towards identity: with few control wells an
    unshrunk in-sample fit makes controls look tighter than any other well (on the simulator, shrink
    0.1 let a null perturbation score active). The default (None) takes the Ledoit-Wolf intensity,
    estimated from the controls themselves: with all ~500 features kept it shrank by ~0.77 and cut
    nulls called active from 0.45 to ~0.2 per screen against a fixed 0.5 (bench/phenomics_map.py)."""
    meta = [c for c in df.columns if c.startswith("Metadata_")]
    x = np.nan_to_num(df[features].to_numpy(np.float64))
    ctrl_mask = df.eval(control_query).to_numpy(bool)
    if ctrl_mask.sum() < 2:
        ctrl_mask = np.ones(len(df), bool)
    fit_rows = x[ctrl_mask] if fit_on_controls else x
    z = fit_sphering(x, fit_rows, max_components, shrink).transform(x)
    if center_per_plate:
        center_plates(df, z, ctrl_mask)
    cols = [f"TVN_{i}" for i in range(z.shape[1])]
    return pd.concat([df[meta].reset_index(drop=True), pd.DataFrame(z, columns=cols)], axis=1)


def replicate_deviations(df: pd.DataFrame, x: np.ndarray, by: str = "Metadata_Perturbation") -> np.ndarray:
    """Rows of `x` minus the mean of their replicate group (groups of one well carry no noise estimate)."""
    groups = df[by].astype(str).to_numpy()
    parts = [x[m] - x[m].mean(axis=0) for g in np.unique(groups) if (m := groups == g).sum() > 1]
    return np.vstack(parts) if parts else np.empty((0, x.shape[1]))


def replicate_sphering(
    df: pd.DataFrame,
    features: list[str],
    control_query: str = CONTROLS,
    max_components: int = 64,
    center_per_plate: bool = True,
) -> pd.DataFrame:
    """Profiles for the similarity map: `MAP_0..k` columns (see the module docstring), each plate's
    negative controls centred on zero (`center_per_plate=False`: all controls together, for profiles
    whose plate effects were already fitted on every well: `position`). Falls back to `tvn` when no
    perturbation has two wells."""
    x = np.nan_to_num(df[features].to_numpy(np.float64))
    dev = replicate_deviations(df, x)
    if len(dev) < 2:
        return tvn(df, features, control_query, max_components=max_components)
    ctrl_mask = df.eval(control_query).to_numpy(bool)
    if not ctrl_mask.any():
        ctrl_mask = np.ones(len(df), bool)
    z = fit_sphering(x, x[ctrl_mask], max_components, noise=dev).transform(x)
    if center_per_plate:
        center_plates(df, z, ctrl_mask)
    meta = [c for c in df.columns if c.startswith("Metadata_")]
    cols = [f"MAP_{i}" for i in range(z.shape[1])]
    return pd.concat([df[meta].reset_index(drop=True), pd.DataFrame(z, columns=cols)], axis=1)
