"""RxRx (Recursion) PNGs: `{experiment}/Plate{n}/{well}_s{site}_w{channel}.png`. The plate is named by
its two folders (`HUVEC-01-Plate1`), as the RxRx `metadata.csv` names it."""

from __future__ import annotations

import re
from pathlib import Path

from labstream.layouts.site_tiff import SiteTiff


class RxrxPng(SiteTiff):
    name = "rxrx-png"
    pattern = "{experiment}/Plate{n}/{well}_s{site}_w{channel}.png"
    regex = re.compile(r"^(?P<well>[A-Pa-p]\d{1,2})_s(?P<site>\d+)_w(?P<channel>\d+)\.png$")

    def plate_of(self, m: re.Match[str], path: Path) -> str:
        return f"{path.parent.parent.name}-{path.parent.name}"
