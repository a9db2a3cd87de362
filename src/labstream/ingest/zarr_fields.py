"""OME-Zarr HCS fields as ingestable units.

A `plate.zarr` folder is not one file but thousands of small ones, written over minutes. The unit a
stage measures is one field (the `row/column/field` image group), so the field is what the ingest
claims. A field is *ready* when

- the plate's metadata (`plate` attributes at the root) is there, naming the plate;
- the field group's metadata lists its multiscale datasets;
- every dataset's array metadata is there and every chunk (shard, with sharding) its chunk grid
  implies exists, by the array's own chunk key encoding (asked of zarr, v2 and v3 alike);
- no temporary file (`*.part`, `*.tmp`, ...) is inside it;

and none of its files changed for the watcher's settle time. A ready field is packed into one zip
that zarr opens as a ZipStore (`zarr.storage.ZipStore`): the field group at its root plus a manifest
naming plate, row, column and field. Entries are sorted, stored uncompressed (chunks already are),
with fixed timestamps and permissions, so equal field content packs to equal bytes and the ingest's
content claim lands each field exactly once across rescans, restarts and copies. The manifest holds
identity only, never the plate's or well's own metadata: those grow as an acquisition goes on and
would change a finished field's hash.

Whether the pixels decode, the channels are all there and the dtype and shape are right is the
stage's business (phenomics.readers_zarr): a corrupt chunk is a complete field with bad content.
"""

from __future__ import annotations

import json
import math
import os
import zipfile
from collections.abc import Iterator
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


def _expected_chunks(folder: Path, dataset: str) -> list[str] | str:
    """Keys (relative to the field) of every chunk the dataset's metadata implies, or why not known."""
    import zarr
    from zarr.storage import LocalStore

    try:
        arr = zarr.open_array(LocalStore(folder, read_only=True), path=dataset, mode="r")
    except Exception as err:  # absent or half-written metadata: zarr raises several types
        return f"array metadata of {dataset} ({err.__class__.__name__})"
    meta = arr.metadata
    grid = getattr(getattr(meta, "chunk_grid", None), "chunk_shape", None) or meta.chunks  # v3 | v2
    counts = [math.ceil(s / c) for s, c in zip(meta.shape, grid, strict=True)]
    return [f"{dataset}/{meta.encode_chunk_key(ix)}" for ix in product(*(range(n) for n in counts))]


def check_field(fld: ZarrField) -> FieldState:
    """Look at a field once: its files' signature and whether it is ready to pack."""
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
        datasets = [str(d["path"]) for d in (attrs or {})["multiscales"][0]["datasets"]]
    except (KeyError, IndexError, TypeError):
        return FieldState(False, sig, name, ["field metadata (multiscales)"])
    present = {rel for rel, _, _ in files}
    waiting: list[str] = []
    for ds in datasets:
        keys = _expected_chunks(fld.path, ds)
        if isinstance(keys, str):
            waiting.append(keys)
        else:
            waiting += [f"chunk {k}" for k in keys if k not in present]
    return FieldState(not waiting, sig, name, waiting)


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
