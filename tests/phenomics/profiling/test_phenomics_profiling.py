"""Profiling math against the reference tools: pycytominer (normalize) and copairs (mAP)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from labstream.phenomics.profiling import (
    average_precision,
    follow_up_layout,
    known_relationship_recall,
    mad_robustize,
    phenotypic_activity,
    select_features,
    tvn,
)


def _wells(
    seed: int = 0, plates: int = 2, treatments: int = 6, reps: int = 3, ctrls: int = 4, features: int = 12
) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    rows = []
    for p in range(plates):
        offset = rng.normal(0, 2, features)  # plate effect
        for t in range(treatments):
            effect = rng.normal(0, 1.5 if t % 2 else 0, features)
            for r in range(reps):
                rows.append(
                    {
                        "Metadata_Plate": f"P{p}",
                        "Metadata_Well": f"T{t}R{r}",
                        "Metadata_Perturbation": f"G{t}",
                        "Metadata_Role": "treatment",
                        **{
                            f"Cells_F_{i}": v
                            for i, v in enumerate(offset + effect + rng.normal(0, 1, features))
                        },
                    }
                )
        for c in range(ctrls):
            rows.append(
                {
                    "Metadata_Plate": f"P{p}",
                    "Metadata_Well": f"C{c}",
                    "Metadata_Perturbation": "NEG",
                    "Metadata_Role": "negative_control",
                    **{f"Cells_F_{i}": v for i, v in enumerate(offset + rng.normal(0, 1, features))},
                }
            )
    return pd.DataFrame(rows)


def test_mad_robustize_equals_pycytominer_per_plate() -> None:
    from pycytominer import normalize

    df = _wells()
    feats = [c for c in df.columns if c.startswith("Cells_")]
    ours = mad_robustize(df, feats)
    for plate, part in df.groupby("Metadata_Plate"):
        ref = normalize(
            part,
            features=feats,
            meta_features=[c for c in df.columns if c.startswith("Metadata_")],
            samples="Metadata_Role == 'negative_control'",
            method="mad_robustize",
        )
        mine = ours[ours.Metadata_Plate == plate]
        np.testing.assert_allclose(mine[feats].to_numpy(), ref[feats].to_numpy(), rtol=1e-10, atol=1e-10)


def test_average_precision_equals_copairs() -> None:
    from copairs.map import average_precision as copairs_ap

    df = _wells(seed=1, plates=1)
    feats = [c for c in df.columns if c.startswith("Cells_")]
    ours = average_precision(df[[c for c in df.columns if c.startswith("Metadata_")] + feats])
    meta = df[["Metadata_Perturbation", "Metadata_Role"]].copy()
    # controls get unique reference ids, so they pair with treatments (negatives) but not with each other
    meta["Metadata_Ref"] = np.where(meta.Metadata_Role == "negative_control", np.arange(len(meta)), -1)
    ref = copairs_ap(
        meta,
        df[feats].to_numpy(),
        pos_sameby=["Metadata_Perturbation", "Metadata_Ref"],
        pos_diffby=[],
        neg_sameby=[],
        neg_diffby=["Metadata_Perturbation", "Metadata_Ref"],
        progress_bar=False,
    )
    ref = ref[ref.Metadata_Role == "treatment"]
    np.testing.assert_allclose(ours.average_precision.to_numpy(), ref.average_precision.to_numpy(), rtol=1e-5)
    assert (ours.n_pos_pairs.to_numpy() == ref.n_pos_pairs.to_numpy()).all()
    assert (ours.n_total_pairs.to_numpy() == ref.n_total_pairs.to_numpy()).all()


def test_activity_separates_active_from_null_perturbations() -> None:
    df = _wells(seed=2, plates=1, reps=4, ctrls=8)
    df = mad_robustize(df, [c for c in df.columns if c.startswith("Cells_")])
    act = phenotypic_activity(df, null_size=1000)
    active = act[act.Metadata_Perturbation.isin(["G1", "G3", "G5"])]
    inert = act[act.Metadata_Perturbation.isin(["G0", "G2", "G4"])]
    assert active.mean_average_precision.min() > inert.mean_average_precision.max()
    assert active.below_corrected_p.all()
    assert not inert.below_corrected_p.any()


def test_recall_counts_known_pairs_in_the_tails() -> None:
    rng = np.random.default_rng(3)
    base = rng.normal(size=(3, 20))
    names, vecs = [], []
    for c in range(3):
        for g in range(3):
            names.append(f"C{c}G{g}")
            vecs.append(base[c] + rng.normal(0, 0.1, 20))
    for n in range(12):
        names.append(f"N{n}")
        vecs.append(rng.normal(size=20))
    prof = pd.DataFrame(vecs, columns=[f"F{i}" for i in range(20)])
    prof.insert(0, "Metadata_Perturbation", names)
    rel = pd.DataFrame(
        [(f"C{c}G{a}", f"C{c}G{b}") for c in range(3) for a in range(3) for b in range(a + 1, 3)]
        + [("C0G0", "UNSEEN")],
        columns=["gene_a", "gene_b"],
    )
    res = known_relationship_recall(prof, rel)
    assert res.n_pairs == 9  # the pair with an unseen gene is not counted
    assert res.recall == 1.0
    shuffled = rel.assign(gene_b=rel.gene_b.map(lambda g: "N" + str(hash(g) % 12) if g != "UNSEEN" else g))
    assert known_relationship_recall(prof, shuffled).recall < 0.5


def test_tvn_removes_a_plate_batch_effect() -> None:
    df = _wells(seed=4, plates=3)
    feats = [c for c in df.columns if c.startswith("Cells_")]
    aligned = tvn(df, feats)
    ctrl = aligned[aligned.Metadata_Role == "negative_control"]
    comps = [c for c in aligned.columns if c.startswith("TVN_")]
    plate_means = ctrl.groupby("Metadata_Plate")[comps].mean().to_numpy()
    np.testing.assert_allclose(plate_means, 0, atol=1e-9)
    raw_means = df[df.Metadata_Role == "negative_control"].groupby("Metadata_Plate")[feats].mean()
    assert np.abs(raw_means.to_numpy() - raw_means.to_numpy().mean(axis=0)).max() > 1


def test_select_drops_constant_na_and_redundant_features() -> None:
    df = _wells(seed=5, plates=1)
    df["Cells_Const"] = 1.0
    df["Cells_Copy"] = df["Cells_F_0"] * 2 + 1
    df["Cells_Holes"] = np.where(np.arange(len(df)) % 3 == 0, np.nan, 1.0 * np.arange(len(df)))
    kept = select_features(df, corr_threshold=0.9)
    assert "Cells_Const" not in kept and "Cells_Holes" not in kept
    assert ("Cells_Copy" in kept) != ("Cells_F_0" in kept)
    assert "Cells_F_5" in kept
    # by default redundant features stay (the whitening after selection handles correlation)
    default = select_features(df)
    assert {"Cells_Copy", "Cells_F_0", "Cells_F_5"} <= set(default)
    assert "Cells_Const" not in default and "Cells_Holes" not in default


def test_follow_up_layout_places_every_hit_with_controls_off_the_edges() -> None:
    hits = ["A", "B", "C"]
    lay = follow_up_layout(hits, replicates=4, negative_controls=8, positive_controls=4, seed=1)
    assert (lay.perturbation.value_counts()[hits] == 4).all()
    assert (lay.role == "negative_control").sum() == 8
    assert lay.well.is_unique
    assert not lay.well.str.match(r"^(A|H)\d\d$|^\w(01|12)$").any()
    from labstream.core.errors import InputError

    with pytest.raises(InputError, match="usable"):
        follow_up_layout([f"H{i}" for i in range(20)], replicates=4)
