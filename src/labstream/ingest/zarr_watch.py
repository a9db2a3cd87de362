"""OME-Zarr plates in a watched folder: each field is one unit, ingested once complete and settled.

Kept apart from the file watcher (ingest.watcher) because a plate is not a file: its fields are
judged by zarr_fields (metadata and every chunk it implies), and a folder that never becomes an HCS
plate, or a field that never completes, is quarantined once, naming it and what it lacks.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from labstream.core.errors import InputError
from labstream.ingest.confine import file_identity
from labstream.ingest.files import Ingestor, IngestResult
from labstream.ingest.zarr_fields import FieldNotReady, ZarrField, check_field, find_fields, read_attrs

__all__ = ["NOT_A_PLATE_AFTER_S", "PlateScanner"]

# A zarr folder whose root metadata has no `plate` attributes this long is not an HCS plate (a writer
# creates the group first and adds its attributes right after: it is not judged mid-write).
NOT_A_PLATE_AFTER_S = 5.0


@dataclass
class _FieldSeen:
    signature: tuple[tuple[str, int, int], ...]
    since: float
    done: bool = False


class PlateScanner:
    """The fields of the plates under `root`, each looked at until it is ingested or quarantined."""

    def __init__(
        self, root: Path, ingestor: Ingestor, settle_seconds: float, incomplete_after_s: float | None
    ) -> None:
        self.root = root
        self.ingestor = ingestor
        self.settle_seconds = settle_seconds
        self.incomplete_after_s = incomplete_after_s
        self._fields: dict[ZarrField, _FieldSeen] = {}
        self._not_plates: set[Path] = set()
        self._plain_zarr: dict[Path, float] = {}  # zarr folders seen without plate attrs, since when

    def all_done(self, plate: Path) -> bool:
        return all(self._fields.get(f, _FieldSeen((), 0)).done for f in find_fields(plate))

    def scan(self, plate: Path, now: float) -> list[IngestResult]:
        """Ingest the plate's fields that are complete and settled; quarantine what never will be."""
        if plate in self._not_plates:
            return []
        attrs = read_attrs(plate)
        if attrs is not None and "plate" not in attrs:  # complete metadata, but not an HCS plate...
            first = self._plain_zarr.setdefault(plate, now)
            if now - first < NOT_A_PLATE_AFTER_S:  # ...unless its writer adds the `plate` attrs next
                return []
            self._not_plates.add(plate)
            err = InputError(
                str(plate),
                "a zarr folder without OME-Zarr HCS plate metadata: not ingested",
                hint="stream plates as plate/row/column/field with `plate` metadata at the root",
            )
            return [self.ingestor.quarantine_source(err)]
        results = []
        for fld in find_fields(plate):
            seen = self._fields.get(fld)
            if seen is not None and seen.done:
                continue
            state = check_field(fld)
            if seen is None or seen.signature != state.signature:
                seen = self._fields[fld] = _FieldSeen(state.signature, now)
                if self.settle_seconds > 0:
                    continue
            stable_for = now - seen.since
            if not state.ready:
                if self.incomplete_after_s is not None and stable_for >= self.incomplete_after_s:
                    lacks = ", ".join(state.waiting_for[:8]) + (" ..." if len(state.waiting_for) > 8 else "")
                    err = InputError(
                        fld.source,
                        f"OME-Zarr field incomplete after {stable_for:.0f} s without change: lacks {lacks}",
                        hint="the microscope did not finish writing it; re-acquire or rewrite the field",
                    )
                    seen.done = True
                    results.append(self.ingestor.quarantine_source(err))
                continue
            if stable_for < self.settle_seconds:
                continue
            try:
                result = self.ingestor.ingest_zarr_field(
                    fld, state=state, identity=file_identity(self.root, fld.path)
                )
            except FieldNotReady:
                self._fields.pop(fld, None)  # it changed under us: start settling again
                continue
            seen.done = True
            results.append(result)
        return results
