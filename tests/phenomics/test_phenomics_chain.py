"""The whole chain on simulated plates with known biology, and the `labstream phenomics` command."""

from __future__ import annotations

import json

import pandas as pd
import pytest
from typer.testing import CliRunner

from labstream.cli.phenomics import app


@pytest.mark.slow
def test_profile_command_recovers_the_simulated_biology(map_set, tmp_path) -> None:
    out = tmp_path / "out"
    res = CliRunner().invoke(
        app,
        [
            "profile",
            "--images",
            str(map_set.images),
            "--platemap",
            str(map_set.platemap),
            "--relationships",
            str(map_set.relationships),
            "--out",
            str(out),
            "--workers",
            "2",
        ],
    )
    assert res.exit_code == 0, res.output
    m = json.loads((out / "metrics.json").read_text())
    truth = pd.read_csv(map_set.truth)
    wells = pd.read_parquet(out / "well_profiles.parquet")
    pm = pd.read_csv(map_set.platemap)
    assert len(wells) == len(pm)  # one row per plate x well
    # the alignment is chosen on controls only (align_choice): TVN components or centred features
    assert m["alignment"] in ("tvn", "control_centering")
    assert set(m["alignment_scores"]) == {"tvn", "control_centering"}
    aligned_cols = (
        wells.filter(like="TVN_") if m["alignment"] == "tvn" else wells.filter(regex="^(Nuclei|Cells)")
    )
    assert aligned_cols.shape[1] > 5
    prof = pd.read_parquet(out / "perturbation_profiles.parquet")
    assert set(prof.Metadata_Perturbation) == set(truth.perturbation)
    assert m["qc"]["sites_measured"] == m["qc"]["sites_total"] == len(pm)
    # known biology: the positive control and complex members are active; nulls rank below every gene
    # (at 5% FDR one null among ~10 hits is within what the procedure allows)
    act = {a["Metadata_Perturbation"]: a for a in m["activity"]}
    assert act["POSCTRL"]["corrected_p_value"] < 0.05
    hits = pd.read_csv(out / "hits.csv")
    genes = [a["mean_average_precision"] for k, a in act.items() if k.startswith("C")]
    nulls = [a["mean_average_precision"] for k, a in act.items() if k.startswith("NULL")]
    assert hits.Metadata_Perturbation.str.startswith("C").sum() >= 0.75 * len(genes)
    assert hits.Metadata_Perturbation.str.startswith("NULL").sum() <= 1
    assert max(nulls) < min(genes)
    assert m["recall"]["recall"] > 2 * m["recall"]["chance"]
    for name in ("qc_P01.png", "qc_P03.png", "similarity_map.png", "follow_up_layout.csv"):
        assert (out / name).stat().st_size > 1000 or name.endswith(".csv")
    layout = pd.read_csv(out / "follow_up_layout.csv")
    assert set(hits.Metadata_Perturbation.head(12)) <= set(layout.perturbation)


@pytest.mark.slow
def test_profile_command_through_the_platform_matches_the_batch_chain(tmp_path, small_spec) -> None:
    from dataclasses import replace

    from labstream.instruments.microscope import MicroscopeSimulator

    sim = MicroscopeSimulator(replace(small_spec, plates=2)).write(tmp_path / "sim", "tiff")
    args = ["profile", "--images", str(sim.images), "--platemap", str(sim.platemap), "--workers", "1"]
    assert CliRunner().invoke(app, [*args, "--out", str(tmp_path / "batch")]).exit_code == 0
    res = CliRunner().invoke(app, [*args, "--out", str(tmp_path / "plat"), "--platform"])
    assert res.exit_code == 0, res.output
    batch = pd.read_parquet(tmp_path / "batch" / "well_profiles_normalized.parquet")
    plat = pd.read_parquet(tmp_path / "plat" / "well_profiles_normalized.parquet")
    key = ["Metadata_Plate", "Metadata_Well"]
    batch, plat = batch.sort_values(key).reset_index(drop=True), plat.sort_values(key).reset_index(drop=True)
    assert batch[key].equals(plat[key])
    feats = [c for c in batch.columns if c.startswith(("Cells_", "Nuclei_", "Cytoplasm_"))]
    # the same science: the lake stores cells as float32, so allow float32 rounding after normalisation
    pd.testing.assert_frame_equal(batch[feats], plat[feats], rtol=1e-3, atol=1e-3)
    assert (tmp_path / "plat" / ".labstream" / "lake" / "cells").exists()
