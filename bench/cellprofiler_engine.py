"""CellProfiler itself on the bench's simulated sites: the yardstick the issue names.

CellProfiler 5 (the `cellprofiler-nightly` wheels) lives in its own venv, `.venv-cellprofiler`
(`make bench-cellprofiler` builds it): it pins numpy<2 and scipy<1.11, which labstream's venv cannot
share, and it is never a dependency of labstream, its tests or CI. This module runs in labstream's venv
and drives CellProfiler as a headless subprocess, exactly as a lab would run it on a cluster:

    cellprofiler -c -r -p cellpainting.cppipe -i IN -o OUT -e imageio_reader

(`-e imageio_reader`: the default Bio-Formats reader fetches Java jars from Maven at first use, which
fails offline; the TIFFs need no Bio-Formats.) The pipeline comes from `cellprofiler/build_pipeline.py`.
CPU seconds are the child's own (user + sys from `wait4`), split into CellProfiler's per-module CPU
times (its log) and start-up; peak RSS is the child's. BLAS/OpenMP are held to one thread so the
numbers are per core, like labstream's one-worker run.

    python bench/cellprofiler_engine.py --images DIR [--sites N]   # prints one JSON object
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import re
import subprocess
import sys
import tempfile
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

REPO = Path(__file__).resolve().parents[1]
VENV = REPO / ".venv-cellprofiler"
BUILDER = Path(__file__).resolve().parent / "cellprofiler" / "build_pipeline.py"
CHANNELS = ("DNA", "ER", "RNA", "AGP", "Mito")  # w1..w5, as labstream.phenomics.model
OBJECTS = ("Nuclei", "Cells", "Cytoplasm")
_MODULE_LOG = re.compile(
    r"Image # (\d+), module (\w+) # (\d+): CPU_time = ([\d.]+) secs, Wall_time = ([\d.]+)"
)
# identifiers, parent/child links and positions: CellProfiler exports them, but they describe where an
# object is, not what it looks like (pycytominer's feature selection drops them too)
_NOT_FEATURES = re.compile(
    r"^(ImageNumber|ObjectNumber|Metadata_.*|Parent_.*|Children_.*|Number_Object_Number|Location_.*"
    r"|AreaShape_Center_.*|AreaShape_BoundingBox.*)$"
)
_THREADS = {
    v: "1" for v in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMEXPR_NUM_THREADS")
}


@dataclass
class CellProfilerRun:
    """What one headless CellProfiler run cost and produced."""

    sites: int
    cells: pd.DataFrame  # one row per cell: Metadata_* + Nuclei_/Cells_/Cytoplasm_ measurements
    images: pd.DataFrame  # CellProfiler's Image table (counts, execution times, metadata)
    cpu_seconds_total: float  # user + sys of the child, start-up included
    module_cpu_seconds: dict[str, float]  # CellProfiler's own per-module CPU, summed over sites
    wall_seconds: float
    peak_rss_mb: float
    pipeline: str = field(repr=False, default="")

    @property
    def site_cpu_seconds(self) -> float:
        """Steady-state CPU per site: the modules' CPU, without interpreter and pipeline start-up."""
        return sum(self.module_cpu_seconds.values()) / self.sites

    @property
    def feature_columns(self) -> list[str]:
        return [
            c
            for c in self.cells.columns
            if c.startswith(OBJECTS) and not _NOT_FEATURES.match(c.split("_", 1)[1])
        ]


def available() -> bool:
    """True when the separate CellProfiler venv exists (`make bench-cellprofiler`)."""
    return (VENV / "bin" / "cellprofiler").exists()


def write_load_data(images: str | Path, dest: Path, limit: int | None = None) -> list[tuple[str, str, int]]:
    """CellProfiler's LoadData CSV for the TIFF/PNG sites under `images` (first `limit` sites, sorted)."""
    from labstream.phenomics.reading import discover

    sites = discover(images)
    keys = sorted(k for k, files in sites.items() if all(c in files for c in range(len(CHANNELS))))
    keys = keys[:limit] if limit else keys
    if not keys:
        raise SystemExit(f"no complete five-channel TIFF/PNG sites under {images}")
    with open(dest, "w", newline="") as fd:
        w = csv.writer(fd)
        w.writerow(
            ["Metadata_Plate", "Metadata_Well", "Metadata_Site"]
            + [f"FileName_{c}" for c in CHANNELS]
            + [f"PathName_{c}" for c in CHANNELS]
        )
        for k in keys:
            paths = [Path(sites[k][c]).resolve() for c in range(len(CHANNELS))]
            w.writerow([k.plate, k.well, k.site] + [p.name for p in paths] + [str(p.parent) for p in paths])
    return [(k.plate, k.well, k.site) for k in keys]


def run(images: str | Path, work: Path, limit: int | None = None) -> CellProfilerRun:
    """Build the pipeline for these sites' size, run CellProfiler headless on them, read its tables."""
    if not available():
        raise SystemExit(f"{VENV} does not exist: run `make bench-cellprofiler` first")
    import tifffile

    work.mkdir(parents=True, exist_ok=True)
    (work / "in").mkdir(exist_ok=True)
    (work / "out").mkdir(exist_ok=True)
    keys = write_load_data(images, work / "in" / "load_data.csv", limit)
    first = next(iter(pd.read_csv(work / "in" / "load_data.csv").itertuples()))
    size = max(tifffile.imread(Path(first.PathName_DNA) / first.FileName_DNA).shape)
    pipe = work / "cellpainting.cppipe"
    env = {**os.environ, **_THREADS}
    subprocess.run(
        [str(VENV / "bin" / "python"), str(BUILDER), str(pipe), "--size", str(size)], check=True, env=env
    )
    cmd = [str(VENV / "bin" / "cellprofiler"), "-c", "-r", "-p", str(pipe)]
    cmd += [
        "-i",
        str(work / "in"),
        "-o",
        str(work / "out"),
        "-t",
        str(work),
        "-e",
        "imageio_reader",
        "-L",
        "INFO",
    ]
    log_path = work / "cellprofiler.log"
    t0 = time.perf_counter()
    with open(log_path, "w") as log:
        proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=env)
        _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    wall = time.perf_counter() - t0
    text = log_path.read_text()
    if proc.returncode != 0:
        raise RuntimeError(
            f"cellprofiler exited {proc.returncode}; last lines of {log_path}:\n" + text[-3000:]
        )
    return CellProfilerRun(
        sites=len(keys),
        cells=cell_table(work / "out"),
        images=pd.read_csv(work / "out" / "Image.csv"),
        cpu_seconds_total=usage.ru_utime + usage.ru_stime,
        module_cpu_seconds=module_cpu_seconds(text),
        wall_seconds=wall,
        peak_rss_mb=usage.ru_maxrss / 1024,
        pipeline=pipe.read_text(),
    )


def module_cpu_seconds(log: str) -> dict[str, float]:
    """CellProfiler's own CPU seconds per module ("02IdentifyPrimaryObjects"), summed over image sets."""
    modules: dict[str, float] = {}
    for m in _MODULE_LOG.finditer(log):
        name = f"{int(m.group(3)):02d}{m.group(2)}"
        modules[name] = modules.get(name, 0.0) + float(m.group(4))
    return modules


def cell_table(out: Path) -> pd.DataFrame:
    """Join ExportToSpreadsheet's per-object CSVs into one row per cell, pycytominer-style prefixes.

    Cells come from propagation and cytoplasm from subtraction, so every Cells/Cytoplasm object keeps
    its nucleus's number within an image: (ImageNumber, ObjectNumber) is the join key.
    """
    key = ["ImageNumber", "ObjectNumber"]
    meta = ["Metadata_Plate", "Metadata_Well", "Metadata_Site"]
    merged: pd.DataFrame | None = None
    for obj in OBJECTS:
        df = pd.read_csv(out / f"{obj}.csv")
        df = df.rename(columns={c: f"{obj}_{c}" for c in df.columns if c not in key + meta})
        merged = df if merged is None else merged.merge(df.drop(columns=meta), on=key, how="inner")
    assert merged is not None
    return merged


def agreement(res: CellProfilerRun, images: str | Path, truth_csv: str | Path | None) -> dict[str, object]:
    """Per site: nuclei counted by CellProfiler, by labstream and by the simulator; median nucleus area."""
    from labstream.phenomics.features import cell_features
    from labstream.phenomics.image import segment
    from labstream.phenomics.reading import discover, load_site

    sites = {(k.plate, k.well, k.site): (k, f) for k, f in discover(images).items()}
    truth = None
    if truth_csv and Path(truth_csv).exists():
        t = pd.read_csv(truth_csv, dtype={"plate": str, "well": str})
        truth = {(r.plate, r.well, int(r.site)): int(r.n_nuclei) for r in t.itertuples()}
    rows, pairs = [], []
    for img in res.images.itertuples():
        k = (str(img.Metadata_Plate), str(img.Metadata_Well), int(img.Metadata_Site))
        pixels = load_site(*sites[k]).pixels
        seg = segment(pixels)
        ours = cell_features(pixels, seg)
        cp = res.cells[res.cells.ImageNumber == img.ImageNumber]
        pairs.append(_match_cells(cp, ours))
        rows.append(
            {
                "site": "_".join(map(str, k)),
                "truth": truth.get(k) if truth else None,
                "cellprofiler": int(img.Count_Nuclei),
                "labstream": seg.count,
                "cellprofiler_nucleus_area_median": float(cp.Nuclei_AreaShape_Area.median()),
                "labstream_nucleus_area_median": float(ours.Nuclei_AreaShape_Area.median()),
            }
        )
    df = pd.DataFrame(rows)
    out: dict[str, object] = {"per_site": df.to_dict(orient="records")}
    if truth:
        out["sites_exact_cellprofiler"] = int((df.cellprofiler == df.truth).sum())
        out["sites_exact_labstream"] = int((df.labstream == df.truth).sum())
    out["nuclei_total"] = {
        "truth": int(df.truth.sum()) if truth else None,
        "cellprofiler": int(df.cellprofiler.sum()),
        "labstream": int(df.labstream.sum()),
    }
    ratio = df.labstream_nucleus_area_median / df.cellprofiler_nucleus_area_median
    out["nucleus_area_median_ratio_labstream_over_cellprofiler"] = float(np.median(ratio))
    out["same_named_features"] = _feature_agreement(pairs)
    return out


def _match_cells(cp: pd.DataFrame, ours: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The same cell in both tables: mutual nearest cell centres, closer than 3 px."""
    from scipy.spatial import cKDTree

    a = cp[["Cells_Location_Center_Y", "Cells_Location_Center_X"]].to_numpy()
    b = ours[["Metadata_Cell_Y", "Metadata_Cell_X"]].to_numpy()
    if not len(a) or not len(b):
        return cp.iloc[:0], ours.iloc[:0]
    d_ab, ab = cKDTree(b).query(a)
    _, ba = cKDTree(a).query(b)
    keep = [i for i in range(len(a)) if ba[ab[i]] == i and d_ab[i] < 3.0]
    return cp.iloc[keep], ours.iloc[ab[keep]]


def _feature_agreement(pairs: list[tuple[pd.DataFrame, pd.DataFrame]]) -> dict[str, object]:
    """Spearman r across matched cells for every feature both engines name alike (CellProfiler's names).

    Rank correlation, because the engines differ in scale by design (CellProfiler divides 16-bit pixels
    by 65535, its granularity and texture use other scales/gray levels): same kind = same ordering.
    """
    cp = pd.concat([p[0] for p in pairs], ignore_index=True)
    ours = pd.concat([p[1] for p in pairs], ignore_index=True)
    shared = sorted(set(cp.columns) & set(ours.columns) - {"ImageNumber", "ObjectNumber"})
    shared = [c for c in shared if not c.startswith("Metadata_")]
    with warnings.catch_warnings():  # a feature constant in one engine has no r: dropped below
        warnings.simplefilter("ignore")
        r = pd.Series(
            {c: cp[c].astype(float).corr(ours[c].astype(float), method="spearman") for c in shared},
            dtype=float,
        ).dropna()
    family = r.groupby(r.index.str.split("_").str[1]).median()
    return {
        "cells_matched": len(cp),
        "features_same_name": len(shared),
        "features_with_variance_in_both": len(r),
        "median_spearman": float(r.median()) if len(r) else None,
        "share_spearman_above_0_8": float((r > 0.8).mean()) if len(r) else None,
        "median_spearman_by_family": {k: float(v) for k, v in family.items()},
        "weakest": {k: float(v) for k, v in r.sort_values().head(8).items()},
    }


def summary(res: CellProfilerRun, raw_bytes_per_site: int) -> dict[str, object]:
    """The bench's JSON entry for CellProfiler (bench/phenomics.py's engine keys where they apply)."""
    cpu = res.site_cpu_seconds
    per_module = {k: v / res.sites for k, v in sorted(res.module_cpu_seconds.items())}
    return {
        "engine": "cellprofiler",
        "version": _version(),
        "sites": res.sites,
        "cells": len(res.cells),
        "features_per_cell": len(res.feature_columns),
        "columns_per_cell_exported": len(res.cells.columns),
        "site_cpu_seconds": cpu * res.sites,
        "site_cpu_seconds_per_site": cpu,
        "sites_per_second_per_core": 1.0 / cpu if cpu else None,
        "raw_mb_per_cpu_second": raw_bytes_per_site / 1e6 / cpu if cpu else None,
        "module_cpu_seconds_per_site": per_module,
        "startup_cpu_seconds": res.cpu_seconds_total - sum(res.module_cpu_seconds.values()),
        "cpu_seconds_total_with_startup": res.cpu_seconds_total,
        "wall_seconds_total": res.wall_seconds,
        "peak_rss_mb": res.peak_rss_mb,
    }


def bench_entry(paths: dict[str, str], sites: int, labstream: dict[str, object]) -> dict[str, object]:
    """bench/phenomics.py's "cellprofiler" entry: CellProfiler on the first `sites` sites of its images.

    Only a subset: at ~15 CPU s per 256² site CellProfiler would need an hour per default bench run.
    Sites are homogeneous, so per-site costs compare; the map metrics need every site and are not run.
    """
    from labstream.phenomics.reading import discover, load_site

    if not available():
        return {"engine": "cellprofiler", "skipped": f"{VENV} missing: run `make bench-cellprofiler`"}
    with tempfile.TemporaryDirectory(prefix="bench-cellprofiler-") as tmp:
        res = run(paths["images"], Path(tmp), sites or None)
    key, files = sorted(discover(paths["images"]).items())[0]
    out = summary(res, load_site(key, files).nbytes)
    out["agreement"] = agreement(res, paths["images"], Path(paths["platemap"]).parent / "site_truth.csv")
    lab_rate, lab_feats = labstream["sites_per_second_per_core"], labstream["features_per_cell"]
    out["ratios_labstream_over_cellprofiler"] = {
        "sites_per_second_per_core": lab_rate / out["sites_per_second_per_core"],  # type: ignore[operator]
        "features_per_cell": lab_feats / out["features_per_cell"],  # type: ignore[operator]
    }
    return out


def _version() -> str:
    out = subprocess.run([str(VENV / "bin" / "cellprofiler"), "--version"], capture_output=True, text=True)
    return (out.stdout.strip() or out.stderr.strip()).splitlines()[-1] if out.returncode == 0 else "unknown"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--images", required=True)
    ap.add_argument("--sites", type=int, default=6, help="first N sites (sorted); 0 = all")
    ap.add_argument("--truth", help="the simulator's site_truth.csv (default: beside the images folder)")
    ap.add_argument("--keep", help="keep CellProfiler's pipeline, log and CSVs in this folder")
    a = ap.parse_args()
    truth = a.truth or str(Path(a.images).parent / "site_truth.csv")
    with tempfile.TemporaryDirectory(prefix="bench-cellprofiler-") as tmp:
        work = Path(a.keep) if a.keep else Path(tmp)
        res = run(a.images, work, a.sites or None)
        from labstream.phenomics.reading import discover, load_site

        key, files = sorted(discover(a.images).items())[0]
        out = summary(res, load_site(key, files).nbytes)
        out["agreement"] = agreement(res, a.images, truth)
    json.dump(out, sys.stdout, indent=1, default=float)
    print()


if __name__ == "__main__":
    main()
