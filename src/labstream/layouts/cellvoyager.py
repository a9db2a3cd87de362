"""Yokogawa CellVoyager CV7000 / CV8000:

    {plate}_{well}_T{t:04d}F{field:03d}L{l:02d}A{a:02d}Z{z:02d}C{c:02d}.tif

with `MeasurementData.mlf` (one record per image written: row, column, field, z, channel, file name)
and `MeasurementDetail.mrf` (per channel: pixel size; a `Target` stain name where the protocol set one).

T is the timepoint, F the field (the site), L the timeline, A the action, Z the plane and C the
camera channel. The plate name may hold underscores: the well and the rest are read from the right.
"""

from __future__ import annotations

import re
from pathlib import Path

from labstream.core.errors import InputError
from labstream.layouts.base import NumberedPlaneLayout, PlateMetadata
from labstream.layouts.metadata import attr, children, parse_xml, well_from_row_col

MLF, MRF = "MeasurementData.mlf", "MeasurementDetail.mrf"


class CellVoyager(NumberedPlaneLayout):
    name = "cellvoyager"
    vendor = "CellVoyager"
    channel_label = "C{:02d}"
    pattern = "{plate}_{well}_T{t:04d}F{field:03d}L{l:02d}A{a:02d}Z{z:02d}C{c:02d}.tif"
    regex = re.compile(
        r"^(?P<plate>.+)_(?P<well>[A-Pa-p]\d{2})_T(?P<timepoint>\d{4})F(?P<field>\d{3})L(?P<l>\d{2})"
        r"A(?P<a>\d{2})Z(?P<plane>\d{2})C(?P<channel>\d{2})\.tiff?$"
    )

    def metadata(self, path: Path) -> PlateMetadata | None:
        mlf, mrf = path.parent / MLF, path.parent / MRF
        if not mlf.is_file():
            return None
        return read_measurement(mlf, mrf if mrf.is_file() else None)


def read_measurement(mlf: Path, mrf: Path | None) -> PlateMetadata:
    """Files, wells, fields and planes from the .mlf; channel names and pixel size from the .mrf."""
    src = str(mlf)
    records = [
        el for el in children(parse_xml(mlf), "MeasurementRecord") if attr(el, "Type") in (None, "IMG")
    ]
    if not records:
        raise InputError(src, "CellVoyager measurement lists no images", hint="re-export the measurement")
    files, planes = set(), set()
    fields: dict[str, set[int]] = {}
    for el in records:
        try:
            well = well_from_row_col(attr(el, "Row") or "", attr(el, "Column") or "", src)
            fields.setdefault(well, set()).add(int(attr(el, "FieldIndex") or 1))
            planes.add(int(attr(el, "ZIndex") or 1))
        except ValueError as err:
            raise InputError(
                src, f"record {el.text!r} has a non-numeric row, column, field or plane"
            ) from err
        files.add(Path((el.text or "").strip()).name)
    stains: dict[str, str] = {}
    pixel_um = None
    if mrf is not None:
        for ch in children(parse_xml(mrf), "MeasurementChannel"):
            num, target = attr(ch, "Ch"), attr(ch, "Target")
            if num and target:
                stains[f"C{int(num):02d}"] = target
            size = attr(ch, "HorizontalPixelDimension")
            if size and pixel_um is None:
                pixel_um = float(size)
    return PlateMetadata(
        source=src,
        stain_source=str(mrf) if mrf is not None else None,
        stains=stains,
        sites_per_well=max(len(f) for f in fields.values()),
        wells=frozenset(fields),
        files=frozenset(files),
        planes=len(planes),
        pixel_size_um=pixel_um,
    )
