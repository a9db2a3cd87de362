"""Tags of a sample or plate from the lab's own sheets, for `labstream cost --by tag`: the columns an
Illumina SampleSheet gives each sample (Sample_Project and any custom column: Study, Grant, ...) and
the columns of a phenomics platemap that hold one value for a whole plate (batch, cell line, ...).

Why from the sheets: that is where a lab writes who a sample is for (Nextflow users have asked for
per-sample cost tags since 2018); an API-submitted run's tags (labstream.ops.attribution) win over them
where both name the same tag. Sources, read when the roll-up is asked for:
- every published ingested file named SampleSheet.csv (read from the object store; latest version);
- every ingested `*platemap*.csv`, and the `platemap` parameter of the phenomics tasks' lineage.
Columns that only serve demultiplexing or imaging (IDs, lanes, indexes, wells, perturbations) are not
tags; a platemap column whose value differs between the wells of a plate is no plate's tag.
"""

from __future__ import annotations

import csv
import io
import logging
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path, PurePosixPath

from labstream.catalog.records import IngestedFile, LineageRecord
from labstream.core.errors import LabstreamError
from labstream.layouts.sample_sheet import parse_sample_sheet

__all__ = ["entity_tags", "merged_owners", "platemap_tags", "sheet_tags"]

log = logging.getLogger(__name__)
Tags = dict[tuple[str, str], dict[str, str]]  # (project, key) -> tag -> value
_SHEET_NOT_TAGS = {"sample_id", "sample_name", "lane", "index", "index2", "i7_index_id", "i5_index_id"}
_SHEET_NOT_TAG_PREFIXES = ("overridecycles", "adapter", "barcode")
_PLATEMAP_NOT_TAGS = {"plate", "well", "perturbation", "role", "sites"}


def sheet_tags(text: str, source: str = "SampleSheet.csv") -> dict[str, dict[str, str]]:
    """Sample_ID -> its tag columns (non-empty values) from a v1 or v2 sample sheet."""
    sheet = parse_sample_sheet(text, source)
    out: dict[str, dict[str, str]] = {}
    for sid, s in sheet.samples.items():
        tags = {
            k: v
            for k, v in s.columns.items()
            if v and k.lower() not in _SHEET_NOT_TAGS and not k.lower().startswith(_SHEET_NOT_TAG_PREFIXES)
        }
        if s.project:
            tags.setdefault("Sample_Project", s.project)  # v2 keeps it in [Cloud_Data]
        out[sid] = tags
    return out


def platemap_tags(text: str) -> dict[str, dict[str, str]]:
    """plate -> the platemap columns that hold one non-empty value over all of the plate's rows (a
    column that varies between the wells of any plate is a well's property, not a plate's)."""
    rows = list(csv.DictReader(io.StringIO(text.lstrip("\ufeff"))))
    plate_col = next((c for c in (rows[0] if rows else {}) if c.strip().lower() == "plate"), None)
    if plate_col is None:
        return {}
    values: dict[str, dict[str, set[str]]] = {}
    for row in rows:
        seen = values.setdefault(row[plate_col], {})
        for col, v in row.items():
            if col and col.strip().lower() not in _PLATEMAP_NOT_TAGS:
                seen.setdefault(col.strip(), set()).add((v or "").strip())
    per_well = {c for cols in values.values() for c, vs in cols.items() if len(vs) > 1}
    return {
        plate: {c: next(iter(vs)) for c, vs in cols.items() if c not in per_well and next(iter(vs))}
        for plate, cols in values.items()
    }


def _name(f: IngestedFile) -> str:
    return PurePosixPath(f.identity or f.path).name


def entity_tags(
    files: Iterable[IngestedFile], records: Iterable[LineageRecord], read: Callable[[str], bytes]
) -> Tags:
    """(project, key) -> tags from every sample sheet and platemap the platform saw; `read(uri)` gives
    an ingested object's bytes. A sheet that cannot be read or parsed is logged and skipped."""
    out: Tags = {}
    for f in sorted(files, key=lambda f: (f.first_seen, f.version)):  # a later version wins
        name = _name(f).lower()
        if f.status != "published" or not f.object_uri:
            continue
        if name == "samplesheet.csv":
            parse = sheet_tags
        elif "platemap" in name and name.endswith(".csv"):
            parse = _platemap
        else:
            continue
        try:
            found = parse(read(f.object_uri).decode("utf-8-sig", errors="replace"), f.path)
        except (LabstreamError, OSError, ValueError) as err:
            log.warning("cost tags: %s skipped: %s", f.path, err)
            continue
        for key, tags in found.items():
            out.setdefault((f.project, key), {}).update(tags)
    given = {(r.project, str(r.params["platemap"])) for r in records if r.params.get("platemap")}
    for project, path in sorted(given):
        try:
            found = platemap_tags(Path(path).read_text(encoding="utf-8-sig"))
        except OSError as err:  # a platemap given by path on another machine
            log.warning("cost tags: platemap %s skipped: %s", path, err)
            continue
        for plate, tags in found.items():
            out.setdefault((project, plate), {}).update(tags)
    return out


def _platemap(text: str, _source: str = "") -> dict[str, dict[str, str]]:
    return platemap_tags(text)


def merged_owners(
    owners: Mapping[str, tuple[str, Mapping[str, str]]],
    tasks: Iterable[tuple[str, str, str]],
    tags: Tags,
) -> dict[str, tuple[str, Mapping[str, str]]]:
    """owners (labstream.ops.attribution.run_owners) with each task's entity tags under its run tags;
    `tasks` are (lineage id, project, key)."""
    out = dict(owners)
    for lid, project, key in tasks:
        sheet = tags.get((project, key))
        if sheet:
            user, run_tags = out.get(lid, ("", {}))
            out[lid] = (user, {**sheet, **run_tags})
    return out
