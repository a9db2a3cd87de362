"""Which instrument wrote a file and which entity (plate, sample) it belongs to, from its name.

The key orders events of one entity on one partition; it is a routing hint, not science: stages re-parse
names with their own readers and reject what they cannot read.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

IMAGEXPRESS = re.compile(
    r"^(?P<plate>[^_]+)_(?P<well>[A-P]\d{2})_s(?P<site>\d+)_w(?P<channel>\d)\.tiff?$", re.I
)
RXRX = re.compile(r"^(?P<well>[A-P]\d{2})_s(?P<site>\d+)_w(?P<channel>\d)\.png$", re.I)
FASTQ = re.compile(
    r"^(?P<sample>.+?)(?:[._-](?:chunk|part|c)?\d+(?:of\d+)?)?(?:[._-]R?[12])?\.f(?:ast)?q(?:\.gz)?$", re.I
)

IGNORED_SUFFIXES = (".tmp", ".part", ".partial", ".crdownload", ".swp", ".lock")
SIDECAR_SUFFIXES = (".meta.json", ".meta.csv")  # metadata written beside an instrument file, read with it


@dataclass(frozen=True)
class FileKind:
    instrument: str  # microscope | sequencer | unknown
    key: str  # plate or sample


def is_sidecar(path: Path) -> bool:
    """`<file>.meta.json|csv`: metadata of another file (it may name a patient), not data of its own."""
    return path.name.lower().endswith(SIDECAR_SUFFIXES)


def is_temporary(path: Path) -> bool:
    """Files an instrument is still writing: hidden names and common temporary suffixes."""
    return path.name.startswith((".", "~")) or path.name.lower().endswith(IGNORED_SUFFIXES)


def detect(path: Path) -> FileKind:
    name = path.name
    if m := IMAGEXPRESS.match(name):
        return FileKind("microscope", m["plate"])
    if RXRX.match(name):
        return FileKind("microscope", path.parent.name)
    if name.lower().endswith((".zarr", ".ome.zarr")):
        return FileKind("microscope", name.split(".")[0])
    if m := FASTQ.match(name):
        return FileKind("sequencer", m["sample"])
    return FileKind("unknown", path.stem)
