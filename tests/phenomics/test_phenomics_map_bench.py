"""bench/phenomics_map.py: seeds really change the simulated screen, and the summary pairs seeds."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pandas as pd
import pytest

BENCH = Path(__file__).resolve().parents[2] / "bench"


@pytest.fixture(scope="module")
def bench():  # type: ignore[no-untyped-def]
    sys.path.insert(0, str(BENCH))
    try:
        spec = importlib.util.spec_from_file_location("phenomics_map", BENCH / "phenomics_map.py")
        assert spec and spec.loader
        mod = importlib.util.module_from_spec(spec)
        sys.modules["phenomics_map"] = mod  # dataclasses look their module up while the class is built
        spec.loader.exec_module(mod)
        yield mod
    finally:
        sys.modules.pop("phenomics_map", None)
        sys.path.remove(str(BENCH))


def test_seed_reaches_the_simulator_and_is_restored(bench, tmp_path) -> None:  # type: ignore[no-untyped-def]
    from labstream.instruments import microscope

    original = microscope.PlateSetSpec
    a = bench.simulate(tmp_path / "a", 1, 1, 1, 64, 1, 1)
    b = bench.simulate(tmp_path / "b", 2, 1, 1, 64, 1, 1)
    assert microscope.PlateSetSpec is original
    pa, pb = pd.read_csv(a["platemap"]), pd.read_csv(b["platemap"])
    assert set(pa.perturbation) == set(pb.perturbation)
    assert not pa.perturbation.equals(pb.perturbation)  # another seed, another random layout


def test_summary_pairs_each_seed_with_the_baseline(bench) -> None:  # type: ignore[no-untyped-def]
    per_seed = {
        s: {
            "baseline": {"recall": r, "mean_map_genes": 0.9, "genes_active": 20, "nulls_active": 0},
            "labstream": {"recall": r + d, "mean_map_genes": 0.95, "genes_active": 21, "nulls_active": 1},
        }
        for s, r, d in [(1, 0.8, 0.1), (2, 0.9, 0.0), (3, 0.7, -0.05)]
    }
    out = bench.summarise(per_seed)["labstream"]["recall"]
    assert out["per_seed"] == [0.9, 0.9, 0.65]
    assert out["diff_vs_baseline_mean"] == pytest.approx(0.05 / 3)
    assert out["wins_ties_losses_vs_baseline"] == [1, 1, 1]


def test_family_chooses_on_train_members_and_reports_only_held_out_ones(bench) -> None:  # type: ignore[no-untyped-def]
    import phenomics_family

    from labstream.instruments.microscope_family import draw_family

    members = draw_family(4, seed=2)
    methods = ["labstream", "baseline", "truth"] + [v.name for v in bench.VARIANTS]
    scores = {m.name: dict.fromkeys(methods, 0.5) for m in members}
    scores["m1"]["lab_tvn"] = scores["m2"]["lab_tvn"] = 0.9  # best on the train members only
    scores["m3"]["lab_center"] = scores["m4"]["lab_center"] = 1.0  # best on held-out: must not be chosen
    scores["m3"]["lab_tvn"], scores["m4"]["lab_tvn"] = 0.6, 0.8
    out = phenomics_family.summarise_family(members, scores, train=2)
    assert out["chosen_on_train"]["labstream"] == "lab_tvn"
    held = out["held_out_recall"]["labstream_chosen (lab_tvn)"]
    assert held["per_member"] == [0.6, 0.8] and held["mean"] == pytest.approx(0.7)
    assert held["min"] == 0.6 and held["max"] == 0.8 and held["sd"] == pytest.approx(0.1414, abs=1e-3)
    assert out["held_out_members"] == ["m3", "m4"]


def test_family_stock_only_reports_the_chain_the_recipe_and_the_ceilings(bench) -> None:  # type: ignore[no-untyped-def]
    import phenomics_family

    from labstream.instruments.microscope_family import draw_family

    members = draw_family(4, seed=2)
    vals = {"labstream": [0.5, 0.6, 0.7, 0.4], "baseline": [0.4, 0.5, 0.5, 0.3], "truth": [0.9] * 4}
    vals["rendered_latent"] = [0.8, 0.7, 0.75, 0.65]
    vals["rendered_latent_signed"] = [0.7, 0.6, 0.65, 0.6]
    scores = {m.name: {k: v[i] for k, v in vals.items()} for i, m in enumerate(members)}
    out = phenomics_family.summarise_family(members, scores, train=2)
    held = out["held_out_recall"]
    assert out["chosen_on_train"] == {"labstream": "labstream", "classic_features": "baseline"}
    assert "labstream_previous_map" not in held and "classic_features_labstream_map" not in held
    assert held["labstream_stock_chain"]["per_member"] == [0.7, 0.4]
    assert held["classic_recipe"]["mean"] == pytest.approx(0.4)
    assert held["rendered_latent_ceiling"]["per_member"] == [0.75, 0.65]
    assert held["rendered_latent_signed_ceiling"]["per_member"] == [0.65, 0.6]
