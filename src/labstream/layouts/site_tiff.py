"""One TIFF per channel: `{plate}_{well}_s{site}_w{channel}.tif` (labstream's microscope simulator and
ImageXpress-style exports without the wavelength GUID). Plate names may hold underscores
(`BR00_117_A01_s1_w1.tif` is plate BR00_117): the well, site and channel are read from the right.
An ImageXpress `.HTD` beside the images is read as this layout's metadata too (same instrument)."""

from __future__ import annotations

import re
from pathlib import Path

from labstream.core.errors import InputError
from labstream.layouts.base import MicroscopeLayout, PlateMetadata, normalize_well


class SiteTiff(MicroscopeLayout):
    name = "site-tiff"
    pattern = "{plate}_{well}_s{site}_w{channel}.tif"
    identifies = True
    regex = re.compile(r"^(?P<plate>.+)_(?P<well>[A-Pa-p]\d{1,2})_s(?P<site>\d+)_w(?P<channel>\d+)\.tiff?$")

    def plate_of(self, m: re.Match[str], path: Path) -> str:
        return m["plate"]

    def fields_of(self, m: re.Match[str], path: Path) -> dict[str, str | int]:
        """The fields of a site file, checked: channel numbers start at 1."""
        ch = int(m["channel"])
        if ch < 1:
            raise InputError(str(path), f"channel w{ch} does not exist: channels are numbered from w1")
        well = normalize_well(m["well"], source=str(path))
        return {
            "plate": self.plate_of(m, path),
            "well": well,
            "site": int(m["site"]),
            "channel": ch,
            "label": f"w{ch}",
            "plane": 1,
        }

    def metadata(self, path: Path) -> PlateMetadata | None:
        from labstream.layouts.imagexpress import htd_beside

        return htd_beside(path)
