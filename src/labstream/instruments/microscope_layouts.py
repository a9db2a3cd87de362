"""The microscope simulator's writers for real instrument exports, metadata files included.

Each writer puts the same pixels into the files and metadata one instrument's export software would
write, so tests and the demo exercise the parsers the platform ships, and the same pixels through
any layout must give the same `cells` rows:

    imagexpress  {plate}/{plate}_{well}_s{site}_w{n}{GUID}.tif + `_thumb` previews + {plate}.HTD
    phenix       {plate}/Images/r..c..f..p..-ch{n}sk1fk1fl1.tiff (2 planes) + Images/Index.idx.xml
    cellvoyager  {plate}/{plate}_{well}_T0001F...L01A01Z01C...tif + MeasurementData.mlf + .mrf
    ome-tiff     {plate}_{well}_s{site}.ome.tif, all channels in one file, OME channel names
    pattern      {plate}_{well}_f{site}_{stain}.tif, read with PATTERN as a user-declared layout

Phenix, CellVoyager and OME-TIFF store the channels in a lab's order (not DNA first), named after
their dyes, so the channel map from metadata is what puts them right. Phenix's second plane is
dimmer than the first, so its maximum projection is the site's pixels exactly.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from pathlib import Path
from xml.sax.saxutils import escape, quoteattr

import numpy as np

from labstream.phenomics.model import CHANNELS, SiteKey, well_row_col

__all__ = ["DYES", "INSTRUMENT_LAYOUTS", "PATTERN", "write_instrument_metadata", "write_instrument_site"]

INSTRUMENT_LAYOUTS = ("imagexpress", "phenix", "cellvoyager", "ome-tiff", "pattern")
DYES = {
    "DNA": "Hoechst 33342",
    "ER": "Alexa Fluor 488 Concanavalin A",
    "RNA": "SYTO 14",
    "AGP": "Phalloidin/WGA 568",
    "Mito": "MitoTracker Deep Red",
}
LAB_ORDER = ("AGP", "DNA", "Mito", "ER", "RNA")  # acquisition order of the "lab" layouts
PATTERN = r"(?P<plate>.+)_(?P<well>[A-P][0-9]{2})_f(?P<site>\d+)_(?P<channel>\w+)\.tif"
PIXEL_UM = 0.65
Writer = Callable[[Path, Callable[[Path], None]], None]


def _order(layout: str) -> tuple[str, ...]:
    return LAB_ORDER if layout in ("phenix", "cellvoyager", "ome-tiff") else CHANNELS


def _guid(name: str) -> str:
    return str(uuid.uuid5(uuid.NAMESPACE_URL, name)).upper()


def _phenix_name(key: SiteKey, plane: int, ch: int) -> str:
    r, c = well_row_col(key.well)
    return f"r{r + 1:02d}c{c + 1:02d}f{key.site:02d}p{plane:02d}-ch{ch}sk1fk1fl1.tiff"


def _cv_name(key: SiteKey, ch: int) -> str:
    return f"{key.plate}_{key.well}_T0001F{key.site:03d}L01A01Z01C{ch:02d}.tif"


def write_instrument_site(
    root: Path, key: SiteKey, pixels: np.ndarray, layout: str, write: Writer
) -> list[Path]:
    """Write one site's files in `layout` with `write(path, fn)` (atomic); returns the paths."""
    import tifffile

    paths: list[Path] = []

    def put(path: Path, array: np.ndarray, **kw: object) -> None:
        write(path, lambda t, a=array: tifffile.imwrite(t, a, **kw))
        paths.append(path)

    by_stain = {s: pixels[i] for i, s in enumerate(CHANNELS)}
    order = _order(layout)
    folder = root / key.plate
    if layout == "imagexpress":
        for n, stain in enumerate(order, 1):
            stem = f"{key.plate}_{key.well}_s{key.site}_w{n}"
            put(folder / f"{stem}{_guid(stem)}.tif", by_stain[stain])
            put(folder / f"{stem}_thumb{_guid(stem + 'thumb')}.tif", by_stain[stain][::4, ::4].copy())
    elif layout == "phenix":
        for n, stain in enumerate(order, 1):
            for plane in (1, 2):
                img = by_stain[stain] if plane == 1 else by_stain[stain] // 2
                put(folder / "Images" / _phenix_name(key, plane, n), img)
    elif layout == "cellvoyager":
        for n, stain in enumerate(order, 1):
            put(folder / _cv_name(key, n), by_stain[stain])
    elif layout == "ome-tiff":
        stack = np.stack([by_stain[s] for s in order])
        meta = {"axes": "CYX", "Channel": {"Name": [DYES[s] for s in order]}, "PhysicalSizeX": PIXEL_UM}
        put(root / f"{key.plate}_{key.well}_s{key.site}.ome.tif", stack, ome=True, metadata=meta)
    elif layout == "pattern":
        for stain in order:
            put(folder / f"{key.plate}_{key.well}_f{key.site}_{stain}.tif", by_stain[stain])
    else:
        raise ValueError(f"layout {layout!r} is not an instrument layout; use one of {INSTRUMENT_LAYOUTS}")
    return paths


def write_instrument_metadata(
    root: Path, plate: str, wells: list[str], sites: int, layout: str, write: Writer
) -> list[Path]:
    """The plate's metadata files, written before its first image (as the instruments do for HTD
    and .mrf; Harmony and CellVoyager list every image, which the plan knows in advance)."""
    order = _order(layout)
    keys = [SiteKey(plate, w, s) for w in wells for s in range(1, sites + 1)]
    folder = root / plate
    if layout == "imagexpress":
        path, text = folder / f"{plate}.HTD", _htd(plate, wells, sites)
    elif layout == "phenix":
        path, text = folder / "Images" / "Index.idx.xml", _harmony(plate, keys, order)
    elif layout == "cellvoyager":
        write(folder / "MeasurementDetail.mrf", lambda t: t.write_text(_mrf(order)))
        path, text = folder / "MeasurementData.mlf", _mlf(keys, order)
        write(path, lambda t: t.write_text(text))
        return [folder / "MeasurementDetail.mrf", path]
    else:
        return []
    write(path, lambda t: t.write_text(text))
    return [path]


def _htd(plate: str, wells: list[str], sites: int) -> str:
    rows = max(well_row_col(w)[0] for w in wells) + 1
    cols = max(well_row_col(w)[1] for w in wells) + 1
    selected = {well_row_col(w) for w in wells}
    lines = ['"HTSInfoFile", Version 1.0', f'"Description", "{plate}"', '"TimePoints", 1']
    lines += [f'"XWells", {cols}', f'"YWells", {rows}']
    for r in range(rows):
        flags = ", ".join("TRUE" if (r, c) in selected else "FALSE" for c in range(cols))
        lines.append(f'"WellsSelection{r + 1}", {flags}')
    lines += ['"Sites", TRUE', f'"XSites", {sites}', '"YSites", 1']
    lines.append('"SiteSelection1", ' + ", ".join(["TRUE"] * sites))
    lines += ['"Waves", TRUE', f'"NWavelengths", {len(CHANNELS)}']
    for n, stain in enumerate(CHANNELS, 1):
        lines += [f'"WaveName{n}", "{DYES[stain]}"', f'"WaveCollect{n}", 1']
    lines += [f'"UniquePlateIdentifier", "{_guid(plate)}"', '"EndFile"']
    return "\r\n".join(lines) + "\r\n"


def _harmony(plate: str, keys: list[SiteKey], order: tuple[str, ...]) -> str:
    ns = "http://www.perkinelmer.com/PEHH/HarmonyV5"
    images = []
    for key in keys:
        r, c = well_row_col(key.well)
        for n, stain in enumerate(order, 1):
            for plane in (1, 2):
                images.append(
                    f'<Image Version="1"><id>{r + 1:02d}{c + 1:02d}K1F{key.site}P{plane}R{n}</id>'
                    f"<URL>{_phenix_name(key, plane, n)}</URL><Row>{r + 1}</Row><Col>{c + 1}</Col>"
                    f"<FieldID>{key.site}</FieldID><PlaneID>{plane}</PlaneID><TimepointID>1</TimepointID>"
                    f"<ChannelID>{n}</ChannelID><ChannelName>{escape(DYES[stain])}</ChannelName>"
                    f'<ImageResolutionX Unit="m">{PIXEL_UM * 1e-6:.3E}</ImageResolutionX></Image>'
                )
    return (
        f'<?xml version="1.0" encoding="utf-8"?>\n<EvaluationInputData xmlns="{ns}" Version="2">'
        f"<Plates><Plate><PlateID>{escape(plate)}</PlateID><Name>{escape(plate)}</Name></Plate></Plates>"
        f"<Images>{''.join(images)}</Images></EvaluationInputData>\n"
    )


_XML = '<?xml version="1.0" encoding="utf-8"?>\n'
_BTS = 'xmlns:bts="http://www.yokogawa.co.jp/BTS/BTSSchema/1.0"'


def _mlf(keys: list[SiteKey], order: tuple[str, ...]) -> str:
    recs = []
    for key in keys:
        r, c = well_row_col(key.well)
        for n in range(1, len(order) + 1):
            recs.append(
                f'<bts:MeasurementRecord bts:Type="IMG" bts:TimelineIndex="1" bts:Row="{r + 1}" '
                f'bts:Column="{c + 1}" bts:FieldIndex="{key.site}" bts:ZIndex="1" bts:Ch="{n}">'
                f"{escape(_cv_name(key, n))}</bts:MeasurementRecord>"
            )
    return f"{_XML}<bts:MeasurementData {_BTS}>{''.join(recs)}</bts:MeasurementData>\n"


def _mrf(order: tuple[str, ...]) -> str:
    chans = "".join(
        f'<bts:MeasurementChannel bts:Ch="{n}" bts:Target={quoteattr(DYES[s])} '
        f'bts:HorizontalPixelDimension="{PIXEL_UM}" bts:VerticalPixelDimension="{PIXEL_UM}"/>'
        for n, s in enumerate(order, 1)
    )
    return f"{_XML}<bts:MeasurementDetail {_BTS}>{chans}</bts:MeasurementDetail>\n"
