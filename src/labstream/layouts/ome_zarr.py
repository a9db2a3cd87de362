"""OME-Zarr HCS plates: a `{plate}.zarr` (or `.ome.zarr`) folder, ingested field by field once each
field's channels are complete (labstream.ingest.zarr_fields packs them); the plate is the folder stem."""

from __future__ import annotations

from pathlib import Path

from labstream.layouts.base import FileIdentity


class OmeZarr:
    name = "ome-zarr"
    instrument = "microscope"
    pattern = "{plate}.zarr/{row}/{column}/{field}/ (OME-Zarr HCS)"
    identifies = False  # the folder, not a file: its fields are ingested one by one

    def parse(self, path: Path) -> FileIdentity | None:
        if not path.name.lower().endswith((".zarr", ".ome.zarr")):
            return None
        plate = path.name.split(".")[0]
        return FileIdentity(self.name, self.instrument, plate, {"plate": plate})
