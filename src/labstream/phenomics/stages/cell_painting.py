"""The phenomics chain as platform stages (runtime.stage), with its lake tables.

    ingest.files ──file.landed──▶ phenomics_route ──▶ phenomics.channels
        ──gather 5 channels of a site──▶ phenomics_site   (rows: cells, site_qc)  ──▶ phenomics.sites
        ──gather all sites of a plate──▶ phenomics_plate  (rows: well_profiles)   ──▶ phenomics.plates
        ──each completed plate──▶ phenomics_map (rows: phenotypic_activity, phenomics_hits) ──▶ feedback

Streaming compromise for illumination (see image/illumination.py): a site's cells are measured on raw pixels
and land in `cells` within seconds; its block-averaged image is stored beside them. When the plate's
last site lands, the plate stage builds the plate's illumination functions, corrects intensity features
at each cell's centre, aggregates and normalises; the map stage then re-aligns all plates completed so
far and publishes hits and a follow-up layout on `feedback`.

OME-Zarr HCS plates arrive field by field: the ingest packs each complete field (all channels) into
one object, so the route emits one channel event for it (channel -1, `layout` ome-zarr-field) and the
site gather expects one member instead of five; the site stage reads it with reading.omezarr, the same
reader the batch chain uses, and a field it cannot read is quarantined naming the plate folder and
the field.

The platemap is found next to the images (`platemap.csv` in the image folder or up to three folders
above) unless the pipeline is given one. A site that cannot be measured (corrupt file, empty field)
is reported in `site_qc` with its error, quarantined in the catalog (source = the file) and counted as
done, so its plate still completes.

Watermarks (GatherSpec.timeout_s) keep gaps from stalling a plate: a site still missing a channel
`site_timeout_s` after its first channel landed fires partially and is quarantined like a bad site
(the problem names the channels it lacks and the files it has); a plate still missing sites
`plate_timeout_s` after its first site fires with what it has: its event and metrics list the
platemap wells that were never imaged, and each such well is quarantined (source = the platemap).
A site or well that lands after its group fired is stored but does not refresh that plate.
"""

from __future__ import annotations

import io
import re

import numpy as np
import pandas as pd

from labstream.core.errors import InputError
from labstream.core.events import Event
from labstream.core.resources import ResourceRequest
from labstream.core.topics import FEEDBACK_TOPIC, FILE_LANDED, INGEST_TOPIC
from labstream.phenomics.image import IlluminationAccumulator
from labstream.phenomics.model import CHANNELS, SiteImage, SiteKey
from labstream.phenomics.profiling import plate_well_profiles
from labstream.phenomics.read_settings import ReadOptions
from labstream.phenomics.reading import Planes, read_channel, read_packed_field, read_source, stack_site
from labstream.phenomics.reading.sites import project
from labstream.phenomics.site import ILLUM_FACTOR, measure_site
from labstream.phenomics.stages.map_stage import map_update
from labstream.phenomics.stages.routing import MULTI, READ_PARAMS, ZARR_LAYOUT, route
from labstream.phenomics.stages.routing import platemap_table as _platemap
from labstream.phenomics.stages.tables import WELLS, parquet_bytes
from labstream.runtime.stage import GatherSpec, Pipeline, Stage, StageOutput, TaskContext

INPUT_TOPIC = INGEST_TOPIC
CHANNELS_TOPIC = "phenomics.channels"
SITES_TOPIC = "phenomics.sites"
PLATES_TOPIC = "phenomics.plates"


def _missing_channels(key: SiteKey, evs: list[Event]) -> InputError:
    have = sorted({int(e.data["channel"]) for e in evs})  # 0-based: the stain's index
    lack = [f"w{c + 1} ({name})" for c, name in enumerate(CHANNELS) if c not in have]
    files = ", ".join(str(e.data["path"]) for e in evs)
    return InputError(
        files,
        f"site {key.id} lacks channel(s) {', '.join(lack)}: only {len(evs)} of "
        f"{evs[0].data.get('members', len(CHANNELS))} files "
        "landed before its watermark",
        hint="re-export the missing channel images; the rest of the plate is processed without this site",
    )


def _read_site(ctx: TaskContext, key: SiteKey, evs: list[Event]) -> SiteImage:
    """A site from its channel events: one file per stain (and plane), or one file of every stain."""
    store = ctx.store()
    d = evs[0].data
    if int(d["channel"]) == MULTI:  # OME-TIFF: the stains are pages, in the order the route found
        with store.local_path(evs[0].refs[0].uri) as local:
            sources = [Planes((str(local),), page=int(pg)) for pg in d["pages"]]
            try:
                planes = [read_source(sources[0])]
                planes += [read_source(src, planes[0].shape) for src in sources[1:]]
            except InputError as err:
                raise InputError(str(d["path"]), err.problem, hint=err.hint) from err
        return stack_site(key, planes, tuple(f"{d['path']} (page {pg + 1})" for pg in d["pages"]))
    if ctx.partial or len(evs) < int(d.get("members", len(CHANNELS))):
        raise _missing_channels(key, evs)
    by_stain: dict[int, list[np.ndarray]] = {}
    for ev in evs:
        with store.local_path(ev.refs[0].uri) as local:
            try:
                first = next(iter(by_stain.values()), [None])[0]
                arr = read_channel(local, None if first is None else first.shape)
            except InputError as err:
                raise InputError(str(ev.data["path"]), err.problem, hint=err.hint) from err
        by_stain.setdefault(int(ev.data["channel"]), []).append(arr)
    planes = [project(by_stain[c], str(d.get("projection", "max"))) for c in range(len(CHANNELS))]
    return stack_site(key, planes, tuple(str(e.data["path"]) for e in evs))


def _problem(err: InputError) -> tuple[str, str]:
    return err.source, err.problem + (f" (record {err.record})" if err.record else "")


def site(ctx: TaskContext) -> StageOutput:
    """All channels of a site -> QC + per-cell features (rows now) + stored cells for the plate step."""
    evs = sorted(ctx.events, key=lambda e: int(e.data["channel"]))
    d = evs[0].data
    key = SiteKey(str(d["plate"]), str(d["well"]), int(d["site"]))
    store = ctx.store()
    base = {"Metadata_Plate": key.plate, "Metadata_Well": key.well, "Metadata_Site": key.site}
    out_data = {
        k: d[k]
        for k in ("plate", "well", "site", "site_id", "expected_sites", "platemap", "metadata")
        if k in d
    }
    try:
        if d.get("layout") == ZARR_LAYOUT:
            with store.local_path(evs[0].refs[0].uri) as local:
                image = read_packed_field(local, str(d["path"]), len(CHANNELS))
            res = measure_site(SiteImage(key, image.pixels, image.sources))
        else:
            res = measure_site(_read_site(ctx, key, evs))
    except InputError as err:
        row = {**base, "qc_pass": False, "n_cells": 0, "error": err.problem, "source": err.source}
        ev = Event(
            "phenomics.site",
            key.plate,
            {**out_data, "status": "quarantined", "error": str(err)},
            project=evs[0].project,
        )
        return StageOutput(
            rows={"site_qc": [row]}, events=[ev], metrics={"quarantined": 1.0}, quarantined=[_problem(err)]
        )
    stem = f"phenomics/sites/{key.plate}/{key.well}_s{key.site}"
    cells_ref = store.put_derived(f"{stem}.cells.parquet", parquet_bytes(res.cells))
    buf = io.BytesIO()
    np.save(buf, res.illum_small)
    illum_ref = store.put_derived(f"{stem}.illum.npy", buf.getvalue())
    ev = Event(
        "phenomics.site",
        key.plate,
        {
            **out_data,
            "status": "ok",
            "n_cells": len(res.cells),
            "qc_pass": bool(res.qc["qc_pass"]),
            "height": res.full_shape[0],
            "width": res.full_shape[1],
        },
        refs=(cells_ref, illum_ref),
        project=evs[0].project,
    )
    qc_row = {**res.qc, "source": ", ".join(res.sources)}
    return StageOutput(
        rows={"cells": res.cells, "site_qc": [qc_row]},
        objects=[cells_ref, illum_ref],
        events=[ev],
        metrics={"cells": float(len(res.cells)), "site_seconds": res.seconds},
    )


def plate(ctx: TaskContext) -> StageOutput:
    """All sites of a plate -> illumination-corrected, aggregated, normalised well profiles."""
    store = ctx.store()
    illum = IlluminationAccumulator(ILLUM_FACTOR)
    cells, passed = [], set()
    for ev in ctx.events:
        if ev.data.get("status") != "ok":
            continue
        cells.append(pd.read_parquet(io.BytesIO(store.get_bytes(ev.refs[0].uri))))
        small = np.load(io.BytesIO(store.get_bytes(ev.refs[1].uri)))
        illum.add_small(small, (int(ev.data["height"]), int(ev.data["width"])))
        if ev.data.get("qc_pass"):
            passed.add((str(ev.data["plate"]), str(ev.data["well"]), int(ev.data["site"])))
    d = ctx.events[0].data
    pm = _platemap(str(d["platemap"]))
    imaged = {str(ev.data["well"]) for ev in ctx.events}
    planned = pm.loc[pm.Metadata_Plate == str(d["plate"]), "Metadata_Well"].astype(str)
    missing_wells = sorted(set(planned) - imaged)
    missing_sites = max(0, int(d["expected_sites"]) - len(ctx.events))
    quarantined = [
        (
            str(d["platemap"]),
            f"plate {d['plate']} well {w}: in the platemap but no image landed before the plate's "
            "watermark; the plate was profiled without it",
        )
        for w in missing_wells
    ]
    if missing_sites and d.get("metadata"):  # the instrument's metadata promised them (HTD, index)
        quarantined.append(
            (
                str(d["metadata"]),
                f"plate {d['plate']}: promises {d['expected_sites']} sites, only {len(ctx.events)} arrived "
                "before the plate's watermark; the plate was profiled without the missing ones",
            )
        )
    if not cells:
        raise InputError(f"plate {d['plate']}", "no site of the plate could be measured")
    wells = plate_well_profiles(pd.concat(cells, ignore_index=True), pm, illum, passed)
    wells = wells[[c for c in WELLS.columns.names if c in wells.columns]]  # platemap extras stay out
    # one folder per project: the map of a project is built from that project's plates only
    project = _safe(ctx.events[0].project)
    ref = store.put_derived(
        f"phenomics/wells/{project}/{_safe(str(d['plate']))}.parquet", parquet_bytes(wells)
    )
    ev = Event(
        "phenomics.plate",
        str(d["plate"]),
        {
            "plate": d["plate"],
            "wells": len(wells),
            "platemap": d["platemap"],
            "partial": bool(ctx.partial),
            "missing_wells": missing_wells,
            "missing_sites": missing_sites,
        },
        refs=(ref,),
        project=ctx.events[0].project,
    )
    metrics = {"wells": float(len(wells)), "missing_wells": float(len(missing_wells))}
    metrics["missing_sites"] = float(missing_sites)
    return StageOutput(
        rows={"well_profiles": wells},
        objects=[ref],
        events=[ev],
        metrics=metrics,
        quarantined=quarantined,
    )


def _safe(name: str) -> str:
    """A path segment that cannot climb out of its folder (project and plate ids come from users)."""
    cleaned = re.sub(r"[^A-Za-z0-9_.-]", "_", name).lstrip(".")
    return cleaned or "_"


def pipeline(
    platemap: str | None = None,
    relationships: str | None = None,
    sites_per_well: int = 1,
    input_topic: str = INPUT_TOPIC,
    feedback_topic: str = FEEDBACK_TOPIC,
    site_timeout_s: float | None = 120.0,
    plate_timeout_s: float | None = 3600.0,
    read: ReadOptions | None = None,
) -> Pipeline:
    """The four stages. `site_timeout_s` / `plate_timeout_s` are the gather watermarks (None: wait for
    complete groups forever): counted from the first channel of a site / first site of a plate.
    `read` holds the reading settings (layout, name_pattern, channels, projection) the route uses."""
    common = {"platemap": platemap, "sites_per_well": sites_per_well}
    common.update({k: v for k in READ_PARAMS if read and (v := getattr(read, k)) is not None})
    return Pipeline(
        "phenomics",
        (
            Stage(
                "phenomics_route",
                "1",
                input_topic,
                route,
                output_topic=CHANNELS_TOPIC,
                accepts=(FILE_LANDED,),
                params=common,
                resources=ResourceRequest(cpu=0.25),
            ),
            Stage(
                "phenomics_site",
                "1",
                CHANNELS_TOPIC,
                site,
                output_topic=SITES_TOPIC,
                accepts=("phenomics.channel",),
                resources=ResourceRequest(cpu=1, memory_mb=300),
                gather=GatherSpec(_site_id, _five, _channel, timeout_s=site_timeout_s),
            ),
            Stage(
                "phenomics_plate",
                "1",
                SITES_TOPIC,
                plate,
                output_topic=PLATES_TOPIC,
                accepts=("phenomics.site",),
                resources=ResourceRequest(cpu=1, memory_mb=1000),
                gather=GatherSpec(_plate, _expected_sites, _site_id, timeout_s=plate_timeout_s),
            ),
            Stage(
                "phenomics_map",
                "1",
                PLATES_TOPIC,
                map_update,
                output_topic=feedback_topic,
                accepts=("phenomics.plate",),
                params={"relationships": relationships},
            ),
        ),
    )


def _site_id(e: Event) -> str:
    return str(e.data["site_id"])


def _five(e: Event) -> int:
    """Files of a site: one per stain and plane, or one file (OME-TIFF, a packed OME-Zarr field)."""
    return int(e.data.get("members", len(CHANNELS)))


def _channel(e: Event) -> str:
    return f"{e.data['channel']}:{e.data.get('plane', 1)}"


def _plate(e: Event) -> str:
    return str(e.data["plate"])


def _expected_sites(e: Event) -> int:
    return int(e.data["expected_sites"])
