"""OME-Zarr HCS plates (plate/row/column/field, channels on the `c` axis): read and write.

Metadata is read from the group attributes in both NGFF 0.4 (top level) and 0.5 (under `ome`), so
plates from older writers open too. Only the full-resolution level (`datasets[0]`) is read.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from labstream.core.errors import InputError
from labstream.phenomics.model import SiteImage, SiteKey, check_pixels, normalize_well


def _attrs(group) -> dict:  # type: ignore[no-untyped-def]
    a = dict(group.attrs)
    return dict(a.get("ome", a))


def _omero_channel(label: str, dtype: np.dtype) -> dict:
    top = float(np.iinfo(dtype).max) if np.issubdtype(dtype, np.integer) else 1.0
    return {
        "label": label,
        "color": "FFFFFF",
        "active": True,
        "window": {"start": 0.0, "end": top, "min": 0.0, "max": top},
    }


def write_zarr_plate(path: Path, sites: dict[SiteKey, np.ndarray], channels: list[str]) -> Path:
    """Write one plate as OME-Zarr HCS; fields are numbered site-1."""
    import zarr
    from ome_zarr.writer import write_image, write_plate_metadata, write_well_metadata

    path.parent.mkdir(parents=True, exist_ok=True)
    root = zarr.open_group(str(path), mode="w")
    wells = sorted({(k.well[0], str(int(k.well[1:]))) for k in sites})
    rows = sorted({r for r, _ in wells})
    cols = sorted({c for _, c in wells}, key=int)
    fields = max(k.site for k in sites)
    write_plate_metadata(
        root, rows, cols, [f"{r}/{c}" for r, c in wells], field_count=fields, name=next(iter(sites)).plate
    )
    for r, c in wells:
        wg = root.require_group(r).require_group(c)
        keys = sorted(k for k in sites if (k.well[0], str(int(k.well[1:]))) == (r, c))
        write_well_metadata(wg, [{"path": str(k.site - 1)} for k in keys])
        for k in keys:
            write_image(
                sites[k],
                wg.require_group(str(k.site - 1)),
                scale_factors=[],
                axes="cyx",
                omero={"channels": [_omero_channel(ch, sites[k].dtype) for ch in channels]},
            )
    return path


def discover_zarr(plate_path: Path) -> list[tuple[SiteKey, str]]:
    """Sites of one OME-Zarr plate as (key, 'plate.zarr/row/col/field')."""
    import zarr

    try:
        root = zarr.open_group(str(plate_path), mode="r")
        plate = _attrs(root)["plate"]
    except Exception as err:  # zarr raises many types for a broken store
        raise InputError(
            str(plate_path), f"not an OME-Zarr HCS plate ({err})", hint="expected plate metadata at the root"
        ) from err
    name = str(plate.get("name") or plate_path.name.split(".")[0])
    out = []
    for w in plate["wells"]:
        rel = w["path"]
        row, col = rel.split("/")
        well = normalize_well(f"{row}{col}", source=str(plate_path))
        try:
            images = _attrs(root[rel])["well"]["images"]
        except Exception as err:
            raise InputError(f"{plate_path}/{rel}", f"well metadata unreadable ({err})") from err
        for i in images:
            out.append((SiteKey(name, well, int(i["path"]) + 1), f"{plate_path}/{rel}/{i['path']}"))
    return out


def read_zarr_site(key: SiteKey, field_path: str, n_channels: int) -> SiteImage:
    import zarr

    plate_path, _, rel = field_path.partition(".zarr/")
    plate_path += ".zarr"
    try:
        grp = zarr.open_group(plate_path, mode="r")[rel]
        ds = _attrs(grp)["multiscales"][0]["datasets"][0]["path"]
        arr = np.asarray(grp[ds][...])
    except Exception as err:
        raise InputError(field_path, f"field unreadable ({err.__class__.__name__}: {err})") from err
    if arr.ndim != 3:
        raise InputError(field_path, f"expected (c, y, x) pixels, got shape {arr.shape}")
    if arr.shape[0] < n_channels:
        raise InputError(field_path, f"missing channel: {arr.shape[0]} of {n_channels} present")
    for c in range(n_channels):
        check_pixels(arr[c], f"{field_path} channel {c + 1}")
    return SiteImage(key, arr[:n_channels], (field_path,))
