"""The whole phenomics chain as plain functions over a folder (no platform needed).

Plate by plate, in bounded memory: each site is measured on its raw pixels as it is read (in a
process pool), its block-averaged image feeds the plate's illumination accumulator, and when the
plate's last site is done its cells are corrected, aggregated per well and normalised; the cells of
that plate are then written out and dropped. Across plates only well profiles are kept, for
alignment and the map. Bad sites are quarantined with their InputError and the rest goes on.
"""

from __future__ import annotations

import json
import multiprocessing as mp
import time
from collections.abc import Callable
from concurrent.futures import Executor, ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
import psutil

from labstream.core.errors import InputError
from labstream.phenomics.image import IlluminationAccumulator
from labstream.phenomics.model import SiteKey
from labstream.phenomics.profiling import MapResult, activity_records, build_map, plate_well_profiles
from labstream.phenomics.reading import (
    ReadOptions,
    SiteFiles,
    Source,
    discover,
    read_platemap,
    read_relationships,
    rxrx_listed_sites,
)
from labstream.phenomics.site import ILLUM_FACTOR, SiteResult, process_site

Progress = Callable[[str, int, int], None]  # (phase, done, total)


@dataclass
class ChainResult:
    map: MapResult
    well_profiles: pd.DataFrame  # normalised (not yet aligned) per plate x well
    qc: pd.DataFrame
    quarantined: list[dict[str, str]]
    metrics: dict[str, object] = field(default_factory=dict)
    platemap: pd.DataFrame | None = None  # for the figures: plate format, controls, empty wells
    relationships: pd.DataFrame | None = None  # known pairs, marked on the similarity map


def check_layout(sites: SiteFiles, platemap: pd.DataFrame) -> tuple[SiteFiles, list[InputError]]:
    """Keep sites that have platemap rows; report images without rows and wells without images."""
    mapped = set(zip(platemap.Metadata_Plate, platemap.Metadata_Well, strict=True))
    keep: SiteFiles = {}
    errors: list[InputError] = []
    for key, files in sites.items():
        if (key.plate, key.well) in mapped:
            keep[key] = files
        else:
            src = str(next(iter(files.values())))
            errors.append(
                InputError(
                    src,
                    f"image of {key.id} has no platemap row",
                    hint="add the well to the platemap or remove the image",
                )
            )
    imaged = {(k.plate, k.well) for k in sites}
    for plate, well in sorted(mapped - imaged):
        errors.append(
            InputError(
                f"platemap {plate}/{well}", "well has no images", hint="the well is left out of the profiles"
            )
        )
    return keep, errors


def _run_site(args: tuple[SiteKey, dict[int, Source], str]) -> SiteResult | InputError:
    key, files, segmenter = args
    try:
        return process_site(key, files, segmenter=segmenter)
    except InputError as err:
        return err


def measure_plates(
    sites: SiteFiles,
    platemap: pd.DataFrame,
    *,
    workers: int = 1,
    segmenter: str = "classic",
    progress: Progress | None = None,
    cells_dir: Path | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame, list[InputError], dict[str, float]]:
    """Measure every site plate by plate -> (normalised well profiles, site QC, errors, stats)."""
    by_plate: dict[str, list[SiteKey]] = {}
    for key in sorted(sites):
        by_plate.setdefault(key.plate, []).append(key)
    total, done = len(sites), 0
    wells, qcs, errors = [], [], []
    stats = {"sites": 0, "cells": 0, "raw_bytes": 0, "site_cpu_seconds": 0.0}
    # forkserver, not fork: this may run inside a process with other libraries' threads (the API, a test
    # session), and a fork of such a process can crash the child
    pool: Executor | None = (
        ProcessPoolExecutor(workers, mp_context=mp.get_context("forkserver")) if workers > 1 else None
    )
    try:
        for plate, keys in by_plate.items():
            illum = IlluminationAccumulator(ILLUM_FACTOR)
            cells, passed = [], set()
            jobs = [(k, sites[k], segmenter) for k in keys]
            results = pool.map(_run_site, jobs, chunksize=2) if pool else map(_run_site, jobs)
            for res in results:
                done += 1
                if isinstance(res, InputError):
                    errors.append(res)
                else:
                    illum.add_small(res.illum_small, res.full_shape)
                    cells.append(res.cells)
                    qcs.append(res.qc)
                    if res.qc["qc_pass"]:
                        passed.add((res.key.plate, res.key.well, res.key.site))
                    stats["sites"] += 1
                    stats["cells"] += len(res.cells)
                    stats["raw_bytes"] += res.raw_bytes
                    stats["site_cpu_seconds"] += res.cpu_seconds
                if progress:
                    progress("sites", done, total)
            if not cells:
                continue
            plate_cells = pd.concat(cells, ignore_index=True)
            if cells_dir is not None:
                cells_dir.mkdir(parents=True, exist_ok=True)
                plate_cells.to_parquet(cells_dir / f"{plate}.parquet", index=False)
            wells.append(plate_well_profiles(plate_cells, platemap, illum, passed))
            del plate_cells, cells
    finally:
        if pool:
            pool.shutdown()
    well_df = pd.concat(wells, ignore_index=True) if wells else pd.DataFrame()
    return well_df, pd.DataFrame(qcs), errors, stats


def nothing_measured(images: str | Path, found: SiteFiles, errors: list[InputError]) -> InputError:
    """Why a run measured no site, said in the error itself (the quarantine list is never written when
    the run stops here): a folder with no image at all, or the first problems of the ones it had."""
    if not found:
        files = sorted(p.name for p in Path(images).rglob("*") if p.is_file())
        seen = ", ".join(files[:3]) + (f" and {len(files) - 3} more" if len(files) > 3 else "")
        return InputError(
            str(images),
            f"no microscope image found ({len(files)} file(s){': ' + seen if files else ''})",
            hint="pass the folder the microscope wrote; --layout or --name-pattern if its names are unusual",
        )
    first = "; ".join(f"{Path(e.source).name}: {e.problem}" for e in errors[:3])
    return InputError(
        str(images),
        f"no site could be measured ({len(errors)} problem(s), first: {first})",
        hint="fix those files or the platemap and run again",
    )


def profile_directory(
    images: str | Path,
    platemap: str | Path,
    out: str | Path | None = None,
    relationships: str | Path | None = None,
    *,
    workers: int = 1,
    segmenter: str = "classic",
    progress: Progress | None = None,
    figures: bool = True,
    seed: int = 0,
    read: ReadOptions | None = None,
) -> ChainResult:
    """Run the chain on a folder of images; write outputs under `out` when given. `read` forces a
    layout, declares a name pattern, maps channels to stains or chooses the z projection."""
    t0 = time.perf_counter()
    pm = read_platemap(platemap)
    rel = read_relationships(relationships) if relationships else None
    name_errors: list[InputError] = []
    found = discover(images, name_errors, read)
    sites, layout_errors = check_layout(found, pm)
    layout_errors = name_errors + layout_errors
    for key, meta in sorted(rxrx_listed_sites(images).items()):
        if key not in found:
            layout_errors.append(InputError(meta, f"lists site {key.id} but no image of it was found"))
    out_dir = Path(out) if out else None
    wells, qc, site_errors, stats = measure_plates(
        sites,
        pm,
        workers=workers,
        segmenter=segmenter,
        progress=progress,
        cells_dir=out_dir / "cells" if out_dir else None,
    )
    t_sites = time.perf_counter() - t0
    if wells.empty:
        raise nothing_measured(images, found, layout_errors + site_errors)
    result = build_map(wells, rel, seed=seed)
    errors = layout_errors + site_errors
    quarantined = [{"source": e.source, "problem": e.problem} for e in errors]
    wall = time.perf_counter() - t0
    metrics: dict[str, object] = {
        **result.metrics,
        "activity": activity_records(result.activity),
        "qc": {
            "sites_total": len(sites),
            "sites_measured": int(stats["sites"]),
            "sites_quarantined": len(site_errors),
            "layout_problems": len(layout_errors),
            "blurry": int(qc.blurry.sum()) if len(qc) else 0,
            "saturated": int(qc.saturated.sum()) if len(qc) else 0,
            "cells": int(stats["cells"]),
        },
        "sites_per_second": stats["sites"] / t_sites if t_sites else 0.0,
        "site_cpu_seconds_per_site": stats["site_cpu_seconds"] / max(stats["sites"], 1),
        "raw_mb_per_second": stats["raw_bytes"] / 1e6 / t_sites if t_sites else 0.0,
        "wall_seconds": wall,
        "workers": workers,
        "peak_rss_mb": psutil.Process().memory_info().rss / 1e6,
        "quarantined": quarantined,
    }
    chain = ChainResult(result, wells, qc, quarantined, metrics, pm, rel)
    if out_dir is not None:
        write_outputs(chain, out_dir, figures=figures)
    return chain


def write_outputs(chain: ChainResult, out: Path, *, figures: bool = True) -> None:
    out.mkdir(parents=True, exist_ok=True)
    chain.map.wells.to_parquet(out / "well_profiles.parquet", index=False)
    chain.map.perturbations.to_parquet(out / "perturbation_profiles.parquet", index=False)
    chain.well_profiles.to_parquet(out / "well_profiles_normalized.parquet", index=False)
    chain.qc.to_csv(out / "site_qc.csv", index=False)
    chain.map.hits.to_csv(out / "hits.csv", index=False)
    chain.map.layout.to_csv(out / "follow_up_layout.csv", index=False)
    (out / "metrics.json").write_text(json.dumps(chain.metrics, indent=2, default=float))
    if figures:
        from labstream.phenomics.profiling import qc_heatmaps, similarity_map

        qc_heatmaps(chain.qc, out, chain.platemap)
        similarity_map(
            chain.map.perturbations,
            out / "similarity_map.png",
            hits=chain.map.hits,
            relationships=chain.relationships,
        )
