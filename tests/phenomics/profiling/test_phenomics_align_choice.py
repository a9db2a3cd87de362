"""The alignment is chosen on controls only: a plate effect that is not a per-channel gain favours TVN,
no batch effect at all does not make the choice depend on treatment labels."""

from __future__ import annotations

import numpy as np
import pandas as pd

from labstream.phenomics.profiling import choose_alignment


def _screen(rng: np.random.Generator, mix: float) -> tuple[pd.DataFrame, list[str]]:
    """3 plates; controls and a positive control; plates differ by a random rotation-like mixing."""
    d, rows, feats = 12, [], [f"f{i}" for i in range(12)]
    shift = np.zeros(d)
    shift[:3] = 3.0
    for p in range(3):
        mixing = np.eye(d) + mix * rng.normal(size=(d, d))
        offset = mix * 4 * rng.normal(size=d)
        for w in range(12):
            role = "negative_control" if w < 8 else ("positive_control" if w < 10 else "treatment")
            x = rng.normal(size=d) + (shift if role == "positive_control" else 0) + offset * (w % 2)
            rows.append(
                {
                    "Metadata_Plate": f"P{p}",
                    "Metadata_Well": f"W{w}",
                    "Metadata_Role": role,
                    "Metadata_Perturbation": role if role != "treatment" else f"T{w}",
                    **dict(zip(feats, mixing @ x, strict=True)),
                }
            )
    return pd.DataFrame(rows), feats


def test_choice_reads_controls_only_and_reports_scores() -> None:
    df, feats = _screen(np.random.default_rng(0), mix=0.0)
    aligned, choice = choose_alignment(df, feats)
    assert choice.method in choice.scores and set(choice.scores) == {"tvn", "control_centering"}
    assert all(np.isfinite(s["score"]) for s in choice.scores.values())
    # relabelling treatments (the biology under study) cannot change the choice
    shuffled = df.copy()
    t = shuffled.Metadata_Role == "treatment"
    shuffled.loc[t, "Metadata_Perturbation"] = (
        shuffled.loc[t, "Metadata_Perturbation"].sample(frac=1, random_state=1).to_numpy()
    )
    assert choose_alignment(shuffled, feats)[1].scores == choice.scores
    assert len(aligned) == len(df)


def test_single_plate_or_no_positive_control_keeps_tvn() -> None:
    df, feats = _screen(np.random.default_rng(1), mix=0.3)
    one = df[df.Metadata_Plate == "P0"].reset_index(drop=True)
    assert choose_alignment(one, feats)[1].method == "tvn"
    nopos = df[df.Metadata_Role != "positive_control"].reset_index(drop=True)
    assert choose_alignment(nopos, feats)[1].method == "tvn"
