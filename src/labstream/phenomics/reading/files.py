"""Readers for the three microscope layouts into one model (plate/well/site/channel).

Everything bad a microscope or a person can hand us becomes an InputError naming the file: a name
that does not parse, a truncated or corrupt TIFF/PNG, a missing channel, a wrong shape or dtype.
"""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

import numpy as np
import pandas as pd

from labstream.core.errors import InputError
from labstream.layouts import parse
from labstream.phenomics.model import CHANNELS, ROLES, SiteImage, SiteKey, check_pixels, normalize_well

IMAGE_LAYOUTS = ("site-tiff", "rxrx-png")  # one image file per channel; OME-Zarr is read in readers_zarr

# key -> channel index (0-based) -> path (or an OME-Zarr field path, channel -1)
SiteFiles = dict[SiteKey, dict[int, str]]


def parse_name(path: str | Path) -> tuple[SiteKey, int]:
    """(site, channel index) from an image file's name, by the same layout parser ingest routes with."""
    found = parse(path, IMAGE_LAYOUTS)
    ch = int(found["channel"])
    if ch > len(CHANNELS):
        raise InputError(str(path), f"channel w{ch} is not one of w1..w{len(CHANNELS)}")
    return SiteKey(str(found["plate"]), str(found["well"]), int(found["site"])), ch - 1


def read_channel(path: str | Path, shape: tuple[int, int] | None = None) -> np.ndarray:
    """One channel image, validated; corrupt or truncated files raise InputError."""
    p = str(path)
    try:
        if p.lower().endswith((".tif", ".tiff")):
            import tifffile

            arr = tifffile.imread(p)
        else:
            import imageio.v3 as iio

            arr = iio.imread(p)
    except FileNotFoundError as err:
        raise InputError(p, "file is missing") from err
    except Exception as err:  # tifffile/pillow raise many types; their text quotes the file's bytes
        raise InputError(
            p,
            f"unreadable image: not a valid {Path(p).suffix.lstrip('.').upper() or 'image'} file "
            f"({err.__class__.__name__})",
            hint="the file is truncated or corrupt; re-export it",
        ) from err
    return check_pixels(np.asarray(arr), p, shape)


def discover(folder: str | Path, errors: list[InputError] | None = None) -> SiteFiles:
    """Find every site under `folder` in whichever layout it uses (mixed layouts are allowed).

    An image whose name no layout reads is bad input of its own: with `errors` it is appended there
    (the caller quarantines it) and every other site is still found; without, it raises."""
    from labstream.phenomics.reading.omezarr import discover_zarr

    root = Path(folder)
    if not root.exists():
        raise InputError(str(root), "image folder does not exist")
    sites: SiteFiles = defaultdict(dict)
    for p in sorted(root.rglob("*")):
        if p.name.startswith(".") or any(part.startswith(".") for part in p.relative_to(root).parts[:-1]):
            continue
        if p.is_dir() and p.name.endswith(".zarr"):
            for key, field in discover_zarr(p):
                sites[key][-1] = field
        elif p.is_file() and ".zarr" not in str(p) and p.suffix.lower() in (".tif", ".tiff", ".png"):
            try:
                key, ch = parse_name(p)
            except InputError as err:
                if errors is None:
                    raise
                errors.append(err)
                continue
            sites[key][ch] = str(p)
    return dict(sites)


def load_site(key: SiteKey, files: dict[int, str]) -> SiteImage:
    """Stack a site's channels; a missing channel or mismatched shapes raise InputError."""
    if -1 in files:
        from labstream.phenomics.reading.omezarr import read_zarr_site

        return read_zarr_site(key, files[-1], len(CHANNELS))
    missing = [CHANNELS[c] for c in range(len(CHANNELS)) if c not in files]
    some = next(iter(files.values()), key.id)
    if missing:
        raise InputError(
            some,
            f"site {key.id} is missing channel(s) {', '.join(missing)}",
            hint="the microscope did not write them; the site is skipped",
        )
    first = read_channel(files[0])
    planes = [first] + [read_channel(files[c], first.shape) for c in range(1, len(CHANNELS))]
    return stack_site(key, planes, tuple(files[c] for c in range(len(CHANNELS))))


def stack_site(key: SiteKey, planes: list[np.ndarray], sources: tuple[str, ...]) -> SiteImage:
    """A site from its channel planes, read in channel order. One rule for the batch chain and the
    stream: planes of one site share a shape and a pixel type (a 16-bit channel beside an 8-bit one
    is an export error, and intensities across channels would not compare)."""
    shapes = {a.shape for a in planes}
    if len(shapes) > 1:
        raise InputError(", ".join(sources), f"site {key.id} mixes image shapes {sorted(shapes)}")
    dtypes = {a.dtype for a in planes}
    if len(dtypes) > 1:
        raise InputError(", ".join(sources), f"site {key.id} mixes pixel types {sorted(map(str, dtypes))}")
    return SiteImage(key, np.stack(planes), sources)


def read_platemap(path: str | Path) -> pd.DataFrame:
    """Platemap CSV (plate, well, perturbation, role[, sites, ...]) -> pycytominer-named metadata columns.

    An optional `sites` column gives the number of fields imaged per well, so a streaming plate knows
    when it is complete."""
    p = str(path)
    try:
        df = pd.read_csv(p, dtype=str)
    except Exception as err:
        raise InputError(p, f"platemap unreadable ({err})") from err
    cols = {c.lower().strip(): c for c in df.columns}
    need = ["plate", "well", "perturbation", "role"]
    missing = [c for c in need if c not in cols]
    if missing:
        raise InputError(
            p, f"platemap lacks column(s) {missing}", hint="columns: plate,well,perturbation,role"
        )
    df = df.rename(columns={cols[c]: f"Metadata_{c.capitalize()}" for c in need})
    # any other column is metadata too (pycytominer convention), never a feature
    df = df.rename(columns={c: f"Metadata_{c}" for c in df.columns if not c.startswith("Metadata_")})
    if "Metadata_sites" in df:
        try:
            df["Metadata_sites"] = df["Metadata_sites"].astype(int)
        except ValueError as err:
            raise InputError(p, f"column 'sites' must hold whole numbers ({err})") from err
    df["Metadata_Well"] = [normalize_well(w, source=p) for w in df["Metadata_Well"]]
    bad = sorted(set(df["Metadata_Role"]) - set(ROLES))
    if bad:
        raise InputError(p, f"unknown role(s) {bad}", hint=f"use one of {list(ROLES)}")
    dup = df.duplicated(["Metadata_Plate", "Metadata_Well"])
    if dup.any():
        row = df[dup].iloc[0]
        raise InputError(p, f"well {row.Metadata_Plate}/{row.Metadata_Well} appears twice")
    return df


def rxrx_listed_sites(folder: str | Path) -> dict[SiteKey, str]:
    """Sites an RxRx `metadata.csv` under `folder` lists (key -> the CSV naming it); {} without one."""
    out: dict[SiteKey, str] = {}
    for meta in sorted(Path(folder).rglob("metadata.csv")):
        try:
            df = pd.read_csv(meta, dtype=str)
            for r in df[["experiment", "plate", "well", "site"]].itertuples(index=False):
                key = SiteKey(
                    f"{r.experiment}-Plate{int(r.plate)}",
                    normalize_well(r.well, source=str(meta)),
                    int(r.site),
                )
                out[key] = str(meta)
        except (KeyError, ValueError) as err:
            raise InputError(
                str(meta), f"RxRx metadata unreadable ({err})", hint="columns: experiment, plate, well, site"
            ) from err
    return out


def read_relationships(path: str | Path) -> pd.DataFrame:
    df = pd.read_csv(path, dtype=str)
    if not {"gene_a", "gene_b"} <= set(df.columns):
        raise InputError(str(path), "relationships CSV needs columns gene_a, gene_b")
    return df[["gene_a", "gene_b"]]
