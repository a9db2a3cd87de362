"""The route stage: a landed microscope file -> one channel event of its site, in any image layout.

It asks the same functions the batch reader uses (reading.sites: `identify`, `plate_channels`) what
the file is and which stain it holds, so a folder streamed through `watch` and profiled in batch is
read the same way. What the plate's metadata says travels on the event: how many members make a
site (stains x planes; one for a file holding every channel), how many sites the plate will have
(the HTD's or the index's sites per well, so a plate is complete without waiting for its watermark)
and which file made that promise (so a promise not kept is quarantined against that file).

A thumbnail is stored by ingest but never routed; a channel the channel map does not name
(brightfield, a fourth dye) is not a stain and is not routed either.
"""

from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path
from typing import Any

import pandas as pd

from labstream.core.errors import InputError
from labstream.core.events import Event
from labstream.layouts.metadata import label_key
from labstream.phenomics.model import CHANNELS, SiteKey
from labstream.phenomics.reading import packed_key, read_platemap
from labstream.phenomics.reading.channels import channel_setting, resolve_channels
from labstream.phenomics.reading.sites import ReadOptions, identify, layout_of, plate_metadata
from labstream.runtime.stage import StageOutput, TaskContext

ZARR_LAYOUT = "ome-zarr-field"  # file.landed events of fields packed by labstream.ingest.zarr_fields
MULTI = -2  # the channel of an event whose file holds every stain (OME-TIFF)
READ_PARAMS = tuple(ReadOptions.model_fields)  # the read settings a route stage's params carry


@lru_cache(maxsize=16)
def platemap_table(path: str) -> pd.DataFrame:
    return read_platemap(path)


def find_platemap(image_path: str, given: str | None) -> str:
    if given:
        return given
    p = Path(image_path).parent
    for folder in [p, *p.parents][:4]:
        if (folder / "platemap.csv").is_file():
            return str(folder / "platemap.csv")
    raise InputError(
        image_path,
        "no platemap.csv next to the image or in the three folders above",
        hint="put the platemap beside the plate or pass platemap= to the pipeline",
    )


def read_options(params: dict[str, Any]) -> ReadOptions:
    return ReadOptions(**{k: params[k] for k in READ_PARAMS if params.get(k) is not None})


def stain_of_file(path: str, opts: ReadOptions) -> tuple[SiteKey, dict[str, Any]] | None:
    """(site, event fields saying which stain(s) the file holds) or None for a file not to route."""
    found = identify(path, opts)
    if found.get("role") == "thumbnail":
        return None
    key = SiteKey(str(found["plate"]), str(found["well"]), int(found["site"]))
    meta = plate_metadata(found, path, opts)
    setting = channel_setting(opts.channels)
    label = label_key(str(found["label"]))
    fields: dict[str, Any] = {"plane": int(found.get("plane") or 1), "projection": opts.projection}
    if meta is not None:
        fields["metadata"] = meta.source
        if meta.sites_per_well:
            fields["sites_per_well"] = meta.sites_per_well
    if layout_of(found, opts).multichannel:
        order = set(meta.channel_order) if meta else set()
        cmap = resolve_channels(order, meta, setting, path)
        pages = {i: int(lab) - 1 for lab, i in cmap.items()}
        return key, {
            **fields,
            "channel": MULTI,
            "pages": [pages[i] for i in range(len(CHANNELS))],
            "members": 1,
        }
    if setting is not None:
        present = set(setting)
    elif meta is not None and meta.stains:
        present = {label_key(lab) for lab in meta.stains}
    else:
        present = None
    cmap = resolve_channels(present or {label}, meta, setting, path, complete=present is not None)
    if label not in cmap:  # a bare number in the map names the channel of that number
        label = next((lab for lab in cmap if lab == re.sub(r"^\D+", "", label)), label)
    if label not in cmap:
        if present is None:
            raise InputError(path, f"channel {found['label']} is not one of the five stains")
        return None
    planes = meta.planes if meta is not None else 1
    return key, {**fields, "channel": cmap[label], "members": len(CHANNELS) * planes}


def route(ctx: TaskContext) -> StageOutput:
    """file.landed -> one channel event keyed by plate, with its site's member and plate's site counts."""
    ev = ctx.event
    opts = read_options(ctx.params)
    instrument = ev.data.get("instrument")
    # ingest identifies files by the built-in layouts; a user's name pattern is a phenomics setting,
    # so files ingest could not place ("unknown") are tried against it here
    if instrument not in (None, "microscope") and not (instrument == "unknown" and opts.name_pattern):
        return StageOutput()
    path = str(ev.data.get("path") or ev.data.get("name"))
    zarr_field = ev.data.get("layout") == ZARR_LAYOUT
    extra: dict[str, Any]
    if zarr_field:  # one packed OME-Zarr field: all channels in one object
        key, extra = packed_key(ev.data, path), {"channel": -1, "members": 1, "layout": ZARR_LAYOUT}
        # the platemap sits beside the plate folder, not beside the field three folders down
        pm_path = find_platemap(f"{ev.data.get('plate_path', path)}/plate", ctx.params.get("platemap"))
    else:
        if instrument == "unknown":
            try:
                identify(path, opts)
            except InputError:  # not a microscope file after all (notes, a CSV): not ours
                return StageOutput()
        routed = stain_of_file(path, opts)
        if routed is None:
            return StageOutput()
        key, extra = routed
        pm_path = find_platemap(path, ctx.params.get("platemap"))
    pm = platemap_table(pm_path)
    plate_wells = pm[pm.Metadata_Plate == key.plate]
    if not ((plate_wells.Metadata_Well == key.well).any()):
        raise InputError(path, f"image of {key.id} has no platemap row in {pm_path}")
    if "sites_per_well" in extra:
        expected = len(plate_wells) * int(extra["sites_per_well"])
    elif "Metadata_sites" in plate_wells:
        expected = int(plate_wells["Metadata_sites"].sum())
    else:
        expected = len(plate_wells) * int(ctx.params.get("sites_per_well", 1))
    data = {
        "plate": key.plate,
        "well": key.well,
        "site": key.site,
        "site_id": key.id,
        "expected_sites": expected,
        "path": path,
        "platemap": pm_path,
        **extra,
    }
    return StageOutput(events=[Event("phenomics.channel", key.plate, data, ev.refs, project=ev.project)])
