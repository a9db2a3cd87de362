"""Revvity Opera Phenix / Operetta CLS, as Harmony exports a measurement:
`{barcode}[__{timestamp}]/Images/r{row:02d}c{col:02d}f{field:02d}p{plane:02d}-ch{n}sk{t}fk1fl1.tiff`
with `Images/Index.idx.xml` (Harmony 5) or `Index.xml` (Harmony 4) beside them.

The file name says row, column, field, plane and channel; the plate is the export folder above
`Images` (Harmony names it after the barcode, with `__` and a timestamp after it). The XML lists every
image written (so a missing file is named, not waited for), each channel's name (the stain), the
pixel size and the barcode. Confocal exports hold several planes per field, combined by the reader's
projection.
"""

from __future__ import annotations

import re
from pathlib import Path

from labstream.core.errors import InputError
from labstream.layouts.base import NumberedPlaneLayout, PlateMetadata
from labstream.layouts.metadata import attr, children, parse_xml, text_of, well_from_row_col

INDEX_NAMES = ("Index.idx.xml", "Index.xml")


class Phenix(NumberedPlaneLayout):
    name = "phenix"
    vendor = "Harmony"
    channel_label = "ch{}"
    pattern = "{barcode}/Images/r{row:02d}c{col:02d}f{field:02d}p{plane:02d}-ch{n}sk{t}fk1fl1.tiff"
    regex = re.compile(
        r"^r(?P<row>\d{2})c(?P<col>\d{2})f(?P<field>\d{2,})p(?P<plane>\d{2,})-ch(?P<channel>\d+)"
        r"sk(?P<timepoint>\d+)fk\d+fl\d+\.tiff?$"
    )

    def plate_of(self, m: re.Match[str], path: Path) -> str:
        return plate_of(path)

    def well_of(self, m: re.Match[str], path: Path) -> str:
        return well_from_row_col(m["row"], m["col"], str(path))

    def metadata(self, path: Path) -> PlateMetadata | None:
        for name in INDEX_NAMES:
            index = path.parent / name
            if index.is_file():
                return read_index(index)
        return None


def plate_of(path: Path) -> str:
    """The export folder's name up to `__` (Harmony's `{barcode}__{timestamp}`)."""
    folder = path.parent.parent if path.parent.name.lower() == "images" else path.parent
    return folder.name.split("__")[0] or folder.name


def read_index(path: Path) -> PlateMetadata:
    """Wells, fields, planes, files, channel names, pixel size and barcode from a Harmony index."""
    src = str(path)
    root = parse_xml(path)
    images = [el for el in children(root, "Image") if text_of(el, "URL") is not None]
    if not images:
        raise InputError(src, "Harmony index lists no images", hint="re-export the measurement")
    files, wells, planes = set(), set(), set()
    fields: dict[str, set[int]] = {}
    stains: dict[str, str] = {}
    pixel_um = None
    for el in images:
        url = text_of(el, "URL") or ""
        files.add(Path(url).name)
        try:
            well = well_from_row_col(text_of(el, "Row") or "", text_of(el, "Col") or "", src)
            fields.setdefault(well, set()).add(int(text_of(el, "FieldID") or 1))
            planes.add(int(text_of(el, "PlaneID") or 1))
            ch = int(text_of(el, "ChannelID") or 0)
        except ValueError as err:
            raise InputError(src, f"image {url!r} has a non-numeric row, column, field or channel") from err
        wells.add(well)
        name = text_of(el, "ChannelName")
        if name and stains.setdefault(f"ch{ch}", name) != name:
            raise InputError(src, f"channel {ch} is called both {stains[f'ch{ch}']!r} and {name!r}")
        res = next((c for c in el if c.tag.endswith("ImageResolutionX")), None)
        if res is not None and res.text and pixel_um is None:
            scale = 1e6 if (attr(res, "Unit") or "m") == "m" else 1.0
            pixel_um = float(res.text) * scale
    barcode = None
    for plate in children(root, "Plate"):
        barcode = text_of(plate, "PlateID") or text_of(plate, "Name") or barcode
    counts = {len(f) for f in fields.values()}
    return PlateMetadata(
        source=src,
        stains=stains,
        sites_per_well=max(counts) if counts else None,
        wells=frozenset(wells),
        files=frozenset(files),
        planes=len(planes) or 1,
        pixel_size_um=pixel_um,
        barcode=barcode,
    )
