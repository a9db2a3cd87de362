"""Hit list and a follow-up plate layout: what goes back to the lab on the feedback topic."""

from __future__ import annotations

import numpy as np
import pandas as pd

from labstream.core.errors import InputError
from labstream.phenomics.model import well_name
from labstream.phenomics.profiling.profiles import cosine_matrix, feature_names


def hit_list(
    activity: pd.DataFrame,
    profiles: pd.DataFrame | None = None,
    q: float = 0.05,
    by: str = "Metadata_Perturbation",
    neighbours: int = 3,
) -> pd.DataFrame:
    """Active perturbations (BH-corrected p < q), strongest first, with their nearest neighbours."""
    hits = (
        activity[activity.corrected_p_value < q]
        .sort_values(["mean_average_precision", "corrected_p_value"], ascending=[False, True])
        .reset_index(drop=True)
    )
    if profiles is not None and len(hits):
        treat = profiles[profiles.get("Metadata_Role", "treatment") == "treatment"].reset_index(drop=True)
        names = treat[by].astype(str).tolist()
        sim = cosine_matrix(treat[feature_names(treat)].to_numpy())
        near = []
        for h in hits[by].astype(str):
            if h not in names:
                near.append("")
                continue
            i = names.index(h)
            order = [j for j in np.argsort(-sim[i]) if j != i][:neighbours]
            near.append(";".join(f"{names[j]}:{sim[i, j]:.2f}" for j in order))
        hits["neighbours"] = near
    return hits


def follow_up_layout(
    hits: list[str],
    *,
    replicates: int = 4,
    negative_controls: int = 8,
    positive_controls: int = 4,
    rows: int = 8,
    cols: int = 12,
    avoid_edges: bool = True,
    plate: str = "FOLLOWUP1",
    seed: int = 0,
    positive: str = "POSCTRL",
    negative: str = "NEGCTRL",
) -> pd.DataFrame:
    """Randomised layout of hits x replicates plus controls, skipping edge wells (evaporation)."""
    r0, c0 = (1, 1) if avoid_edges else (0, 0)
    wells = [well_name(r, c) for r in range(r0, rows - r0) for c in range(c0, cols - c0)]
    content = [(h, "treatment") for h in hits for _ in range(replicates)]
    content += [(negative, "negative_control")] * negative_controls
    content += [(positive, "positive_control")] * positive_controls
    if len(content) > len(wells):
        raise InputError(
            "hit list",
            f"{len(content)} wells needed but the plate has {len(wells)} usable",
            hint="lower replicates or split the hits over several plates",
        )
    rng = np.random.default_rng(seed)
    chosen = rng.permutation(len(wells))[: len(content)]
    df = pd.DataFrame(
        {
            "plate": plate,
            "well": [wells[i] for i in chosen],
            "perturbation": [c[0] for c in content],
            "role": [c[1] for c in content],
        }
    )
    return df.sort_values("well").reset_index(drop=True)
