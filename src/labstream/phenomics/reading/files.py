"""Readers of image files, plate maps and relationship tables (sites are found in reading.sites).

Everything bad a microscope or a person can hand us becomes an InputError naming the file: a name
that does not parse, a truncated or corrupt TIFF/PNG, a missing channel, a wrong shape or dtype.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from labstream.core.errors import InputError
from labstream.phenomics.model import ROLES, SiteImage, SiteKey, check_pixels, normalize_well


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


def stack_tiffs(
    key: SiteKey, first: np.ndarray, rest: list[str], sources: tuple[str, ...]
) -> SiteImage | None:
    """The site as one array with the channels after `first` read from their TIFF files straight into
    it (no per-channel array stacked afterwards: one copy of the site less). Only when each is a
    one-page TIFF of `first`'s shape and pixel type; None otherwise, and on any reading error, so the
    caller reads plane by plane and names whatever is wrong."""
    import tifffile

    stack = np.empty((1 + len(rest), *first.shape), first.dtype)
    stack[0] = first
    for c, path in enumerate(rest, 1):
        if not path.lower().endswith((".tif", ".tiff")):
            return None
        try:
            with tifffile.TiffFile(path) as tif:
                page = tif.pages.first
                if len(tif.pages) != 1 or page.shape != first.shape or page.dtype != first.dtype:
                    return None
                page.asarray(out=stack[c])
        except Exception:  # tifffile raises many types on corrupt files; the plane-by-plane read names it
            return None
    return SiteImage(key, stack, sources)


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
        has = ", ".join(str(c) for c in list(df.columns)[:6]) or "nothing"
        raise InputError(
            p,
            f"platemap lacks column(s) {missing} (its header names: {has})",
            hint="give a CSV whose first line names plate, well, perturbation, role",
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
