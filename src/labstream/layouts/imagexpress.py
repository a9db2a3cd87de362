"""Molecular Devices ImageXpress (MetaXpress export): `{plate}_{well}_s{site}_w{n}{GUID}.tif`.

MetaXpress appends a GUID to each file (`P1_A01_s1_w1A1B2C3D4-....tif`) and writes `_thumb` previews
beside the images; plate names often hold underscores, so the well, site and wavelength are read from
the right. A name without the GUID is the `site-tiff` layout (same fields). The `.HTD` file of the
plate says which wells and how many sites per well were imaged and what each wavelength is called
(`WaveName1 = "DAPI"`), so a well is complete when its promised sites have landed, not on a timeout.
"""

from __future__ import annotations

import csv
import io
import re
from pathlib import Path

from labstream.core.errors import InputError
from labstream.layouts.base import MicroscopeLayout, PlateMetadata, normalize_well
from labstream.layouts.metadata import MAX_METADATA_BYTES, as_int, find_beside

_GUID = r"[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}"


class ImageXpress(MicroscopeLayout):
    name = "imagexpress"
    pattern = "{plate}_{well}_s{site}_w{n}{GUID}.tif"
    regex = re.compile(
        rf"^(?P<plate>.+)_(?P<well>[A-Pa-p]\d{{1,2}})_s(?P<site>\d+)_w(?P<channel>\d+)"
        rf"(?P<thumb>_thumb)?(?P<guid>{_GUID})?\.tiff?$"
    )

    def parse(self, path: Path):  # type: ignore[no-untyped-def]
        """Only names with the GUID or `_thumb` are ImageXpress's own; the rest are `site-tiff`."""
        m = self.regex.match(path.name)
        if m is None or not (m["guid"] or m["thumb"]):
            return None
        return super().parse(path)

    def fields_of(self, m: re.Match[str], path: Path) -> dict[str, str | int]:
        ch = int(m["channel"])
        if ch < 1:
            raise InputError(str(path), f"wavelength w{ch} does not exist: wavelengths start at w1")
        fields: dict[str, str | int] = {
            "plate": m["plate"],
            "well": normalize_well(m["well"], source=str(path)),
            "site": int(m["site"]),
            "channel": ch,
            "label": f"w{ch}",
            "plane": 1,
        }
        if m["thumb"]:
            fields["role"] = "thumbnail"  # a preview: stored, never measured
        return fields

    def metadata(self, path: Path) -> PlateMetadata | None:
        return htd_beside(path)


def htd_beside(path: Path) -> PlateMetadata | None:
    """The plate's `.HTD` in the image folder or up to two folders above (MetaXpress keeps it beside
    the images; a plate folder holds one)."""
    found = find_beside(path, ("*.HTD", "*.htd"))
    return read_htd(found) if found else None


def read_htd(path: Path) -> PlateMetadata:
    """Wells, sites per well and wavelength names from an HTD (`"Key", value, ...` lines)."""
    src = str(path)
    try:
        if path.stat().st_size > MAX_METADATA_BYTES:
            raise InputError(src, "HTD file is too large to be plate metadata")
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError as err:
        raise InputError(src, f"HTD unreadable ({err})") from err
    values: dict[str, list[str]] = {}
    for row in csv.reader(io.StringIO(text), skipinitialspace=True):
        if row:
            values[row[0].strip().lower()] = [v.strip() for v in row[1:]]
    if "htsinfofile" not in values:
        raise InputError(src, "not an HTD file (no HTSInfoFile line)", hint="point at MetaXpress's .HTD")

    def flag(v: str) -> bool:
        return v.strip().upper() == "TRUE"

    def one(key: str, default: str | None = None) -> str | None:
        v = values.get(key.lower())
        return v[0] if v else default

    sites = 1
    if flag(one("Sites", "FALSE") or "FALSE"):
        selected = [flag(v) for k, vs in values.items() if k.startswith("siteselection") for v in vs]
        sites = (
            sum(selected)
            if selected
            else as_int(one("XSites"), src, "XSites") * as_int(one("YSites"), src, "YSites")
        )
    wells: set[str] = set()
    for k, vs in values.items():
        m = re.fullmatch(r"wellsselection(\d+)", k)
        if m:
            row = int(m.group(1))
            wells |= {
                normalize_well(f"{chr(ord('A') + row - 1)}{c}", source=src)
                for c, v in enumerate(vs, 1)
                if flag(v)
            }
    stains: dict[str, str] = {}
    if flag(one("Waves", "TRUE") or "TRUE"):
        n = as_int(one("NWavelengths", "0"), src, "NWavelengths")
        for i in range(1, n + 1):
            name = one(f"WaveName{i}")
            if name is None:
                raise InputError(src, f"HTD promises {n} wavelengths but has no WaveName{i}")
            stains[f"w{i}"] = name.strip('"')
    if sites < 1:
        raise InputError(src, "HTD selects no site per well", hint="re-export the plate's HTD")
    return PlateMetadata(source=src, stains=stains, sites_per_well=sites, wells=frozenset(wells) or None)
