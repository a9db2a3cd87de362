"""What a microscope's own metadata file says about a plate, read once per plate by every image layout.

File names alone say which plate, well, field, plane and channel a file holds; the export's metadata
file (ImageXpress `.HTD`, Harmony `Index.xml`, CellVoyager `.mlf`/`.mrf`, the OME-XML inside an
OME-TIFF) says what was *planned*: the stain in each channel, the fields per well, the wells, every
file written. That is how a well is known complete without waiting on a timeout, how a channel map
comes from stain names, and how a file the export promised but never wrote is named as missing.

Metadata is instrument output and untrusted: XML is parsed with defusedxml (no entities, no DTD
fetches), and anything unreadable is an InputError naming the metadata file.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from xml.etree.ElementTree import Element  # nosec B405 - types only; parsing goes through defusedxml

from labstream.core.errors import InputError

__all__ = ["PlateMetadata", "local", "parse_xml", "well_from_row_col"]

MAX_METADATA_BYTES = 64 * 1024 * 1024  # a 1536-well Harmony Index.xml is ~50 MB


@dataclass(frozen=True)
class PlateMetadata:
    """A plate as its metadata file describes it. Every field but `source` is optional: a layout
    fills what its instrument writes. `stains` maps a channel label (as the image names spell it,
    e.g. `w1`, `ch2`, `C03`) to the channel's name in the metadata (`Hoechst 33342`, `DAPI`, ...)."""

    source: str
    stains: Mapping[str, str] = field(default_factory=dict)
    sites_per_well: int | None = None
    wells: frozenset[str] | None = None
    files: frozenset[str] | None = None  # file names the export lists (Harmony, CellVoyager)
    planes: int = 1
    pixel_size_um: float | None = None
    barcode: str | None = None
    channel_order: tuple[str, ...] = ()  # labels in the order a multi-channel file stores them
    stain_source: str | None = None  # the file naming the stains, when not `source` (CellVoyager .mrf)


def parse_xml(path: str | Path, text: bytes | None = None) -> Element:
    """The root of an untrusted XML file, or InputError naming it (too big, malformed, hostile)."""
    from defusedxml import DefusedXmlException
    from defusedxml.ElementTree import fromstring

    p = Path(path)
    try:
        if text is None:
            if p.stat().st_size > MAX_METADATA_BYTES:
                raise InputError(str(p), f"metadata file is over {MAX_METADATA_BYTES >> 20} MB")
            text = p.read_bytes()
        return fromstring(text)
    except InputError:
        raise
    except (OSError, DefusedXmlException) as err:
        raise InputError(str(p), f"metadata unreadable ({err.__class__.__name__}: {err})") from err
    except Exception as err:  # ElementTree.ParseError and expat errors
        raise InputError(
            str(p), f"metadata is not well-formed XML ({err})", hint="re-export the plate's metadata"
        ) from err


def local(tag: str) -> str:
    """`{namespace}Name` -> `Name`: instruments change namespace versions between releases."""
    return tag.rsplit("}", 1)[-1]


def children(el: Element, name: str) -> list[Element]:
    return [c for c in el.iter() if local(c.tag) == name]


def text_of(el: Element, name: str) -> str | None:
    for c in el:
        if local(c.tag) == name:
            return (c.text or "").strip()
    return None


def attr(el: Element, name: str) -> str | None:
    """An attribute by local name, whatever namespace prefix the instrument gave it."""
    for k, v in el.attrib.items():
        if local(k) == name:
            return v
    return None


def well_from_row_col(row: int | str, col: int | str, source: str) -> str:
    r, c = int(row), int(col)
    if not (1 <= r <= 16 and 1 <= c <= 48):
        raise InputError(source, f"row {r} column {c} is not a plate well (rows 1-16, columns 1-48)")
    return f"{chr(ord('A') + r - 1)}{c:02d}"


def label_key(label: str | int) -> str:
    """The comparable form of a channel label: case and zero padding do not matter (`C01` == `c1`)."""
    return re.sub(r"\d+", lambda m: str(int(m.group())), str(label).strip().lower())


def find_beside(path: Path, names: tuple[str, ...], depth: int = 2) -> Path | None:
    """The first of `names` (exact or glob) in the image's folder or up to `depth` folders above."""
    for folder in [path.parent, *path.parent.parents][: depth + 1]:
        for name in names:
            hits = sorted(folder.glob(name)) if any(ch in name for ch in "*?[") else [folder / name]
            for h in hits:
                if h.is_file():
                    return h
    return None


def as_int(value: Any, source: str, what: str) -> int:
    try:
        return int(str(value).strip())
    except (TypeError, ValueError) as err:
        raise InputError(source, f"{what} {value!r} is not a whole number") from err
