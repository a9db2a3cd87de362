"""A user-declared layout: a regular expression with named fields, as CellProfiler's metadata
extraction, for any export labstream has no adapter for.

    (?P<plate>.+)_(?P<well>[A-P][0-9]{2})_f(?P<site>\\d+)_(?P<channel>\\w+)\\.tif

`plate`, `well` and `channel` are required; `site` and `plane` default to 1. The channel is kept as
written (`DNA`, `w1`, `488`) for the channel map; when it is a number it also counts as one.
"""

from __future__ import annotations

import re
from pathlib import Path

from labstream.core.errors import ConfigError
from labstream.layouts.base import MicroscopeLayout, normalize_well

REQUIRED = ("plate", "well", "channel")


class NamePattern(MicroscopeLayout):
    name = "pattern"

    def __init__(self, regex: str) -> None:
        try:
            self.regex = re.compile(regex)
        except re.error as err:
            raise ConfigError(
                f"name pattern {regex!r} is not a regular expression ({err}); fix the `name_pattern` setting"
            ) from err
        missing = [g for g in REQUIRED if g not in self.regex.groupindex]
        if missing:
            raise ConfigError(
                f"name pattern {regex!r} lacks the named field(s) {missing}; "
                "write them as (?P<plate>...), (?P<well>...), (?P<channel>...)"
            )
        self.pattern = regex

    def parse(self, path: Path):  # type: ignore[no-untyped-def]
        m = self.regex.fullmatch(path.name)
        return None if m is None else super().parse(path)

    def fields_of(self, m: re.Match[str], path: Path) -> dict[str, str | int]:
        groups = m.groupdict()
        label = str(groups["channel"])
        return {
            "plate": str(groups["plate"]),
            "well": normalize_well(str(groups["well"]), source=str(path)),
            "site": int(groups.get("site") or 1),
            "channel": int(label) if label.isdigit() else -1,
            "label": label,
            "plane": int(groups.get("plane") or 1),
        }
