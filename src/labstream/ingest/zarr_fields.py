"""OME-Zarr HCS fields as ingestable units.

A `plate.zarr` folder is not one file but thousands of small ones, written over minutes. The unit a
stage measures is one field (the `row/column/field` image group), so the field is what the ingest
claims. A field is *ready* when

- the plate's metadata (`plate` attributes at the root) is there, naming the plate;
- the field group's metadata lists its multiscale datasets;
- every dataset's array metadata is there, and every chunk (shard, with sharding) its chunk grid
  implies, by the array's own chunk key encoding (asked of zarr, v2 and v3 alike), is either stored or
  absent in a way the format allows (the rule below);
- no temporary file (`*.part`, `*.tmp`, ...) is inside it;

and none of its files changed for the watcher's settle time.

Absent chunks. zarr v3 (and v2 with write_empty_chunks=False) does not store a chunk whose every value
is the array's fill value, and readers must read an absent chunk as that fill value. The store alone
cannot tell such a chunk from one the microscope has not written yet (or never will), so an absent
chunk is accepted, and read as the fill value as zarr does, only when all of these hold:

1. the format defines it: always in zarr v3 (`fill_value` is required); in zarr v2 only when the
   array's `fill_value` is not null (the v2 spec leaves a chunk absent from the store undefined then);
2. its image plane is not bare: every plane (each index on the axes other than y and x, i.e. each
   channel, time point and z slice) has at least one stored chunk. A plane with none is a channel that
   was never written, or metadata promising a shape the writer never filled; it is also what an
   entirely fill-valued plane looks like, and that ambiguity is settled against the plane (a camera
   never gives a plane exactly equal to the fill value), so the field waits and is then quarantined;
3. the field has been quiet (no file newer, by mtime) for `GAP_QUIET_S`. The watcher's settle time
   (0.3 s) fits a chunk being written, not a tile-scanning microscope moving its stage between tiles;
   once a field is claimed, a late tile would be lost, so gaps wait longer than complete fields do.

Absent chunks are not written into the pack; zarr reads them there as the fill value too. Spatial
gaps (a black tile in every channel, or an image whose metadata is larger than what was written)
cannot be told apart and are read as fill value. labstream's own writer (phenomics.reading.omezarr)
writes every chunk, so its fields never depend on this rule.

A ready field is packed into one zip that zarr opens as a ZipStore (`zarr.storage.ZipStore`): the
field group at its root plus a manifest naming plate, row, column and field. Entries are sorted,
stored uncompressed (chunks already are), with fixed timestamps and permissions, so equal field
content packs to equal bytes and the ingest's content claim lands each field exactly once across
rescans, restarts and copies. The manifest holds identity only, never the plate's or well's own
metadata: those grow as an acquisition goes on and would change a finished field's hash.

Whether the pixels decode, the channels are all there and the dtype and shape are right is the
stage's business (phenomics.reading.omezarr, which applies the same absent-chunk rule through
`chunk_coverage`): a corrupt chunk is a complete field with bad content.
"""

from __future__ import annotations

import json
import math
import os
import time
import zipfile
from collections.abc import Collection, Iterator, Sequence
from dataclasses import dataclass, field
from itertools import product
from pathlib import Path
from typing import Any

from labstream.core.errors import InputError

MANIFEST = "labstream-field.json"
PACKED_SUFFIX = ".zarr.zip"
LAYOUT = "ome-zarr-field"
_ZIP_TIME = (1980, 1, 1, 0, 0, 0)  # the earliest time a zip can hold: fixed, so bytes are reproducible
_ZARR_DOTFILES = {".zattrs", ".zgroup", ".zarray", ".zmetadata"}  # zarr v2 metadata, not hidden files
_TEMP_SUFFIXES = (".tmp", ".part", ".partial", ".crdownload", ".swp", ".lock")
GAP_QUIET_S = 5.0  # how long a field with absent (fill-valued) chunks must be quiet before it is ready
_PLANE_FREE = ("y", "x")  # the axes a plane spans; every other axis indexes planes


class FieldNotReady(InputError):
    """The field is still being written (or changed while packed): look again later, never quarantine."""


@dataclass(frozen=True, order=True)
class ZarrField:
    """One field of one well of an HCS plate folder: `plate_path/row/column/field`."""

    plate_path: Path
    row: str
    column: str
    field: str

    @property
    def rel(self) -> str:
        return f"{self.row}/{self.column}/{self.field}"

    @property
    def path(self) -> Path:
        return self.plate_path / self.row / self.column / self.field

    @property
    def source(self) -> str:
        """How errors name the field: the plate folder and the field inside it."""
        return f"{self.plate_path}/{self.rel}"


@dataclass(frozen=True)
class FieldState:
    """What a look at a field found. `signature` changes whenever any of its files does."""

    ready: bool
    signature: tuple[tuple[str, int, int], ...]
    plate: str | None = None
    waiting_for: list[str] = field(default_factory=list)  # why it is not ready yet, for the log
    filled: tuple[str, ...] = ()  # absent chunks (keys relative to the field) read as the fill value


@dataclass(frozen=True)
class Coverage:
    """How the stored objects (chunks, or shards) of one array cover the grid its metadata implies.

    `missing` are the absent keys that may not be read as the fill value (all absent keys when the
    format gives absent chunks no value; else those of bare planes); `filled` are the others, which
    zarr reads as `fill_value`. `bare_planes` name each bare plane as ((axis, first, last), ...)."""

    keys: tuple[str, ...]
    absent: tuple[str, ...]
    missing: tuple[str, ...]
    bare_planes: tuple[tuple[tuple[str, int, int], ...], ...]
    fill_value: Any

    @property
    def filled(self) -> tuple[str, ...]:
        missing = set(self.missing)
        return tuple(k for k in self.absent if k not in missing)


def describe_plane(plane: tuple[tuple[str, int, int], ...]) -> str:
    """`c=3`, `c=0..4, z=2`: a plane as the user would index it; `image` for a 2-D array."""
    parts = [f"{ax}={a}" if a == b else f"{ax}={a}..{b}" for ax, a, b in plane]
    return ", ".join(parts) or "image"


def chunk_coverage(meta: Any, axes: Sequence[str] | None, stored: Collection[str]) -> Coverage:
    """Apply the absent-chunk rule (module docstring, 1 and 2) to one array.

    `meta` is zarr's array metadata (v2 or v3), `axes` the OME axis names (None: the last two are y
    and x), `stored` the keys the store holds, relative to the array."""
    shape = tuple(meta.shape)
    grid = getattr(getattr(meta, "chunk_grid", None), "chunk_shape", None) or meta.chunks  # v3 | v2
    counts = [math.ceil(s / c) for s, c in zip(shape, grid, strict=True)]
    names = [a.lower() for a in axes] if axes and len(axes) == len(shape) else None
    if names is None:
        names = [f"dim{i}" for i in range(len(shape) - 2)] + list(_PLANE_FREE[-len(shape) :])
    plane_dims = [i for i, n in enumerate(names) if n not in _PLANE_FREE]
    keys: list[str] = []
    planes: dict[tuple[int, ...], list[str]] = {}
    for ix in product(*(range(n) for n in counts)):
        key = meta.encode_chunk_key(ix)
        keys.append(key)
        planes.setdefault(tuple(ix[d] for d in plane_dims), []).append(key)
    stored_set = set(stored)
    absent = tuple(k for k in keys if k not in stored_set)
    bare = [p for p, ks in planes.items() if not any(k in stored_set for k in ks)]
    fill = None if getattr(meta, "zarr_format", 3) == 2 and meta.fill_value is None else meta.fill_value
    missing = absent if fill is None else tuple(k for p in bare for k in planes[p])
    bare_planes = tuple(
        tuple(
            (names[d], p[j] * grid[d], min((p[j] + 1) * grid[d], shape[d]) - 1)
            for j, d in enumerate(plane_dims)
        )
        for p in bare
    )
    return Coverage(tuple(keys), absent, missing, bare_planes, fill)


def is_zarr_root(path: Path) -> bool:
    return path.name.lower().endswith(".zarr")


def read_attrs(group_dir: Path) -> dict[str, Any] | None:
    """A group's attributes (zarr v3 `zarr.json` or v2 `.zattrs`), OME ones unwrapped from `ome` (NGFF
    0.5); None while the metadata is absent or half written."""
    try:
        if (group_dir / "zarr.json").is_file():
            attrs = json.loads((group_dir / "zarr.json").read_bytes()).get("attributes", {})
        elif (group_dir / ".zattrs").is_file():
            attrs = json.loads((group_dir / ".zattrs").read_bytes())
        else:
            return None
    except (OSError, ValueError):
        return None
    if not isinstance(attrs, dict):
        return None
    return dict(attrs.get("ome", attrs))


def plate_name(plate_path: Path) -> str | None:
    """The plate's name from its `plate` metadata (the folder name when it has none); None while the
    plate metadata is not written yet."""
    attrs = read_attrs(plate_path)
    if attrs is None or not isinstance(attrs.get("plate"), dict):
        return None
    return str(attrs["plate"].get("name") or plate_path.name.split(".")[0])


def _subdirs(folder: Path) -> list[str]:
    try:
        with os.scandir(folder) as it:
            return sorted(e.name for e in it if e.is_dir() and not e.name.startswith("."))
    except OSError:
        return []


def find_fields(plate_path: Path) -> list[ZarrField]:
    """Every `row/column/field` folder under a plate folder, written or half written."""
    out = []
    for row in _subdirs(plate_path):
        for col in _subdirs(plate_path / row):
            for fld in _subdirs(plate_path / row / col):
                out.append(ZarrField(plate_path, row, col, fld))
    return out


def _is_temporary(name: str) -> bool:
    low = name.lower()
    return low.endswith(_TEMP_SUFFIXES) or (name.startswith((".", "~")) and name not in _ZARR_DOTFILES)


def field_files(folder: Path) -> Iterator[tuple[str, Path, os.stat_result]]:
    """(posix path relative to the field, path, stat) of every file under the field, temporaries too."""
    for dirpath, dirnames, filenames in os.walk(folder):
        dirnames.sort()
        for name in sorted(filenames):
            p = Path(dirpath) / name
            try:
                st = p.stat()
            except FileNotFoundError:
                continue
            yield p.relative_to(folder).as_posix(), p, st


def axis_names(multiscale: dict[str, Any]) -> list[str] | None:
    """The axis names of an OME multiscale (NGFF 0.4+: dicts, 0.3: strings); None when it has none."""
    axes = multiscale.get("axes")
    if not isinstance(axes, list):
        return None
    return [str(a.get("name", "") if isinstance(a, dict) else a) for a in axes]


def _coverage(folder: Path, dataset: str, axes: list[str] | None, present: set[str]) -> Coverage | str:
    """The dataset's chunk coverage (keys relative to the field), or why it is not known yet."""
    import zarr
    from zarr.storage import LocalStore

    try:
        arr = zarr.open_array(LocalStore(folder, read_only=True), path=dataset, mode="r")
    except Exception as err:  # absent or half-written metadata: zarr raises several types
        return f"array metadata of {dataset} ({err.__class__.__name__})"
    prefix = f"{dataset}/"
    stored = {rel[len(prefix) :] for rel in present if rel.startswith(prefix)}
    cov = chunk_coverage(arr.metadata, axes, stored)
    return Coverage(
        tuple(prefix + k for k in cov.keys),
        tuple(prefix + k for k in cov.absent),
        tuple(prefix + k for k in cov.missing),
        cov.bare_planes,
        cov.fill_value,
    )


def check_field(fld: ZarrField, *, gap_quiet_s: float = GAP_QUIET_S, now: float | None = None) -> FieldState:
    """Look at a field once: its files' signature and whether it is ready to pack.

    A field with absent chunks the rule accepts is ready only once its newest file is `gap_quiet_s`
    old (`now`: wall-clock seconds, default the current time); pass 0 when nothing writes it any more."""
    files = list(field_files(fld.path))
    sig = tuple((rel, st.st_size, st.st_mtime_ns) for rel, _, st in files)
    name = plate_name(fld.plate_path)
    if name is None:
        return FieldState(False, sig, None, ["plate metadata"])
    temps = [rel for rel, _, _ in files if _is_temporary(Path(rel).name)]
    if temps:
        return FieldState(False, sig, name, [f"temporary file {t}" for t in temps])
    attrs = read_attrs(fld.path)
    try:
        ms = (attrs or {})["multiscales"][0]
        datasets = [str(d["path"]) for d in ms["datasets"]]
    except (KeyError, IndexError, TypeError):
        return FieldState(False, sig, name, ["field metadata (multiscales)"])
    axes = axis_names(ms)
    present = {rel for rel, _, _ in files}
    waiting: list[str] = []
    filled: list[str] = []
    for ds in datasets:
        cov = _coverage(fld.path, ds, axes, present)
        if isinstance(cov, str):
            waiting.append(cov)
        else:
            waiting += [f"chunk {k}" for k in cov.missing]
            filled += cov.filled
    if filled and not waiting:
        newest = max(st.st_mtime_ns for _, _, st in files) / 1e9
        quiet = (time.time() if now is None else now) - newest
        if quiet < gap_quiet_s:
            waiting.append(
                f"{gap_quiet_s:g} s of quiet before {len(filled)} absent chunk(s) are read as the "
                f"fill value (quiet for {max(quiet, 0.0):.1f} s)"
            )
    return FieldState(not waiting, sig, name, waiting, tuple(filled))


def manifest(fld: ZarrField, plate: str) -> dict[str, str]:
    return {"layout": LAYOUT, "plate": plate, "row": fld.row, "column": fld.column, "field": fld.field}


def pack_field(fld: ZarrField, dest: Path, state: FieldState | None = None) -> dict[str, str]:
    """Pack a ready field into `dest` (deterministic zip); returns its manifest.

    Raises FieldNotReady naming the field when it is not ready or changed while it was packed."""
    state = state or check_field(fld)
    if not state.ready or state.plate is None:
        raise FieldNotReady(
            fld.source, f"field is not complete: waiting for {', '.join(state.waiting_for[:5])}"
        )
    man = manifest(fld, state.plate)
    entries = {rel: p for rel, p, _ in field_files(fld.path)}
    entries[MANIFEST] = Path()  # placeholder: written from memory
    dest.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(dest, "w", zipfile.ZIP_STORED, allowZip64=True) as zf:
        for rel in sorted(entries):
            info = zipfile.ZipInfo(rel, date_time=_ZIP_TIME)
            info.create_system = 3  # unix, whatever packs it
            info.external_attr = 0o100644 << 16
            data = json.dumps(man, sort_keys=True).encode() if rel == MANIFEST else entries[rel].read_bytes()
            zf.writestr(info, data, compress_type=zipfile.ZIP_STORED)
    if check_field(fld).signature != state.signature:
        dest.unlink(missing_ok=True)
        raise FieldNotReady(
            fld.source,
            "field changed while it was being packed",
            hint="it is packed again once it is stable",
        )
    return man
