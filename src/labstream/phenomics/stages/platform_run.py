"""Profile a folder through the platform (ingest -> stream -> stages -> lake) on embedded defaults.

The same science as `chain.profile_directory`, but every file is ingested into the object store, every
stage runs on the executor with lineage, and the outputs are read back from the lake tables, so the
run leaves a queryable lake behind (`labstream sql` on `cells`, `site_qc`, `well_profiles`, ...).
OME-Zarr plates go in field by field, each field packed into one object by the ingest
(labstream.ingest.zarr_fields); a field that is not complete is reported, the rest goes on.
"""

from __future__ import annotations

import time
from pathlib import Path

import pandas as pd

from labstream.core.errors import InputError
from labstream.core.settings import Settings
from labstream.phenomics.chain import ChainResult, Progress, check_layout, write_outputs
from labstream.phenomics.profiling import activity_records, build_map
from labstream.phenomics.reading import (
    Planes,
    ReadOptions,
    Source,
    discover,
    read_platemap,
    read_relationships,
)


def _paths(src: Source) -> tuple[str, ...]:
    return src.paths if isinstance(src, Planes) else (src,)


def _zarr_field(path: str):  # type: ignore[no-untyped-def]
    """'X/plate.zarr/row/col/field' (as readers.discover names a field) -> its ingest unit."""
    from labstream.ingest.zarr_fields import ZarrField

    plate, _, rel = path.partition(".zarr/")
    row, col, field = rel.split("/")
    return ZarrField(Path(plate + ".zarr"), row, col, field)


def profile_via_platform(
    images: str | Path,
    platemap: str | Path,
    out: str | Path,
    relationships: str | Path | None = None,
    *,
    settings: Settings | None = None,
    executor_url: str = "local",
    progress: Progress | None = None,
    figures: bool = True,
    read: ReadOptions | None = None,
) -> ChainResult:
    from labstream.ingest import Ingestor
    from labstream.ingest.zarr_fields import FieldNotReady
    from labstream.phenomics.stages.cell_painting import pipeline
    from labstream.runtime import PipelineRunner

    t0 = time.perf_counter()
    out = Path(out)
    settings = settings or Settings(home=out / ".labstream")
    pm = read_platemap(platemap)
    name_errors: list[InputError] = []
    found = discover(images, name_errors, read)
    sites, layout_errors = check_layout(found, pm)
    layout_errors = name_errors + layout_errors
    per_well = max((k.site for k in sites), default=1)
    files = sorted({p for k in sorted(sites) for src in sites[k].values() for p in _paths(src)})
    ingestor = Ingestor(settings)
    for i, f in enumerate(files, 1):
        if ".zarr/" in f:  # an OME-Zarr field (readers.discover): packed and claimed as one unit
            try:
                res = ingestor.ingest_zarr_field(_zarr_field(f))
                if res.status == "quarantined":
                    layout_errors.append(InputError(res.path, str(res.error)))
            except FieldNotReady as err:  # nobody is writing it any more: it stays incomplete
                ingestor.quarantine_source(err)
                layout_errors.append(err)
        else:
            ingestor.ingest_file(f, instrument="microscope")
        if progress:
            progress("ingest", i, len(files))
    pipe = pipeline(
        platemap=str(platemap),
        relationships=str(relationships) if relationships else None,
        sites_per_well=per_well,
        read=read,
    )
    with PipelineRunner(settings, pipe, executor_url) as runner:
        status = runner.run_until_idle(timeout=3600)
        # every file is in: sites still missing a channel and plates still missing wells fire now
        # with what they have (the streaming watermark, without waiting for it), stage by stage
        for w in runner.workers:
            if w.fire_expired(all_open=True):
                status = runner.run_until_idle(timeout=3600)
        qc = runner.lake.read("site_qc").to_pandas()
        wells = (
            runner.lake.read("well_profiles").to_pandas()
            if "well_profiles" in runner.lake.tables()
            else pd.DataFrame()
        )
    t_sites = time.perf_counter() - t0
    if wells.empty:
        raise InputError(str(images), "no plate completed", hint="see site_qc and the quarantine list")
    wells = wells.drop(columns=["lineage_id", "project", "_ingested_at"], errors="ignore")
    rel = read_relationships(relationships) if relationships else None
    result = build_map(wells, rel)
    bad = qc[qc.error.notna()]
    quarantined = [{"source": e.source, "problem": e.problem} for e in layout_errors]
    quarantined += [{"source": str(r.source), "problem": str(r.error)} for r in bad.itertuples()]
    measured = qc[qc.error.isna()]
    metrics: dict[str, object] = {
        **result.metrics,
        "activity": activity_records(result.activity),
        "qc": {
            "sites_total": len(sites),
            "sites_measured": len(measured),
            "sites_quarantined": len(bad),
            "layout_problems": len(layout_errors),
            "blurry": int(measured.blurry.fillna(False).sum()),
            "saturated": int(measured.saturated.fillna(False).sum()),
            "cells": int(measured.n_cells.fillna(0).sum()),
        },
        "sites_per_second": len(measured) / t_sites if t_sites else 0.0,
        "wall_seconds": time.perf_counter() - t0,
        "platform": {"home": str(settings.home), "stages": status},
        "quarantined": quarantined,
    }
    chain = ChainResult(
        result,
        wells,
        measured.drop(columns=["lineage_id", "project", "_ingested_at"], errors="ignore"),
        quarantined,
        metrics,
        pm,
        rel,
    )
    write_outputs(chain, out, figures=figures)
    return chain
