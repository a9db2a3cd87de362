"""From a folder of microscope files to sites: which files make up each site's five stains.

Every image layout (labstream.layouts) says what a file is from its name; this module groups the
files of a plate, reads the plate's metadata file once (HTD, Harmony index, CellVoyager .mlf/.mrf,
OME-XML), turns channel labels into stains through the plate's channel map (reading.channels), and
checks the files against what the metadata promised, so a missing file, a missing well or a missing
site is an error naming the metadata file rather than a silent gap. The stream stage routes with the
same functions (`identify`, `plate_channels`), so watch and profile cannot disagree about a folder.

A channel held in several files (z planes) is a `Planes` entry combined by a projection; a channel
inside a multi-channel file (OME-TIFF) is a `Planes` entry with its `page`.
"""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

from labstream.core.errors import InputError
from labstream.layouts import (
    FileIdentity,
    MicroscopeLayout,
    PlateMetadata,
    get_layout,
    parse,
)
from labstream.layouts.metadata import label_key
from labstream.phenomics.model import CHANNELS, SiteImage, SiteKey
from labstream.phenomics.read_settings import ReadOptions
from labstream.phenomics.reading.channels import channel_setting, resolve_channels
from labstream.phenomics.reading.files import read_channel, stack_site, stack_tiffs


@dataclass(frozen=True)
class Planes:
    """One stain of a site held in several files (planes, combined by `projection`) or in one page of a
    multi-channel file (`page` >= 0)."""

    paths: tuple[str, ...]
    page: int = -1
    projection: str = "max"

    def __str__(self) -> str:
        return f"{self.paths[0]} (channel {self.page + 1})" if self.page >= 0 else ", ".join(self.paths)


Source = str | Planes
SiteFiles = dict[SiteKey, dict[int, Source]]


def identify(path: str | Path, options: ReadOptions | None = None) -> FileIdentity:
    """A microscope file's identity under the run's layouts; InputError naming the file otherwise."""
    return parse(path, (options or ReadOptions()).layouts())


def parse_name(path: str | Path, options: ReadOptions | None = None) -> tuple[SiteKey, int]:
    """(site, stain index) of a one-channel file, by its channel number (1..5 = DNA..Mito)."""
    found = identify(path, options)
    ch = int(found["channel"])
    if not 1 <= ch <= len(CHANNELS):
        raise InputError(str(path), f"channel {found['label']} is not one of 1..{len(CHANNELS)}")
    return SiteKey(str(found["plate"]), str(found["well"]), int(found["site"])), ch - 1


def layout_of(found: FileIdentity, options: ReadOptions) -> MicroscopeLayout:
    lay = next((x for x in options.layouts() if x.name == found.layout), None) or get_layout(found.layout)
    assert isinstance(lay, MicroscopeLayout)  # noqa: S101 - image layouts are MicroscopeLayouts
    return lay


@lru_cache(maxsize=64)
def _metadata(layout: MicroscopeLayout, path: str, _mtime_key: str) -> PlateMetadata | None:
    return layout.metadata(Path(path))


def plate_metadata(found: FileIdentity, path: str | Path, options: ReadOptions) -> PlateMetadata | None:
    """The metadata of the plate `path` belongs to, read once per folder and per 5 s (a stream routes
    thousands of files of one plate; metadata an export writes last is picked up within seconds)."""
    lay = layout_of(found, options)
    key = str(path) if lay.multichannel else str(Path(path).parent / "_")
    return _metadata(lay, key, str(int(time.monotonic() // 5)))


def plate_channels(
    found: FileIdentity, path: str | Path, labels: set[str], options: ReadOptions
) -> tuple[dict[str, int], PlateMetadata | None]:
    """{label key: stain index} for the plate of `path` (and its metadata); InputError as resolve."""
    meta = plate_metadata(found, path, options)
    if layout_of(found, options).multichannel:
        labels = set(meta.channel_order) if meta else set()
    return resolve_channels(labels, meta, channel_setting(options.channels), str(path)), meta


def discover(
    folder: str | Path, errors: list[InputError] | None = None, options: ReadOptions | None = None
) -> SiteFiles:
    """Find every site under `folder` in whichever layout it uses (mixed layouts are allowed).

    A file no layout reads, a plate whose channels do not cover the five stains, and every promise
    of the metadata the files do not keep are bad input: with `errors` they are appended there (the
    caller quarantines them) and every other site is still found; without, the first one raises."""
    from labstream.phenomics.reading.omezarr import discover_zarr

    opts = options or ReadOptions()
    root = Path(folder)
    if not root.exists():
        raise InputError(str(root), "image folder does not exist")

    def bad(err: InputError) -> None:
        if errors is None:
            raise err
        errors.append(err)

    sites: SiteFiles = defaultdict(dict)
    by_plate: dict[tuple[str, str, str], list[tuple[FileIdentity, Path]]] = defaultdict(list)
    for p in sorted(root.rglob("*")):
        if p.name.startswith(".") or any(part.startswith(".") for part in p.relative_to(root).parts[:-1]):
            continue
        if p.is_dir() and p.name.endswith(".zarr"):
            for key, field in discover_zarr(p):
                sites[key][-1] = field
        elif p.is_file() and ".zarr" not in str(p) and p.suffix.lower() in (".tif", ".tiff", ".png"):
            try:
                found = identify(p, opts)
            except InputError as err:
                bad(err)
                continue
            if found.get("role") == "thumbnail":
                continue
            group = str(p) if layout_of(found, opts).multichannel else str(p.parent)
            by_plate[(found.layout, str(found["plate"]), group)].append((found, p))
    for members in by_plate.values():
        try:
            _add_plate(members, opts, sites, bad)
        except InputError as err:
            bad(err)
    return dict(sites)


def _add_plate(members, opts: ReadOptions, sites: SiteFiles, bad) -> None:  # type: ignore[no-untyped-def]
    first, first_path = members[0]
    labels = {str(f["label"]) for f, _ in members}
    cmap, meta = plate_channels(first, first_path, labels, opts)
    planes: dict[SiteKey, dict[int, list[str]]] = defaultdict(lambda: defaultdict(list))
    unmapped: dict[str, list[str]] = {}
    for found, p in members:
        key = SiteKey(str(found["plate"]), str(found["well"]), int(found["site"]))
        if layout_of(found, opts).multichannel:
            for lab, idx in cmap.items():
                sites[key][idx] = Planes((str(p),), page=int(lab) - 1)
            continue
        idx = cmap.get(label_key(str(found["label"])))
        if idx is not None:
            planes[key][idx].append(str(p))
        else:  # a channel the map does not name (brightfield) is not a stain: not read, but said
            unmapped.setdefault(str(found["label"]), []).append(str(p))
    for label, paths in sorted(unmapped.items()):
        bad(
            InputError(
                paths[0],
                f"channel {label} maps to no Cell Painting stain: its {len(paths)} file(s) were not read",
                hint="name it in the `channels` setting if it holds a stain",
            )
        )
    for key, chans in planes.items():
        for idx, paths in chans.items():
            sites[key][idx] = (
                paths[0] if len(paths) == 1 else Planes(tuple(sorted(paths)), projection=opts.projection)
            )
    if meta is not None:
        for err in check_promises(meta, {k for k in planes}, [p for _, p in members]):
            bad(err)


def check_promises(meta: PlateMetadata, keys: set[SiteKey], paths: list[Path]) -> list[InputError]:
    """What the metadata promised and the files do not keep, each named against the metadata file."""
    errs: list[InputError] = []
    names = {p.name for p in paths}
    if meta.files is not None:
        lost = sorted(meta.files - names)
        if lost:
            more = f" and {len(lost) - 3} more" if len(lost) > 3 else ""
            errs.append(
                InputError(
                    meta.source,
                    f"lists {len(lost)} image(s) that are missing: {', '.join(lost[:3])}{more}",
                    hint="copy the whole export; the plate is processed without them",
                )
            )
    wells_seen: dict[str, set[int]] = defaultdict(set)
    for k in keys:
        wells_seen[k.well].add(k.site)
    if meta.wells is not None:
        for well in sorted(meta.wells - set(wells_seen)):
            errs.append(
                InputError(
                    meta.source, f"names well {well} but no image of it was found", hint="re-export the well"
                )
            )
    if meta.sites_per_well:
        for well, found in sorted(wells_seen.items()):
            if len(found) < meta.sites_per_well:
                errs.append(
                    InputError(
                        meta.source,
                        f"promises {meta.sites_per_well} sites for well {well}, only {len(found)} arrived",
                        hint="re-export the missing sites; the well is profiled without them",
                    )
                )
    return errs


def read_source(src: Source, shape: tuple[int, int] | None = None) -> np.ndarray:
    """One stain of a site: a file, a page of a multi-channel file, or planes projected into one."""
    if not isinstance(src, Planes):
        return read_channel(src, shape)
    if src.page >= 0:
        import tifffile

        from labstream.phenomics.model import check_pixels

        try:
            arr = tifffile.imread(src.paths[0], key=src.page)
        except FileNotFoundError as err:
            raise InputError(str(src), "file is missing") from err
        except Exception as err:  # tifffile raises many types on corrupt files
            raise InputError(str(src), f"unreadable OME-TIFF page ({err.__class__.__name__})") from err
        return check_pixels(np.asarray(arr), str(src), shape)
    first = read_channel(src.paths[0], shape)
    return project([first] + [read_channel(p, first.shape) for p in src.paths[1:]], src.projection)


def project(planes: list[np.ndarray], how: str = "max") -> np.ndarray:
    """z planes of one stain -> one image; one rule for the batch reader and the stream's site stage.
    `max` keeps the pixel type (the in-focus signal of each pixel); `mean` and `sum` give float32."""
    if len(planes) == 1:
        return planes[0]
    arr = np.stack(planes)
    if how == "max":
        return arr.max(axis=0)
    if how == "sum":
        return arr.sum(axis=0, dtype=np.float32)
    return arr.mean(axis=0, dtype=np.float32)


def load_site(key: SiteKey, files: Mapping[int, Source]) -> SiteImage:
    """Stack a site's stains; a missing stain or mismatched shapes raise InputError."""
    if -1 in files:
        from labstream.phenomics.reading.omezarr import read_zarr_site

        return read_zarr_site(key, str(files[-1]), len(CHANNELS))
    missing = [CHANNELS[c] for c in range(len(CHANNELS)) if c not in files]
    some = str(next(iter(files.values()), key.id))
    if missing:
        raise InputError(
            some,
            f"site {key.id} is missing channel(s) {', '.join(missing)}",
            hint="the microscope did not write them; the site is skipped",
        )
    first = read_source(files[0])
    sources = tuple(str(files[c]) for c in range(len(CHANNELS)))
    rest = [files[c] for c in range(1, len(CHANNELS))]
    if not any(isinstance(src, Planes) for src in rest):
        fast = stack_tiffs(key, first, [str(src) for src in rest], sources)
        if fast is not None:
            return fast
    planes = [first] + [read_source(src, first.shape) for src in rest]
    return stack_site(key, planes, sources)
