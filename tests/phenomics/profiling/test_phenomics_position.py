"""Well-position correction (profiling/position.py): edge and gradient effects shared by the plates
of a screen are fitted with the design and removed; the map space built on it."""

from __future__ import annotations

import numpy as np
import pandas as pd

from labstream.phenomics.model import well_name
from labstream.phenomics.profiling.position import map_space, position_correction, position_effects


def _plates(seed: int, plates: int = 4, feats: int = 12) -> tuple[pd.DataFrame, np.ndarray]:
    """Random layouts of 30 perturbations + 6 controls on 6x6 wells; an edge shift on row A and
    column 1 and a gradient down the rows, the same on every plate; returns wells and true effects."""
    rng = np.random.default_rng(seed)
    names = [f"G{i}" for i in range(30)] + ["NEG"] * 6
    effects = {n: rng.normal(0, 1, feats) for n in names if n != "NEG"} | {"NEG": np.zeros(feats)}
    edge, grad = rng.normal(0, 1.5, feats), rng.normal(0, 1.0, feats)
    rows, truth = [], []
    for p in range(plates):
        plate_shift = rng.normal(0, 1, feats)
        for w, i in enumerate(rng.permutation(len(names))):
            r, c = divmod(w, 6)
            pos = edge * (r == 0 or c == 0) + grad * (r / 5 - 0.5)
            x = effects[names[i]] + plate_shift + pos + rng.normal(0, 0.3, feats)
            rows.append(
                {
                    "Metadata_Plate": f"P{p}",
                    "Metadata_Well": well_name(r, c),
                    "Metadata_Perturbation": names[i],
                    "Metadata_Role": "negative_control" if names[i] == "NEG" else "treatment",
                    **{f"F{k}": v for k, v in enumerate(x)},
                }
            )
            truth.append(plate_shift + pos)
    return pd.DataFrame(rows), np.array(truth)


def test_fitted_position_effects_match_the_true_ones_up_to_a_constant() -> None:
    df, truth = _plates(0)
    feats = [c for c in df.columns if c.startswith("F")]
    for use_design, tol in ((True, 0.25), (False, 0.6)):
        fitted = position_effects(df, feats, use_design=use_design)
        err = (fitted - fitted.mean(0)) - (truth - truth.mean(0))
        assert np.sqrt((err**2).mean()) < tol, (use_design, np.sqrt((err**2).mean()))
    # the correction leaves replicates of one perturbation far closer than before
    fixed = position_correction(df, feats)
    spread = lambda d: d.groupby("Metadata_Perturbation")[feats].std().mean().mean()  # noqa: E731
    assert spread(fixed) < 0.5 * spread(df)


def test_map_space_runs_on_control_normalised_wells_and_keeps_every_well() -> None:
    df, _ = _plates(1)
    feats = [c for c in df.columns if c.startswith("F")]
    mapped, selected = map_space(df, feats)
    assert selected == feats and len(mapped) == len(df)
    assert mapped.filter(like="MAP_").notna().all().all()
