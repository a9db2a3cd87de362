"""RxRx (Recursion) PNGs: `{experiment}/Plate{n}/{well}_s{site}_w{channel}.png`. The plate is named by
its two folders (`HUVEC-01-Plate1`), as the RxRx `metadata.csv` names it."""

from __future__ import annotations

import re
from pathlib import Path

from labstream.layouts.base import RegexLayout
from labstream.layouts.site_tiff import site_fields


class RxrxPng(RegexLayout):
    name = "rxrx-png"
    instrument = "microscope"
    pattern = "{experiment}/Plate{n}/{well}_s{site}_w{channel}.png"
    regex = re.compile(r"^(?P<well>[A-Pa-p]\d{1,2})_s(?P<site>\d+)_w(?P<channel>\d+)\.png$")

    def fields_of(self, m: re.Match[str], path: Path) -> dict[str, str | int]:
        plate = f"{path.parent.parent.name}-{path.parent.name}"
        return site_fields(plate, m["well"], m["site"], m["channel"], path)
