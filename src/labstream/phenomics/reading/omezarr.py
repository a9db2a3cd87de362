"""OME-Zarr HCS plates (plate/row/column/field, channels on the `c` axis): read and write.

Metadata is read from the group attributes in both NGFF 0.4 (top level) and 0.5 (under `ome`), so
plates from older writers open too. Only the full-resolution level (`datasets[0]`) is read.

Absent chunks follow the ingest's rule (labstream.ingest.zarr_fields, `chunk_coverage`): read as the
array's fill value, as zarr does, unless the format gives them no value (zarr v2 `fill_value: null`)
or a whole plane (a channel) has no stored chunk, which is reported as a missing channel. The writer
here stores every chunk, fill-valued ones too, so its fields never rely on that rule.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from labstream.core.errors import InputError
from labstream.phenomics.model import CHANNELS, SiteImage, SiteKey, check_pixels, normalize_well

if TYPE_CHECKING:
    import zarr


MANIFEST = "labstream-field.json"  # written by labstream.ingest.zarr_fields.pack_field


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


def _row_col(well: str) -> tuple[str, str]:
    return well[0], str(int(well[1:]))


def write_zarr_plate_metadata(path: Path, plate: str, fields_per_well: dict[str, int]) -> zarr.Group:
    """Start an OME-Zarr HCS plate: plate metadata and, per well, the fields it will hold (an
    acquisition knows its layout before the first field). Fields are numbered 0..n-1 (site-1)."""
    import zarr
    from ome_zarr.writer import write_plate_metadata, write_well_metadata

    path.parent.mkdir(parents=True, exist_ok=True)
    root = zarr.open_group(str(path), mode="w")
    wells = sorted({_row_col(w) for w in fields_per_well})
    rows = sorted({r for r, _ in wells})
    cols = sorted({c for _, c in wells}, key=int)
    write_plate_metadata(
        root,
        rows,
        cols,
        [f"{r}/{c}" for r, c in wells],
        field_count=max(fields_per_well.values()),
        name=plate,
    )
    for well, n in sorted(fields_per_well.items()):
        r, c = _row_col(well)
        write_well_metadata(root.require_group(r).require_group(c), [{"path": str(i)} for i in range(n)])
    return root


def write_zarr_field(path: Path, key: SiteKey, pixels: np.ndarray, channels: list[str]) -> Path:
    """Write one field (c, y, x) into a plate started by write_zarr_plate_metadata, one chunk per
    channel as a microscope writes them; returns the field folder. Every chunk is stored, even one
    equal to the fill value (zarr leaves those out by default), so a field written here is complete
    on disk and an all-zero channel is never mistaken for a missing one."""
    import zarr
    from ome_zarr.writer import write_image

    r, c = _row_col(key.well)
    grp = zarr.open_group(str(path), mode="r+").require_group(r).require_group(c)
    write_image(
        pixels,
        grp.require_group(str(key.site - 1)),
        scale_factors=[],
        axes="cyx",
        storage_options={"chunks": (1, *pixels.shape[1:]), "config": {"write_empty_chunks": True}},
        omero={"channels": [_omero_channel(ch, pixels.dtype) for ch in channels]},
    )
    return path / r / c / str(key.site - 1)


def write_zarr_plate(path: Path, sites: dict[SiteKey, np.ndarray], channels: list[str]) -> Path:
    """Write one plate as OME-Zarr HCS; fields are numbered site-1."""
    per_well: dict[str, int] = {}
    for k in sites:
        per_well[k.well] = max(per_well.get(k.well, 0), k.site)
    write_zarr_plate_metadata(path, next(iter(sites)).plate, per_well)
    for k in sorted(sites):
        write_zarr_field(path, k, sites[k], channels)
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
    """One field of a plate folder (`plate.zarr/row/col/field`)."""
    import zarr

    plate_path, _, rel = field_path.partition(".zarr/")
    plate_path += ".zarr"
    try:
        grp = zarr.open_group(plate_path, mode="r")[rel]
    except Exception as err:
        raise InputError(field_path, f"field unreadable ({err.__class__.__name__}: {err})") from err
    return SiteImage(key, field_pixels(grp, field_path, n_channels), (field_path,))


def read_packed_field(zip_path: str | Path, source: str, n_channels: int) -> SiteImage:
    """One field packed by the ingest (labstream.ingest.zarr_fields): a zip holding the field group at
    its root and a manifest naming plate, row, column and field. Errors name `source` (the plate
    folder and the field as the microscope wrote them), never the packed copy."""
    import json
    import zipfile

    import zarr
    from zarr.storage import ZipStore

    try:
        with zipfile.ZipFile(zip_path) as zf:
            man = json.loads(zf.read(MANIFEST))
        store = ZipStore(str(zip_path), mode="r")
    except Exception as err:  # not a zip, no manifest, bad JSON
        raise InputError(source, f"packed field unreadable ({err.__class__.__name__}: {err})") from err
    try:
        try:
            grp = zarr.open_group(store, mode="r")
        except Exception as err:
            raise InputError(source, f"field metadata unreadable ({err.__class__.__name__}: {err})") from err
        key = packed_key(man, source)
        return SiteImage(key, field_pixels(grp, source, n_channels), (source,))
    finally:
        store.close()


def packed_key(manifest: dict, source: str) -> SiteKey:
    """plate / well / site of a packed field: well from the row and column folders, site = field + 1
    (the batch reader's numbering)."""
    try:
        site = int(manifest["field"]) + 1
    except (KeyError, ValueError) as err:
        raise InputError(source, f"field folder {manifest.get('field')!r} is not a field number") from err
    well = normalize_well(f"{manifest.get('row', '')}{manifest.get('column', '')}", source=source)
    return SiteKey(str(manifest["plate"]), well, site)


def _axes(ms: dict, ndim: int, source: str) -> list[str]:
    axes = ms.get("axes")
    if axes is None:
        if ndim != 3:
            raise InputError(source, f"expected (c, y, x) pixels, got {ndim} dimensions and no axes")
        return ["c", "y", "x"]
    names = [str(a["name"] if isinstance(a, dict) else a).lower() for a in axes]
    if len(names) != ndim or not {"c", "y", "x"} <= set(names):
        raise InputError(source, f"axes {names} do not describe a (c, y, x) image of {ndim} dimensions")
    return names


def _channel_order(attrs: dict, n_present: int, n_channels: int, source: str) -> list[int]:
    """Indices of the Cell Painting channels (CHANNELS order) on the `c` axis: by omero label when the
    labels name them, else by position."""
    labels = [str(c.get("label", "")).strip().lower() for c in attrs.get("omero", {}).get("channels", [])]
    wanted = [c.lower() for c in CHANNELS[:n_channels]]
    if any(w in labels for w in wanted):
        missing = [CHANNELS[i] for i, w in enumerate(wanted) if w not in labels]
        if missing:
            raise InputError(
                source,
                f"missing channel(s) {', '.join(missing)}: omero labels are {labels}",
                hint="the field is skipped; re-export it with all five Cell Painting channels",
            )
        order = [labels.index(w) for w in wanted]
        if max(order) >= n_present:
            raise InputError(source, f"omero lists {len(labels)} channels but the image has {n_present}")
        return order
    if n_present < n_channels:
        raise InputError(source, f"missing channel: {n_present} of {n_channels} present")
    return list(range(n_channels))


def _stored_keys(arr) -> set[str]:  # type: ignore[no-untyped-def]
    """Keys (relative to the array) of the chunks its store holds, whatever the store."""
    from zarr.core.sync import sync

    prefix = f"{arr.store_path.path}/" if arr.store_path.path else ""

    async def keys() -> list[str]:
        return [k async for k in arr.store_path.store.list_prefix(prefix)]

    return {k[len(prefix) :] for k in sync(keys())}


def _incomplete(cov, attrs: dict, source: str) -> InputError:  # type: ignore[no-untyped-def]
    """The error for absent chunks the rule does not read as fill value, naming the channels."""
    from labstream.ingest.zarr_fields import describe_plane

    labels = [str(c.get("label", "")) for c in attrs.get("omero", {}).get("channels", [])]
    msg = f"incomplete field: {len(cov.missing)} of {len(cov.keys)} chunks missing"
    if cov.fill_value is None:
        return InputError(source, f"{msg} and the array has no fill value to read them as")

    def name(plane: tuple[tuple[str, int, int], ...]) -> str:
        c = next(((a, b) for ax, a, b in plane if ax == "c"), None)
        if c and c[0] == c[1] and c[0] < len(labels) and labels[c[0]]:
            return f"channel {labels[c[0]]} ({describe_plane(plane)})"
        return describe_plane(plane)

    planes = [name(p) for p in cov.bare_planes]
    return InputError(
        source,
        f"{msg}: no chunk stored for {', '.join(planes)}",
        hint="the channel was never written, or is entirely the fill value by a writer that leaves such "
        "chunks out (write them with write_empty_chunks=True); the field is skipped",
    )


def field_pixels(grp, source: str, n_channels: int) -> np.ndarray:  # type: ignore[no-untyped-def]
    """(C, Y, X) pixels of an OME-Zarr image group, channels in CHANNELS order, validated: every chunk
    present or absent as the format allows (read as the fill value), decodable, singleton t/z
    squeezed, 8/16-bit or float pixels, all channels there."""
    from labstream.ingest.zarr_fields import chunk_coverage

    try:
        attrs = _attrs(grp)
        ms = attrs["multiscales"][0]
        arr = grp[ms["datasets"][0]["path"]]
        stored = _stored_keys(arr)
    except Exception as err:
        raise InputError(source, f"field unreadable ({err.__class__.__name__}: {err})") from err
    axes = _axes(ms, len(arr.shape), source)
    cov = chunk_coverage(arr.metadata, axes, stored)
    if cov.missing:
        raise _incomplete(cov, attrs, source)
    extra = {a: n for a, n in zip(axes, arr.shape, strict=True) if a not in ("c", "y", "x") and n != 1}
    if extra:
        raise InputError(source, f"expected one time point and plane, got sizes {extra}")
    try:
        data = np.asarray(arr[...])
    except Exception as err:  # a corrupt or truncated chunk: codecs raise many types
        raise InputError(
            source,
            f"field unreadable: a chunk does not decode ({err.__class__.__name__}: {err})",
            hint="the chunk is truncated or corrupt; re-export the field",
        ) from err
    keep = tuple(slice(None) if a in ("c", "y", "x") else 0 for a in axes)
    cyx = [a for a in axes if a in ("c", "y", "x")]
    data = np.transpose(data[keep], [cyx.index(a) for a in ("c", "y", "x")])
    order = _channel_order(attrs, data.shape[0], n_channels, source)
    planes = [check_pixels(data[i], f"{source} channel {CHANNELS[c]}") for c, i in enumerate(order)]
    return np.stack(planes)
