"""Map metrics across simulator seeds: labstream's chain vs the classic baseline, with paired differences.

One seed of `bench/phenomics.py` scores 24 known pairs, so 0.833 vs 0.917 recall is 20 vs 22 pairs:
noise. This bench simulates several seeds (`labstream.instruments.microscope`, through
`bench/phenomics.py`'s `simulate`), measures every site once per engine (labstream's per-site features
with the plate's illumination correction; the baseline through `bench/phenomics.py`'s `run_baseline`
and `baseline_site`) and then scores map variants on those cached tables:

- `labstream`: the default chain (`plate_well_profiles` then `build_map`), exactly as the CLI runs it;
- `baseline`: `run_baseline`'s own numbers (median consensus, pycytominer's default);
- `baseline_mean_consensus`: the baseline's recipe with the chain's mean consensus (EFAAR's default);
- with `--variants`: the steps of the chain swapped one at a time (aggregation, feature selection,
  alignment), on labstream's and on the baseline's features, to find which step loses the signal.

Metrics per variant and seed: recall (EFAAR top/bottom 5% of cosine similarities), mean mAP of the
genes (copairs-style, against negative controls), genes and nulls called active (BH q < 0.05).
Prints ONE JSON: per-seed values, mean and sd, and paired differences against the baseline.
Usage: python bench/phenomics_map.py [--seeds 1 2 3 4 5] [--plates 3] [--sites 1] [--size 256] [--variants]
       python bench/phenomics_map.py --family 8 [--family-seed 13] [--train 4]  (bench/phenomics_family.py)
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
import phenomics as stock  # noqa: E402  (bench/phenomics.py: simulate, run_baseline, baseline_site)

GENE = r"^C\d+G\d+$"
METRICS = ("recall", "mean_map_genes", "genes_active", "nulls_active")


# ---- simulation and measurement (once per seed) ------------------------------------------------
def simulate(
    root: Path, seed: int, plates: int, sites: int, size: int, complexes: int, nulls: int
) -> dict[str, str]:
    return stock.simulate(root, plates, sites, size, complexes, nulls, seed=seed)


@dataclass
class Measured:
    """Per-seed tables every variant starts from."""

    platemap: pd.DataFrame
    relationships: pd.DataFrame
    lab_cells: pd.DataFrame  # illumination-corrected labstream cells of all plates (QC-passed)
    lab_wells: pd.DataFrame  # the chain's own normalised well profiles (plate_well_profiles)
    base_cells: pd.DataFrame  # the baseline's per-cell rows, as run_baseline measured them
    base_summary: dict[str, object]


def measure_labstream(paths: dict[str, str]) -> tuple[pd.DataFrame, pd.DataFrame]:
    from labstream.phenomics.chain import check_layout
    from labstream.phenomics.image import IlluminationAccumulator
    from labstream.phenomics.profiling import correct_cells, plate_well_profiles
    from labstream.phenomics.reading import discover, read_platemap
    from labstream.phenomics.site import ILLUM_FACTOR, process_site

    pm = read_platemap(paths["platemap"])
    sites, _ = check_layout(discover(paths["images"]), pm)
    cells_out, wells_out = [], []
    for plate in sorted({k.plate for k in sites}):
        illum = IlluminationAccumulator(ILLUM_FACTOR)
        cells, passed = [], set()
        for key in sorted(k for k in sites if k.plate == plate):
            res = process_site(key, sites[key])
            illum.add_small(res.illum_small, res.full_shape)
            cells.append(res.cells)
            if res.qc["qc_pass"]:
                passed.add((key.plate, key.well, key.site))
        plate_cells = pd.concat(cells, ignore_index=True)
        wells_out.append(plate_well_profiles(plate_cells, pm, illum, passed))
        keys = zip(
            plate_cells.Metadata_Plate, plate_cells.Metadata_Well, plate_cells.Metadata_Site, strict=True
        )
        ok = plate_cells[[k in passed for k in keys]]
        cells_out.append(
            correct_cells(ok, illum).drop(columns=["Metadata_Object", "Metadata_Cell_X", "Metadata_Cell_Y"])
        )
    return pd.concat(cells_out, ignore_index=True), pd.concat(wells_out, ignore_index=True)


def measure_baseline(paths: dict[str, str]) -> tuple[pd.DataFrame, dict[str, object]]:
    """`run_baseline`, keeping the per-cell table it builds."""
    kept: list[pd.DataFrame] = []
    summary = stock.run_baseline(paths, keep_cells=kept)
    return kept[0], summary


def measure(paths: dict[str, str]) -> Measured:
    from labstream.phenomics.reading import read_platemap, read_relationships

    lab_cells, lab_wells = measure_labstream(paths)
    base_cells, base_summary = measure_baseline(paths)
    return Measured(
        read_platemap(paths["platemap"]),
        read_relationships(paths["relationships"]),
        lab_cells,
        lab_wells,
        base_cells,
        base_summary,
    )


# ---- scoring ---------------------------------------------------------------------------------
def score(aligned: pd.DataFrame, rel: pd.DataFrame, consensus_op: str = "median") -> dict[str, float]:
    """Recall, mean mAP of genes and active counts of aligned well profiles (all wells, controls too)."""
    from labstream.phenomics.profiling import consensus, known_relationship_recall, phenotypic_activity

    act = phenotypic_activity(aligned)
    cons = consensus(aligned) if consensus_op == "median" else _mean_consensus(aligned)
    treat = cons[cons.Metadata_Role == "treatment"].drop(columns=["Metadata_Role", "Metadata_Well_Count"])
    name = act.Metadata_Perturbation.astype(str)
    genes, nulls = act[name.str.match(GENE)], act[name.str.startswith("NULL")]
    return {
        "recall": known_relationship_recall(treat, rel).recall,
        "mean_map_genes": float(genes.mean_average_precision.mean()),
        "genes_active": int(genes.below_corrected_p.sum()),
        "nulls_active": int(nulls.below_corrected_p.sum()),
    }


def _mean_consensus(wells: pd.DataFrame) -> pd.DataFrame:
    from labstream.phenomics.profiling import feature_names

    g = wells.groupby("Metadata_Perturbation", sort=True)
    out = g[feature_names(wells)].mean()
    out.insert(0, "Metadata_Well_Count", g.size())
    out.insert(0, "Metadata_Role", g["Metadata_Role"].first())
    return out.reset_index()


# ---- variants ----------------------------------------------------------------------------------
Step = Callable[[pd.DataFrame, list[str]], pd.DataFrame]


def _wells(cells: pd.DataFrame, pm: pd.DataFrame, op: str) -> pd.DataFrame:
    from labstream.phenomics.profiling import aggregate_wells, mad_robustize

    wells = aggregate_wells(cells.drop(columns=["Metadata_Site"], errors="ignore"), pm, operation=op)
    feats = [c for c in wells.columns if not c.startswith("Metadata_")]
    out = mad_robustize(wells, feats)
    out[feats] = out[feats].replace([np.inf, -np.inf], np.nan)
    return out


def _select(wells: pd.DataFrame, how: str) -> list[str]:
    from labstream.phenomics.profiling import drop_outliers, select_features

    feats = [c for c in wells.columns if not c.startswith("Metadata_")]
    if how == "labstream":  # the chain's default (no correlation filter)
        return select_features(wells, feats)
    if how == "labstream_corr09":  # the chain's previous default
        return select_features(wells, feats, corr_threshold=0.9)
    if how == "outliers":  # what the baseline applies
        return drop_outliers(wells, [f for f in feats if wells[f].notna().all()])
    if how == "pycytominer":
        from pycytominer import feature_select

        ops = ["variance_threshold", "correlation_threshold", "drop_na_columns", "drop_outliers"]
        meta = [c for c in wells.columns if c.startswith("Metadata_")]
        kept = feature_select(wells, features=feats, operation=ops, outlier_cutoff=500)
        return [c for c in kept.columns if c not in meta]
    raise ValueError(how)


def _align(wells: pd.DataFrame, feats: list[str], how: str) -> pd.DataFrame:
    from labstream.phenomics.profiling import align, align_choice

    meta = [c for c in wells.columns if c.startswith("Metadata_")]
    clean = pd.concat([wells[meta], wells[feats].fillna(0)], axis=1).reset_index(drop=True)
    if how == "none":
        return clean
    if how == "choice":
        return align_choice.choose_alignment(clean, feats)[0]
    if how == "tvn":
        return align.tvn(clean, feats)
    if how == "center":
        return align_choice.control_centering(clean, feats)
    if how == "tvn_shrink05":  # the previous fixed shrinkage instead of Ledoit-Wolf
        return align.tvn(clean, feats, shrink=0.5)
    if how.startswith("tvn_k"):  # tvn with k principal components
        return align.tvn(clean, feats, max_components=int(how[5:]))
    if how == "sphering_previous":  # the map space before position.map_space (control-normalised input)
        return align.replicate_sphering(clean, feats)
    raise ValueError(how)


@dataclass(frozen=True)
class Variant:
    name: str
    features: str = "labstream"  # labstream | baseline
    aggregate: str = "median"
    select: str = "labstream"
    align: str = "choice"
    consensus: str = "median"


VARIANTS = [
    Variant("lab_chain_rebuilt"),  # must equal the stock chain: checks the cached path
    Variant("lab_corr09_choice", select="labstream_corr09"),  # the previous default chain
    Variant("lab_corr09_tvn", select="labstream_corr09", align="tvn"),
    Variant("lab_corr09_none", select="labstream_corr09", align="none"),
    Variant("lab_pycyto_tvn", select="pycytominer", align="tvn"),  # pycytominer feature_select
    Variant("lab_tvn", align="tvn"),
    Variant("lab_tvn_shrink05", align="tvn_shrink05"),
    Variant("lab_center", align="center"),
    Variant("lab_none", align="none"),
    Variant("lab_outliers_none", select="outliers", align="none"),  # the baseline's recipe
    Variant("lab_tvn_k32", align="tvn_k32"),
    Variant("lab_tvn_k119", align="tvn_k119"),
    Variant("lab_mean_wells_tvn", aggregate="mean", align="tvn"),
    Variant("lab_tvn_mean_consensus", align="tvn", consensus="mean"),
    Variant("base_outliers_none", features="baseline", select="outliers", align="none"),  # = baseline
    Variant("base_chain", features="baseline"),
    Variant("base_tvn", features="baseline", align="tvn"),
    Variant("base_center", features="baseline", align="center"),
    # the previous stock map: replicate sphering of the control-normalised wells, each plate re-centred
    Variant("lab_previous_map", align="sphering_previous", consensus="mean"),
    # the stock map space (position.map_space: all-well z, position correction, sphering) on the
    # classic recipe's features: the same profiling treatment for both feature sets
    Variant("base_labstream_map", features="baseline", select="none", align="map_space", consensus="mean"),
    Variant("lab_map_space", select="none", align="map_space", consensus="mean"),  # its unweighted pair
    # the stock map space with each well weighted by its cell count in the consensus (session 6, round 2)
    Variant("lab_map_cell_weighted", select="none", align="map_space", consensus="cell_weighted"),
]


BASE_MEAN = Variant(
    "base_mean_consensus", features="baseline", select="outliers", align="none", consensus="mean"
)


def run_variant(v: Variant, m: Measured, cache: dict[tuple[str, str], pd.DataFrame]) -> dict[str, float]:
    key = (v.features, v.aggregate)
    if key not in cache:
        cells = m.lab_cells if v.features == "labstream" else m.base_cells
        cache[key] = _wells(cells, m.platemap, v.aggregate)
    wells = cache[key]
    if v.align == "map_space":  # selects its own features, after its own normalisation
        from labstream.phenomics.profiling.position import map_space

        feats = [c for c in wells.columns if not c.startswith("Metadata_")]
        mapped = map_space(wells, feats)[0]
        return score_map(
            mapped, m.relationships, "Metadata_Object_Count" if v.consensus == "cell_weighted" else None
        )
    return score(_align(wells, _select(wells, v.select), v.align), m.relationships, v.consensus)


def score_map(mapped: pd.DataFrame, rel: pd.DataFrame, weights: str | None = None) -> dict[str, float]:
    """Recall of a map space's mean consensus, optionally weighted by a column (activity is not scored
    there: see plate.build_map)."""
    from labstream.phenomics.profiling import consensus, known_relationship_recall

    cons = consensus(mapped, operation="mean", weights=weights)
    treat = cons[cons.Metadata_Role == "treatment"].drop(columns=["Metadata_Role", "Metadata_Well_Count"])
    nan = float("nan")
    rec = known_relationship_recall(treat, rel).recall
    return {"recall": rec, "mean_map_genes": nan, "genes_active": nan, "nulls_active": nan}


def stock_labstream(m: Measured) -> dict[str, float]:
    from labstream.phenomics.profiling import build_map

    res = build_map(m.lab_wells, m.relationships)
    out = score(res.wells, m.relationships)  # activity on the aligned wells, as the chain scores it
    out["recall_median_aligned"] = out["recall"]  # the previous map (median of aligned wells)
    out["recall"] = res.metrics["recall"]["recall"]  # type: ignore[index]  (the chain's own map)
    out["alignment"] = res.metrics["alignment"]  # type: ignore[assignment]
    out["n_features_selected"] = len(res.selected)
    return out


# ---- summary -----------------------------------------------------------------------------------
def summarise(
    per_seed: dict[int, dict[str, dict[str, object]]], reference: str = "baseline"
) -> dict[str, object]:
    names = sorted({n for r in per_seed.values() for n in r})
    seeds = sorted(per_seed)
    out: dict[str, object] = {}
    for name in names:
        entry: dict[str, object] = {}
        for metric in METRICS:
            vals = np.array([float(per_seed[s][name][metric]) for s in seeds])  # type: ignore[arg-type]
            ref = np.array([float(per_seed[s][reference][metric]) for s in seeds])  # type: ignore[arg-type]
            diff = vals - ref
            entry[metric] = {
                "per_seed": vals.round(4).tolist(),
                "mean": float(vals.mean()),
                "sd": float(vals.std(ddof=1)) if len(vals) > 1 else 0.0,
                f"diff_vs_{reference}_mean": float(diff.mean()),
                f"diff_vs_{reference}_sd": float(diff.std(ddof=1)) if len(diff) > 1 else 0.0,
                f"wins_ties_losses_vs_{reference}": [
                    int((diff > 1e-9).sum()),
                    int((np.abs(diff) <= 1e-9).sum()),
                    int((diff < -1e-9).sum()),
                ],
            }
        out[name] = entry
    return out


def measured(tmp: Path, seed: int, a: argparse.Namespace) -> Measured:
    """Simulate and measure one seed, or load it from `--cache` (keyed by every simulation argument)."""
    spec = (seed, a.plates, a.sites, a.size, a.complexes, a.nulls)
    cached = a.cache / ("m_" + "_".join(map(str, spec)) + ".pkl") if a.cache else None
    if cached is not None and cached.exists():
        return Measured(**pd.read_pickle(cached))  # noqa: S301  (our own file, written below)
    m = measure(simulate(tmp / f"s{seed}", *spec))
    if cached is not None:
        cached.parent.mkdir(parents=True, exist_ok=True)
        pd.to_pickle(vars(m), cached)
    return m


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3, 4, 5])
    ap.add_argument("--plates", type=int, default=3)
    ap.add_argument("--sites", type=int, default=1)
    ap.add_argument("--size", type=int, default=256)
    ap.add_argument("--complexes", type=int, default=8)
    ap.add_argument("--nulls", type=int, default=8)
    ap.add_argument("--variants", action="store_true", help="also score the diagnostic variants")
    ap.add_argument("--cache", type=Path, help="keep measured tables here and reuse them across runs")
    ap.add_argument("--family", type=int, help="score N members of the widened simulator family instead")
    ap.add_argument("--family-seed", type=int, default=13)
    ap.add_argument("--train", type=int, default=4, help="family members methods are chosen on")
    ap.add_argument("--skip", nargs="+", default=[], help="family members not measured (listed in the JSON)")
    ap.add_argument("--stock-only", action="store_true", help="family: the chain's map only, no variants")
    a = ap.parse_args()
    if a.family:  # bench/phenomics_family.py: methods chosen on --train members, recall on the rest
        from phenomics_family import run_family

        out = run_family(a.family, a.family_seed, a.train, a.size, a.cache, a.skip, not a.stock_only)
        print(json.dumps(out, indent=1, default=float))
        return
    t0 = time.perf_counter()
    per_seed: dict[int, dict[str, dict[str, object]]] = {}
    with tempfile.TemporaryDirectory(prefix="bench-phenomics-map-") as tmp:
        for seed in a.seeds:
            m = measured(Path(tmp), seed, a)
            res: dict[str, dict[str, object]] = {"labstream": stock_labstream(m)}  # type: ignore[dict-item]
            b = m.base_summary
            res["baseline"] = {
                "recall": b["recall"],
                "mean_map_genes": b["mean_map_genes"],
                "genes_active": b["genes_active"],
                "nulls_active": b["nulls_active"],
            }
            cache: dict[tuple[str, str], pd.DataFrame] = {}
            # the baseline's recipe with labstream's mean consensus: does aggregation alone explain it?
            res["baseline_mean_consensus"] = run_variant(BASE_MEAN, m, cache)  # type: ignore[assignment]
            if a.variants:
                for v in VARIANTS:
                    res[v.name] = run_variant(v, m, cache)  # type: ignore[assignment]
            per_seed[seed] = res
            print(f"seed {seed}: {json.dumps(res, default=float)}", file=sys.stderr)
    print(
        json.dumps(
            {
                "images": {
                    "seeds": a.seeds,
                    "plates": a.plates,
                    "sites_per_well": a.sites,
                    "size": a.size,
                    "complexes": a.complexes,
                    "genes_per_complex": 3,
                    "nulls": a.nulls,
                },
                "variants": [v.__dict__ for v in VARIANTS] if a.variants else [],
                "per_seed": per_seed,
                "summary": summarise(per_seed),
                "wall_seconds": time.perf_counter() - t0,
            },
            indent=1,
            default=float,
        )
    )


if __name__ == "__main__":
    main()
