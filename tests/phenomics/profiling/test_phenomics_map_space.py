"""The similarity map's space: sphering by replicate noise (align.replicate_sphering)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from labstream.phenomics.profiling import consensus, known_relationship_recall
from labstream.phenomics.profiling.align import replicate_deviations, replicate_sphering, tvn


def _screen(
    seed: int, plates: int = 3, complexes: int = 6, nulls: int = 18, ctrls: int = 6
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Wells whose biology lives in 4 features while a few loud noise sources (cell count, focus, ...)
    move all 44 features together, as in Cell Painting; enough null perturbations that the known
    pairs fit in the top 5% of all pairs."""
    rng = np.random.default_rng(seed)
    quiet, loud = 4, 40
    loadings = rng.normal(0, 1, (3, quiet + loud))
    shifts = {}
    for c in range(complexes):
        direction = rng.normal(size=quiet)
        for g in range(3):
            shifts[f"C{c}G{g}"] = direction + rng.normal(scale=0.2, size=quiet)
    for n in range(nulls):
        shifts[f"NULL{n}"] = np.zeros(quiet)
    rows = []
    for p in range(plates):
        plate_offset = rng.normal(0, 0.1, quiet + loud)  # left after per-plate normalisation
        names = [*shifts, *["NEG"] * ctrls]
        for w, name in enumerate(names):
            signal = np.r_[shifts.get(name, np.zeros(quiet)), np.zeros(loud)]
            noise = rng.normal(0, 2.0, 3) @ loadings + rng.normal(0, 0.3, quiet + loud)
            row = {
                "Metadata_Plate": f"P{p}",
                "Metadata_Well": f"W{w:02d}",
                "Metadata_Perturbation": name,
                "Metadata_Role": "negative_control" if name == "NEG" else "treatment",
            }
            row.update({f"F{i}": v for i, v in enumerate(signal + noise + plate_offset)})
            rows.append(row)
    rel = pd.DataFrame(
        [(f"C{c}G{a}", f"C{c}G{b}") for c in range(complexes) for a in range(3) for b in range(a + 1, 3)],
        columns=["gene_a", "gene_b"],
    )
    return pd.DataFrame(rows), rel


def _recall(aligned: pd.DataFrame, rel: pd.DataFrame, op: str) -> float:
    cons = consensus(aligned, operation=op)
    treat = cons[cons.Metadata_Role == "treatment"].drop(columns=["Metadata_Role", "Metadata_Well_Count"])
    return known_relationship_recall(treat, rel).recall


def test_replicate_noise_finds_the_biology_that_few_controls_cannot() -> None:
    gains = []
    for seed in range(5):
        df, rel = _screen(seed)
        feats = [c for c in df.columns if c.startswith("F")]
        mapped = replicate_sphering(df, feats)
        assert [c for c in mapped.columns if c.startswith("MAP_")]
        ours = _recall(mapped, rel, "mean")
        controls_only = _recall(tvn(df, feats), rel, "mean")  # same aggregation: the noise model differs
        assert ours >= 0.5, (seed, ours)
        gains.append(ours - controls_only)
    assert np.mean(gains) > 0.2, gains


def test_each_plates_controls_sit_at_zero_and_row_order_does_not_matter() -> None:
    df, _ = _screen(3)
    feats = [c for c in df.columns if c.startswith("F")]
    mapped = replicate_sphering(df, feats)
    comps = [c for c in mapped.columns if c.startswith("MAP_")]
    ctrl = mapped[mapped.Metadata_Role == "negative_control"]
    np.testing.assert_allclose(ctrl.groupby("Metadata_Plate")[comps].mean().to_numpy(), 0, atol=1e-9)
    shuffled = replicate_sphering(df.sample(frac=1.0, random_state=1), feats)
    a = consensus(mapped, operation="mean").set_index("Metadata_Perturbation")[comps]
    b = consensus(shuffled, operation="mean").set_index("Metadata_Perturbation")[comps]
    # PCA axes may flip sign between row orders; cosine structure may not change
    np.testing.assert_allclose(np.abs(a.to_numpy()), np.abs(b.loc[a.index].to_numpy()), atol=1e-6)


def test_deviations_and_the_fallback_without_replicates() -> None:
    df = pd.DataFrame({"Metadata_Perturbation": ["A", "A", "B", "C", "C", "C"], "Metadata_Plate": ["P"] * 6})
    x = np.arange(12.0).reshape(6, 2) ** 2
    dev = replicate_deviations(df, x)
    assert dev.shape == (5, 2)  # B has one well: no estimate of noise
    np.testing.assert_allclose(dev.sum(axis=0), 0, atol=1e-9)
    single, _ = _screen(1, plates=1, ctrls=1)
    feats = [c for c in single.columns if c.startswith("F")]
    out = replicate_sphering(single, feats)  # every perturbation once: falls back to TVN on controls
    assert [c for c in out.columns if c.startswith("TVN_")]


def test_cell_weighted_consensus_is_numpys_weighted_average() -> None:
    rng = np.random.default_rng(5)
    wells = pd.DataFrame(
        {
            "Metadata_Perturbation": rng.choice(["A", "B", "C"], 30),
            "Metadata_Role": "treatment",
            "Metadata_Object_Count": rng.integers(1, 90, 30),
            "f1": rng.normal(0, 1, 30),
            "f2": rng.normal(3, 2, 30),
        }
    )
    got = consensus(wells, operation="mean", weights="Metadata_Object_Count").set_index(
        "Metadata_Perturbation"
    )
    for pert, g in wells.groupby("Metadata_Perturbation"):
        for f in ("f1", "f2"):
            assert np.isclose(got.loc[pert, f], np.average(g[f], weights=g.Metadata_Object_Count))
        assert got.loc[pert, "Metadata_Well_Count"] == len(g)
    # equal weights give the plain mean; a weighted median is not offered
    same = consensus(wells.assign(Metadata_Object_Count=7), operation="mean", weights="Metadata_Object_Count")
    pd.testing.assert_frame_equal(same, consensus(wells, operation="mean"))
    with pytest.raises(ValueError, match="Metadata_Object_Count"):
        consensus(wells, operation="median", weights="Metadata_Object_Count")
