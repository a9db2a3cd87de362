"""Instrument file layouts: one adapter per layout, one registry, used by ingest and by the stages.

    detect(path)                      -> FileIdentity of the first layout that describes the path
    parse(path, "site-tiff")          -> FileIdentity, or InputError naming the path and the rule
    LAYOUTS["fastq-chunk"].pattern    -> the naming rule in words

Order matters in `detect`: specific layouts come before general ones (a simulator chunk name is also a
FASTQ name). A path no layout describes gets the `unknown` identity keyed by its stem; stages that need
a layout refuse it with a clear error, and ingest still stores it (a lab may watch other files too).
"""

from __future__ import annotations

import difflib
from pathlib import Path

from labstream.core.errors import ConfigError, InputError
from labstream.layouts.base import FileIdentity, Layout, MicroscopeLayout, RegexLayout, normalize_well
from labstream.layouts.cellvoyager import CellVoyager
from labstream.layouts.fastq import Fastq
from labstream.layouts.fastq_chunk import FastqChunk
from labstream.layouts.illumina_fastq import IlluminaFastq
from labstream.layouts.illumina_run import IlluminaRun, run_root
from labstream.layouts.imagexpress import ImageXpress
from labstream.layouts.metadata import PlateMetadata
from labstream.layouts.minknow import MinknowBam, MinknowFastq, MinknowRun, minknow_root
from labstream.layouts.ome_tiff import OmeTiff
from labstream.layouts.ome_zarr import OmeZarr
from labstream.layouts.pattern import NamePattern
from labstream.layouts.phenix import Phenix
from labstream.layouts.rxrx_png import RxrxPng
from labstream.layouts.site_tiff import SiteTiff

__all__ = [
    "IMAGE_LAYOUTS",
    "LAYOUTS",
    "FileIdentity",
    "Layout",
    "MicroscopeLayout",
    "NamePattern",
    "PlateMetadata",
    "RegexLayout",
    "UNKNOWN",
    "detect",
    "get_layout",
    "image_layouts",
    "minknow_root",
    "normalize_well",
    "parse",
    "run_root",
]

UNKNOWN = "unknown"

LAYOUTS: dict[str, Layout] = {
    layout.name: layout
    for layout in (
        Phenix(),
        CellVoyager(),
        ImageXpress(),
        OmeTiff(),
        SiteTiff(),
        RxrxPng(),
        OmeZarr(),
        FastqChunk(),
        IlluminaFastq(),
        IlluminaRun(),
        MinknowFastq(),
        MinknowBam(),
        MinknowRun(),
        Fastq(),
    )
}
# layouts of one image file per site and channel (or per site: OME-TIFF), read by phenomics.reading
IMAGE_LAYOUTS = ("phenix", "cellvoyager", "imagexpress", "ome-tiff", "site-tiff", "rxrx-png")


def image_layouts(layout: str | None = None, name_pattern: str | None = None) -> tuple[Layout, ...]:
    """The image layouts a phenomics run reads: the one forced by `layout` (`pattern` is the user's
    `name_pattern`), else the user's pattern (if any) before every built-in layout."""
    user = (NamePattern(name_pattern),) if name_pattern else ()
    if layout == "pattern":
        if not user:
            raise ConfigError("layout 'pattern' needs a name_pattern setting; set one or choose a layout")
        return user
    if layout:
        if layout not in IMAGE_LAYOUTS:  # a sequencer's layout or a typo: name the image layouts only
            known = (*IMAGE_LAYOUTS, "pattern")
            guess = difflib.get_close_matches(layout, known, n=1)
            hint = f" (did you mean {guess[0]!r}?)" if guess else ""
            raise ConfigError(f"unknown image layout {layout!r}{hint}; use one of: {', '.join(known)}")
        return (get_layout(layout),)
    return user + tuple(LAYOUTS[n] for n in IMAGE_LAYOUTS)


def get_layout(name: str) -> Layout:
    if name not in LAYOUTS:
        raise ConfigError(f"unknown file layout {name!r}; use one of: {', '.join(LAYOUTS)}")
    return LAYOUTS[name]


def detect(path: str | Path, layouts: tuple[str | Layout, ...] | None = None) -> FileIdentity:
    """The identity of `path` under the first layout (of `layouts`, names or layouts; default all)
    that describes it."""
    p = Path(path)
    for name in layouts or tuple(LAYOUTS):
        found = (get_layout(name) if isinstance(name, str) else name).parse(p)
        if found is not None:
            return found
    return FileIdentity(UNKNOWN, "unknown", p.stem, {})


def parse(path: str | Path, layouts: str | tuple[str | Layout, ...]) -> FileIdentity:
    """Like `detect`, but a path none of `layouts` describes is bad input (named, with the rules)."""
    names = (layouts,) if isinstance(layouts, str) else layouts
    found = detect(path, names)
    if found.layout == UNKNOWN:
        rules = " or ".join((get_layout(n) if isinstance(n, str) else n).pattern for n in names)
        raise InputError(
            str(path), f"file name does not follow the {rules} layout", hint="rename it or choose its layout"
        )
    return found
