"""Phenomics benchmark: labstream vs the classic CellProfiler-style recipe, on the same simulated images.

Baseline: scikit-image Gaussian + Otsu + distance-transform watershed (peak_local_max markers) for nuclei,
watershed on the cytoplasm stains for cells, `regionprops_table` shape + intensity per channel for both,
per-well median, then `pycytominer.normalize(method="mad_robustize")` against the plate's negative
controls (and pycytominer's drop_outliers-equivalent cut so exploded MAD-0 features do not swamp it).
labstream: its own chain (`profile_directory`, one worker). Both are scored by the same map code against
the simulator's truth. Every engine runs in its own subprocess so peak RSS is its own.

Prints ONE JSON object.
With --rounds N the two engines alternate N times on the same images (the machine is shared); the
headline is the round with the median sites/s-per-core ratio, and every round's ratio is printed.
Usage: python bench/phenomics.py [--plates 3] [--sites 2] [--size 256] [--complexes 8] [--nulls 8]
       [--cells-per-site 12 20] [--cell-scale 0] [--binning 1] [--rounds 1] [--no-stages]
       [--cellprofiler [--cellprofiler-sites 6]]
At screening sizes: `--size 1080 --plates 2 --sites 1` (the simulator's cells grow with the field), or
`--size 1080 --cell-scale 1.5 --cells-per-site 150 250` (cells of a 20x objective with 2x2 binning,
at a screen's density); `--size 2160` (a full sCMOS field) and `--size 2160 --binning 2` (the same
sensor read out 2x2-binned: 1080² sites showing the cells of the 2160² field).
`cpu_ms_per_site_by_stage` (bench/phenomics_stages.py) says where the time goes.
--cellprofiler adds CellProfiler itself on the first N sites (bench/cellprofiler_engine.py; its venv
comes from `make bench-cellprofiler`).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))  # its helpers when loaded by path (tests)
from _phenomics_sets import simulate, simulate_once  # noqa: E402, F401  (phenomics_map: stock.simulate)


def baseline_site(pixels: np.ndarray) -> pd.DataFrame:
    from scipy import ndimage as ndi
    from skimage.feature import peak_local_max
    from skimage.filters import gaussian, threshold_otsu
    from skimage.measure import regionprops_table
    from skimage.segmentation import watershed

    dna = gaussian(pixels[0].astype(float), 1.0)
    mask = ndi.binary_fill_holes(dna > threshold_otsu(dna))
    dist = ndi.distance_transform_edt(mask)
    peaks = peak_local_max(dist, min_distance=4, labels=ndi.label(mask)[0], exclude_border=False)
    markers = np.zeros(dna.shape, np.int32)
    markers[tuple(peaks.T)] = np.arange(1, len(peaks) + 1)
    nuclei = watershed(-dist, markers, mask=mask)
    cyto = gaussian(pixels[1:4].astype(float).sum(axis=0), 1.5)
    cells = watershed(-cyto, nuclei, mask=(cyto > threshold_otsu(cyto)) | (nuclei > 0))
    inten = np.moveaxis(pixels, 0, -1).astype(float)
    props = (
        "label",
        "area",
        "perimeter",
        "eccentricity",
        "solidity",
        "extent",
        "major_axis_length",
        "minor_axis_length",
        "orientation",
        "intensity_mean",
        "intensity_min",
        "intensity_max",
    )
    n = pd.DataFrame(regionprops_table(nuclei, inten, properties=props)).add_prefix("Nuclei_")
    c = pd.DataFrame(regionprops_table(cells, inten, properties=props)).add_prefix("Cells_")
    return n.merge(c, left_on="Nuclei_label", right_on="Cells_label").drop(
        columns=["Nuclei_label", "Cells_label"]
    )


def run_baseline(paths: dict[str, str], keep_cells: list[pd.DataFrame] | None = None) -> dict[str, object]:
    """The classic recipe end to end; its per-cell table is appended to `keep_cells` when given."""
    from pycytominer import normalize

    from labstream.phenomics.chain import check_layout
    from labstream.phenomics.reading import discover, load_site, read_platemap, read_relationships

    pm = read_platemap(paths["platemap"])
    sites, _ = check_layout(discover(paths["images"]), pm)
    t0, c0 = time.perf_counter(), time.process_time()
    raw_bytes, rows = 0, []
    for key in sorted(sites):
        img = load_site(key, sites[key])
        raw_bytes += img.nbytes
        df = baseline_site(img.pixels)
        df.insert(0, "Metadata_Well", key.well)
        df.insert(0, "Metadata_Plate", key.plate)
        rows.append(df)
    cpu_sites = time.process_time() - c0
    cells = pd.concat(rows, ignore_index=True)
    if keep_cells is not None:
        keep_cells.append(cells)
    feats = [c for c in cells.columns if not c.startswith("Metadata_")]
    wells = pm.merge(
        cells.groupby(["Metadata_Plate", "Metadata_Well"])[feats].median().reset_index(),
        on=["Metadata_Plate", "Metadata_Well"],
    )
    meta = [c for c in wells.columns if c.startswith("Metadata_")]
    normed = pd.concat(
        [
            normalize(
                g,
                features=feats,
                meta_features=meta,
                method="mad_robustize",
                samples="Metadata_Role == 'negative_control'",
            )
            for _, g in wells.groupby("Metadata_Plate")
        ],
        ignore_index=True,
    )
    t_profile = time.perf_counter() - t0
    rel = read_relationships(paths["relationships"])
    # the baseline's map: same metric code, no alignment (the recipe stops at normalisation)
    from labstream.phenomics.profiling import (
        consensus,
        drop_outliers,
        known_relationship_recall,
        phenotypic_activity,
    )

    keep = drop_outliers(normed, feats)
    prof = normed[meta + keep].replace([np.inf, -np.inf], np.nan).fillna(0)
    act = phenotypic_activity(prof)
    cons = consensus(prof)
    treat = cons[cons.Metadata_Role == "treatment"].drop(columns=["Metadata_Role", "Metadata_Well_Count"])
    rec = known_relationship_recall(treat, rel)
    return _summary("baseline", len(sites), cpu_sites, raw_bytes, len(feats), len(cells), t_profile, act, rec)


def run_labstream(paths: dict[str, str]) -> dict[str, object]:
    from labstream.phenomics.chain import profile_directory
    from labstream.phenomics.warm import warm_up  # every kernel: QC, segmentation, features

    # compiled kernels load from numba's on-disk cache (or compile) once per process: outside the
    # timed region, reported on its own (`jit`), as a worker pays it once before its first site
    c0 = time.process_time()
    warm_wall = warm_up()
    warm_cpu = time.process_time() - c0
    t0 = time.perf_counter()
    res = profile_directory(
        paths["images"], paths["platemap"], None, paths["relationships"], workers=1, figures=False
    )
    t_profile = time.perf_counter() - t0
    m = res.metrics
    from labstream.phenomics.features import cell_feature_names

    n_feats = len([f for f in cell_feature_names() if not f.startswith("Metadata_")])
    sites = int(m["qc"]["sites_measured"])  # type: ignore[index]
    cpu = float(m["site_cpu_seconds_per_site"]) * sites
    raw = sites * _site_bytes(paths)  # every simulated site has the same shape and dtype
    rec = m.get("recall", {})
    act = res.map.activity
    out = _summary("labstream", sites, cpu, raw, n_feats, int(m["qc"]["cells"]), t_profile, act, None)  # type: ignore[index]
    out["recall"] = rec.get("recall") if isinstance(rec, dict) else None
    out["alignment"] = m.get("alignment")  # chosen on controls only (phenomics.align_choice)
    out["alignment_scores"] = m.get("alignment_scores")
    out["jit_warmup_seconds"] = {"wall": warm_wall, "cpu": warm_cpu}
    return out


def cold_compile() -> dict[str, float]:
    """Seconds to compile every kernel from scratch: a fresh process with an empty numba cache."""
    with tempfile.TemporaryDirectory(prefix="bench-numba-") as cache:
        code = "import time; t=time.perf_counter(); from labstream.phenomics.warm import warm_up; "
        code += "w=warm_up(); print(time.perf_counter()-t, w)"
        env = {**os.environ, "NUMBA_CACHE_DIR": cache}
        out = subprocess.run(
            [sys.executable, "-c", code], check=True, capture_output=True, text=True, env=env
        )
        total, warm = (float(v) for v in out.stdout.split())
    return {"import_and_compile_wall": total, "compile_wall": warm}


def _site_bytes(paths: dict[str, str]) -> int:
    from labstream.phenomics.reading import discover, load_site

    sites = discover(paths["images"])
    key = sorted(sites)[0]
    return load_site(key, sites[key]).nbytes


def peak_rss_mb() -> float:
    """This process's own peak resident memory: /proc's VmHWM where there is one. `ru_maxrss` keeps
    the peak of the forked parent across exec, so a child of a bench that simulated 2160² sites
    reported the parent's ~1 GB whatever it used itself."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _summary(
    name: str,
    sites: int,
    cpu: float,
    raw_bytes: float,
    n_feats: int,
    n_cells: int,
    wall: float,
    act: pd.DataFrame,
    rec: object,
) -> dict[str, object]:
    nulls = act[act.Metadata_Perturbation.astype(str).str.startswith("NULL")]
    genes = act[act.Metadata_Perturbation.astype(str).str.match(r"^C\d+G\d+$")]
    return {
        "engine": name,
        "sites": sites,
        "cells": n_cells,
        "features_per_cell": n_feats,
        "site_cpu_seconds": cpu,
        "sites_per_second_per_core": sites / cpu if cpu else None,
        "raw_mb_per_cpu_second": raw_bytes / 1e6 / cpu if cpu else None,
        "wall_seconds_total": wall,
        "genes_active": int(genes.below_corrected_p.sum()),
        "genes": len(genes),
        "nulls_active": int(nulls.below_corrected_p.sum()),
        "nulls": len(nulls),
        "mean_map_genes": float(genes.mean_average_precision.mean()) if len(genes) else None,
        "mean_map_nulls": float(nulls.mean_average_precision.mean()) if len(nulls) else None,
        "recall": getattr(rec, "recall", None),
        "peak_rss_mb": peak_rss_mb(),
    }


def child(engine: str, paths: dict[str, str]) -> None:
    if engine == "stages":
        from phenomics_stages import where_time_goes

        print(json.dumps(where_time_goes(paths["images"])))
        return
    fn = run_labstream if engine == "labstream" else run_baseline
    print(json.dumps(fn(paths), default=float))


def spawn(engine: str, paths: dict[str, str]) -> dict[str, object]:
    out = subprocess.run(
        [sys.executable, __file__, "--child", engine, "--paths", json.dumps(paths)],
        check=True,
        capture_output=True,
        text=True,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--plates", type=int, default=3)
    ap.add_argument("--sites", type=int, default=2)
    ap.add_argument("--size", type=int, default=256)
    ap.add_argument(
        "--complexes",
        type=int,
        default=8,
        help="recall needs a map big enough that the top 5%% of pairs can hold the known pairs",
    )
    ap.add_argument("--nulls", type=int, default=8)
    ap.add_argument(
        "--cells-per-site",
        type=int,
        nargs=2,
        default=(12, 20),
        metavar=("MIN", "MAX"),
        help="cells drawn per site (a 1080² site of a Cell Painting screen holds 100-300)",
    )
    ap.add_argument(
        "--cell-scale",
        type=float,
        default=0.0,
        help="cell size in pixels relative to a 256² field's (0: cells grow with --size)",
    )
    ap.add_argument(
        "--binning",
        type=int,
        default=1,
        help="camera binning: --size is the sensor, the sites written are (size/binning)² (2: 2x2)",
    )
    ap.add_argument("--cache", help="simulate into this folder once and reuse it on later runs")
    ap.add_argument("--no-stages", action="store_true", help="skip the per-stage CPU breakdown")
    ap.add_argument("--no-cold-compile", action="store_true", help="skip timing a cold numba compile")
    ap.add_argument("--rounds", type=int, default=1, help="alternate the engines this many times")
    ap.add_argument("--cellprofiler", action="store_true", help="also CellProfiler (make bench-cellprofiler)")
    ap.add_argument("--cellprofiler-sites", type=int, default=6, help="CellProfiler on the first N sites")
    ap.add_argument("--child")
    ap.add_argument("--paths")
    a = ap.parse_args()
    if a.child:
        child(a.child, json.loads(a.paths))
        return
    with tempfile.TemporaryDirectory(prefix="bench-phenomics-") as scratch:
        tmp = a.cache or scratch
        shape = {"cells_per_site": tuple(a.cells_per_site), "cell_scale": a.cell_scale, "binning": a.binning}
        paths = simulate_once(Path(tmp) / "set", a.plates, a.sites, a.size, a.complexes, a.nulls, **shape)  # type: ignore[arg-type]
        # the machine is shared: engines alternate, each round's ratio is one sample, the median is
        # the headline, and every round is printed
        runs = [(spawn("labstream", paths), spawn("baseline", paths)) for _ in range(max(a.rounds, 1))]
        per_round = [lb["sites_per_second_per_core"] / bs["sites_per_second_per_core"] for lb, bs in runs]  # type: ignore[operator]
        mid = sorted(range(len(runs)), key=lambda i: per_round[i])[len(runs) // 2]
        lab, base = runs[mid]
        stages = None if a.no_stages else spawn("stages", paths)  # where the time goes, per stage
        small = simulate_once(Path(tmp) / "small", 1, a.sites, a.size, a.complexes, a.nulls, **shape)  # type: ignore[arg-type]
        lab_small = spawn("labstream", small)
        cellprofiler = None
        if a.cellprofiler:  # its own venv and subprocess (bench/cellprofiler_engine.py)
            from cellprofiler_engine import bench_entry

            cellprofiler = bench_entry(paths, a.cellprofiler_sites, lab)
    compile_cold = None if a.no_cold_compile else cold_compile()
    ratio = {
        "sites_per_second_per_core": lab["sites_per_second_per_core"] / base["sites_per_second_per_core"],  # type: ignore[operator]
        "features_per_cell": lab["features_per_cell"] / base["features_per_cell"],  # type: ignore[operator]
        "feature_values_per_cpu_second": (lab["features_per_cell"] * lab["cells"] / lab["site_cpu_seconds"])  # type: ignore[operator]
        / (base["features_per_cell"] * base["cells"] / base["site_cpu_seconds"]),  # type: ignore[operator]
    }
    extra = {"cellprofiler": cellprofiler} if cellprofiler else {}
    print(
        json.dumps(
            {
                "images": {
                    "plates": a.plates,
                    "sites_per_well": a.sites,
                    "size": a.size // a.binning,
                    "sensor_size": a.size,
                    "binning": a.binning,
                    "channels": 5,
                    "complexes": a.complexes,
                    "genes_per_complex": 3,
                    "nulls": a.nulls,
                    "cells_per_site": list(a.cells_per_site),
                    "cell_scale": (a.cell_scale or a.size / 256) / a.binning,  # in the written pixels
                    "bit_depth": 16,
                },
                "labstream": lab,
                "baseline": base,
                "jit_cold_compile_seconds": compile_cold,
                "rounds_sites_per_core": [
                    {
                        "labstream": lb["sites_per_second_per_core"],
                        "baseline": bs["sites_per_second_per_core"],
                        "ratio": r,
                    }
                    for (lb, bs), r in zip(runs, per_round, strict=True)
                ],
                "ratios_labstream_over_baseline": ratio,
                "memory_vs_plates": {
                    "1_plate_peak_rss_mb": lab_small["peak_rss_mb"],
                    f"{a.plates}_plates_peak_rss_mb": lab["peak_rss_mb"],
                },
                "cpu_ms_per_site_by_stage": stages,
                "targets": {
                    "sites_per_core_2x": ratio["sites_per_second_per_core"] >= 2,
                    "sites_per_core_3x": ratio["sites_per_second_per_core"] >= 3,
                    "raw_100_mb_per_core_second": (lab["raw_mb_per_cpu_second"] or 0) >= 100,  # type: ignore[operator]
                    "features_10x": ratio["features_per_cell"] >= 10,
                    "recall_above_baseline": (lab["recall"] or 0) > (base["recall"] or 0),
                },  # type: ignore[operator]
                **extra,
            },
            indent=1,
            default=float,
        )
    )


if __name__ == "__main__":
    main()
