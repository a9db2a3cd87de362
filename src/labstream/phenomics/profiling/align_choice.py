"""Choose the batch alignment from the controls alone, never from the biology being measured.

TVN helps when plates differ by more than a gain per channel; when plate effects are purely
multiplicative, robust z against each plate's controls already removes them and TVN's sphering only
adds the noise of a covariance fitted on a few control wells. Which case a screen is in is decided
on its controls, with two numbers computed for every candidate alignment:

- signal: mean average precision of the positive-control wells against the negative controls (how
  well a known active stays retrievable), as `map.average_precision` defines it;
- batch: among negative-control wells, mean average precision of retrieving wells of the same plate
  minus the chance level (how much plate identity is left where there should be none).

score = signal - batch; the highest score wins, TVN on ties or when the screen has no positive
controls or a single plate. Treatment labels, relationships and truth files are never read here.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from labstream.phenomics.profiling.align import tvn
from labstream.phenomics.profiling.map import _ap, average_precision
from labstream.phenomics.profiling.profiles import cosine_matrix, feature_names

NEG, POS = "negative_control", "positive_control"


@dataclass
class AlignmentChoice:
    method: str  # "tvn" | "control_centering"
    scores: dict[str, dict[str, float]] = field(default_factory=dict)


def control_centering(df: pd.DataFrame, features: list[str]) -> pd.DataFrame:
    """Selected features with each plate's negative-control mean subtracted (no sphering)."""
    meta = [c for c in df.columns if c.startswith("Metadata_")]
    x = np.nan_to_num(df[features].to_numpy(np.float64))
    ctrl = (df["Metadata_Role"] == NEG).to_numpy()
    plates = df["Metadata_Plate"].to_numpy()
    for p in np.unique(plates):
        m = plates == p
        if (m & ctrl).any():
            x[m] -= x[m & ctrl].mean(axis=0)
    return pd.concat([df[meta].reset_index(drop=True), pd.DataFrame(x, columns=features)], axis=1)


def _plate_batch(aligned: pd.DataFrame) -> float:
    ctrl = aligned[aligned.Metadata_Role == NEG]
    if ctrl.Metadata_Plate.nunique() < 2:
        return 0.0
    sim = cosine_matrix(ctrl[feature_names(ctrl)].to_numpy())
    plates = ctrl.Metadata_Plate.to_numpy()
    gain = []
    for i in range(len(ctrl)):
        others = np.flatnonzero(np.arange(len(ctrl)) != i)
        rel = (plates[others] == plates[i]).astype(float)
        if rel.sum() == 0:
            continue
        order = np.argsort(-sim[i, others], kind="stable")
        gain.append(_ap(rel[order]) - rel.mean())
    return float(np.mean(gain)) if gain else 0.0


def _signal(aligned: pd.DataFrame) -> float:
    sub = aligned[aligned.Metadata_Role.isin([NEG, POS])].reset_index(drop=True)
    ap = average_precision(sub)
    ap = ap[ap.n_pos_pairs > 0]
    return float(ap.average_precision.mean()) if len(ap) else float("nan")


def choose_alignment(df: pd.DataFrame, features: list[str]) -> tuple[pd.DataFrame, AlignmentChoice]:
    """The aligned profiles of the candidate whose controls score best (see the module docstring)."""
    candidates = {"tvn": tvn(df, features)}
    roles = set(df.Metadata_Role) if "Metadata_Role" in df else set()
    if POS not in roles or NEG not in roles or df.Metadata_Plate.nunique() < 2:
        return candidates["tvn"], AlignmentChoice("tvn")
    candidates["control_centering"] = control_centering(df, features)
    scores: dict[str, dict[str, float]] = {}
    for name, aligned in candidates.items():
        sig, batch = _signal(aligned), _plate_batch(aligned)
        scores[name] = {"signal": sig, "batch": batch, "score": sig - batch}
    best = "tvn"
    for name, s in scores.items():
        if np.isfinite(s["score"]) and s["score"] > scores[best]["score"] + 1e-9:
            best = name
    return candidates[best], AlignmentChoice(best, scores)
