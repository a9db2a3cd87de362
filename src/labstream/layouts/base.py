"""What a file layout is: one parser that says what an instrument file is, from its path alone.

A layout is how an instrument (or its export software) names the files it writes. The same parser
answers both questions the platform asks about a file: at ingest, which entity it belongs to (the
event key that keeps a plate's or a sample's events in order) and what it is (its identity); in a
stage, which plate/well/site/channel or sample/read/chunk it holds. Nothing else in labstream parses
an instrument file name, so streaming and batch can never disagree about a folder.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol, runtime_checkable

from labstream.core.errors import InputError
from labstream.layouts.metadata import PlateMetadata

__all__ = [
    "FileIdentity",
    "Layout",
    "MicroscopeLayout",
    "NumberedPlaneLayout",
    "PlateMetadata",
    "RegexLayout",
    "normalize_well",
]

_WELL = re.compile(r"^([A-P])(\d{1,2})$")


def normalize_well(well: str, *, source: str = "platemap") -> str:
    """`a1`, `A1`, `A01` -> `A01`: the zero-padded form every layout, reader and table uses."""
    m = _WELL.match(str(well).strip().upper())
    if not m or not 1 <= int(m.group(2)) <= 48:
        raise InputError(
            source, f"well {well!r} is not a plate well like A01", hint="use a row letter and a column number"
        )
    return f"{m.group(1)}{int(m.group(2)):02d}"


@dataclass(frozen=True)
class FileIdentity:
    """What one instrument file is. `key` is the entity it belongs to (a plate or a sample); `fields`
    are what the layout read from its path (plate, well, site, channel; sample, read, chunk, total)."""

    layout: str
    instrument: str  # microscope | sequencer | unknown
    key: str
    fields: Mapping[str, str | int] = field(default_factory=dict)

    def __getitem__(self, name: str) -> str | int:
        return self.fields[name]

    def get(self, name: str, default: str | int | None = None) -> str | int | None:
        return self.fields.get(name, default)

    @property
    def name(self) -> str:
        """A stable text form of the identity, e.g. `site-tiff:plate=P1,well=A01,site=1,channel=2`."""
        inner = ",".join(f"{k}={v}" for k, v in self.fields.items())
        return f"{self.layout}:{inner}"


@runtime_checkable
class Layout(Protocol):
    """An instrument file layout. Contract: `parse` is pure (reads no file, only the path) and returns
    None for a path this layout does not describe; it raises InputError (naming the path) for a path
    that matches the layout's shape but holds an impossible value (well Z99, channel 0)."""

    name: str
    instrument: str
    pattern: str  # the naming rule in words, for error messages and `--help`
    # True when the fields alone say which file this is anywhere in a lab (a plate's well, site and
    # channel): ingest then takes them as the file's identity, so a copy in another folder is the same
    # file. False when the folder matters too (FASTQ of one sample from two runs are two files).
    identifies: bool

    def parse(self, path: Path) -> FileIdentity | None: ...


class RegexLayout:
    """A layout whose file names one regular expression with named groups describes. Subclasses set
    `name`, `instrument`, `pattern`, `regex` and turn the groups into fields in `fields_of`."""

    name: str = ""
    instrument: str = "unknown"
    pattern: str = ""
    identifies: bool = False
    regex: re.Pattern[str]

    def parse(self, path: Path) -> FileIdentity | None:
        m = self.regex.match(path.name)
        if m is None:
            return None
        fields = self.fields_of(m, path)
        return FileIdentity(self.name, self.instrument, self.key_of(fields), fields)

    def fields_of(self, m: re.Match[str], path: Path) -> dict[str, str | int]:
        return dict(m.groupdict())

    def key_of(self, fields: Mapping[str, str | int]) -> str:
        return str(fields.get("plate") or fields.get("sample") or "")


class MicroscopeLayout(RegexLayout):
    """An image layout. Its identities carry `plate`, `well`, `site`, `channel` (a number; 0 when one
    file holds every channel), `label` (the channel as the name spells it, what a channel map names)
    and `plane` (z index, 1 when the layout has none). `metadata` reads the export's own metadata file
    for the plate an image belongs to (None when the layout has none or it is not there yet); unlike
    `parse` it reads files, so callers cache it per plate."""

    instrument = "microscope"
    multichannel = False  # one file holds every channel of a site (OME-TIFF)

    def metadata(self, path: Path) -> PlateMetadata | None:
        return None


class NumberedPlaneLayout(MicroscopeLayout):
    """A vendor layout of one plane image per file whose name numbers, from 1, the field (the site),
    plane, channel and timepoint: the regex groups `field`, `plane`, `channel` and `timepoint`
    (CellVoyager, Harmony). Subclasses name the `vendor` (for the error), how the name spells a channel
    (`channel_label`, formatted with its number) and, where they differ, `plate_of` and `well_of`."""

    vendor = ""
    channel_label = "{}"

    def plate_of(self, m: re.Match[str], path: Path) -> str:
        return m["plate"]

    def well_of(self, m: re.Match[str], path: Path) -> str:
        return normalize_well(m["well"], source=str(path))

    def fields_of(self, m: re.Match[str], path: Path) -> dict[str, str | int]:
        ch, field, plane = int(m["channel"]), int(m["field"]), int(m["plane"])
        if min(ch, field, plane) < 1:
            raise InputError(str(path), f"{self.vendor} numbers fields, planes and channels from 1")
        return {
            "plate": self.plate_of(m, path),
            "well": self.well_of(m, path),
            "site": field,
            "channel": ch,
            "label": self.channel_label.format(ch),
            "plane": plane,
            "timepoint": int(m["timepoint"]),
        }
