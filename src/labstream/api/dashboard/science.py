"""What the dashboard shows of the science tables, read from the lake and scoped to the caller's projects.

Plates are keyed by (project, plate): two projects may both have a plate called P01 and never see each
other's. QC heatmaps take per-site metrics from `site_qc` (mean over a well's sites) and the cell count
from `cells`; the hit list is the latest version each project's map stage wrote to `phenomics_hits`;
per-sample genomics numbers come from `variants` and `coverage` (labstream.genomics.tables).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import pyarrow.compute as pc

from labstream.core.errors import InputError
from labstream.governance.scoped_sql import TableSource

SITE_METRICS = ("focus_score", "saturation_max", "foreground_fraction", "n_cells", "qc_fail_fraction")
METRICS = (*SITE_METRICS, "cells")
_WELL = re.compile(r"^([A-Z]{1,2})(\d{1,2})$")
_FORMATS = ((8, 12), (16, 24), (32, 48))  # 96, 384, 1536 wells


@dataclass
class WellValue:
    well: str
    row: int  # 0-based
    col: int  # 0-based
    value: float | None
    sites: int


@dataclass
class PlateGrid:
    project: str
    plate: str
    metric: str
    rows: int
    cols: int
    wells: list[WellValue] = field(default_factory=list)
    min: float | None = None
    max: float | None = None


def _read(lake: TableSource | None, table: str, projects: list[str], columns: list[str]) -> pd.DataFrame:
    """Rows of the caller's projects (empty frame when the table or its columns are absent)."""
    cols = list(dict.fromkeys([*columns, "project"]))
    if lake is None or not projects or table not in lake.tables():
        return pd.DataFrame(columns=cols)
    names = lake.schema(table).names
    if any(c not in names for c in cols):
        return pd.DataFrame(columns=cols)
    return lake.read(table, filter=pc.field("project").isin(projects), columns=cols).to_pandas()


def _row_index(letters: str) -> int:
    n = 0
    for ch in letters:
        n = n * 26 + (ord(ch) - 64)
    return n - 1


def well_position(well: str) -> tuple[int, int]:
    m = _WELL.match(well.strip().upper())
    if not m:
        raise InputError(f"well {well!r}", "not a plate well name like A01", hint="check the platemap")
    return _row_index(m[1]), int(m[2]) - 1


def _plate_format(positions: list[tuple[int, int]]) -> tuple[int, int]:
    rmax = max((r for r, _ in positions), default=0)
    cmax = max((c for _, c in positions), default=0)
    for rows, cols in _FORMATS:
        if rmax < rows and cmax < cols:
            return rows, cols
    return rmax + 1, cmax + 1


def list_plates(lake: TableSource | None, projects: list[str]) -> list[dict[str, Any]]:
    """One entry per (project, plate) with site, well, cell and QC-pass counts."""
    qc = _read(lake, "site_qc", projects, ["Metadata_Plate", "Metadata_Well", "n_cells", "qc_pass"])
    if qc.empty:
        return []
    qc["qc_pass"] = qc["qc_pass"].fillna(False).astype(bool)
    out = []
    for (project, plate), g in qc.groupby(["project", "Metadata_Plate"], sort=True):
        out.append(
            {
                "project": str(project),
                "plate": str(plate),
                "sites": len(g),
                "wells": int(g["Metadata_Well"].nunique()),
                "cells": int(pd.to_numeric(g["n_cells"]).fillna(0).sum()),
                "qc_pass": int(g["qc_pass"].sum()),
            }
        )
    return out


def plate_grid(
    lake: TableSource | None, projects: list[str], plate: str, metric: str, project: str | None = None
) -> PlateGrid:
    """One QC metric per well of a plate (an empty grid when the caller has no such plate)."""
    if metric not in METRICS:
        raise InputError(f"metric {metric!r}", "unknown QC metric", hint=f"use one of {', '.join(METRICS)}")
    scope = [project] if project else projects
    if metric == "cells":
        df = _read(lake, "cells", scope, ["Metadata_Plate", "Metadata_Well", "Metadata_Site"])
        df = df[df["Metadata_Plate"] == plate]
        per_well = df.groupby(["project", "Metadata_Well"]).agg(
            value=("Metadata_Site", "size"), sites=("Metadata_Site", "nunique")
        )
        qc = _read(lake, "site_qc", scope, ["Metadata_Plate", "Metadata_Well"])
        qc = qc[qc["Metadata_Plate"] == plate]
    else:
        source = "qc_pass" if metric == "qc_fail_fraction" else metric
        qc = _read(lake, "site_qc", scope, ["Metadata_Plate", "Metadata_Well", source])
        qc = qc[qc["Metadata_Plate"] == plate].copy()
        if metric == "qc_fail_fraction":
            qc["qc_fail_fraction"] = (~qc["qc_pass"].fillna(False).astype(bool)).astype(float)
        qc[metric] = pd.to_numeric(qc[metric], errors="coerce")
        per_well = qc.groupby(["project", "Metadata_Well"]).agg(
            value=(metric, "mean"), sites=(metric, "size")
        )
    owners = sorted(set(qc["project"]))
    if not owners:  # not a plate of the caller's: an empty grid, same as a plate that does not exist
        return PlateGrid(project="", plate=plate, metric=metric, rows=0, cols=0)
    if len(owners) > 1:
        raise InputError(
            f"plate {plate!r}", f"exists in projects {owners}", hint="pass project= to choose one"
        )
    owner = owners[0]
    wells = sorted(set(qc["Metadata_Well"]))  # every imaged well, even one with no cells
    positions = [well_position(w) for w in wells]
    rows, cols = _plate_format(positions)
    grid = PlateGrid(project=owner, plate=plate, metric=metric, rows=rows, cols=cols)
    for well, (r, c) in zip(wells, positions, strict=True):
        hit = per_well.loc[(owner, well)] if (owner, well) in per_well.index else None
        value = float(hit["value"]) if hit is not None and pd.notna(hit["value"]) else None
        if value is None and metric == "cells":
            value = 0.0
        sites = int(hit["sites"]) if hit is not None else 0
        grid.wells.append(WellValue(well, r, c, value, sites))
    values = [w.value for w in grid.wells if w.value is not None and np.isfinite(w.value)]
    if values:
        grid.min, grid.max = float(min(values)), float(max(values))
    return grid


def latest_hits(lake: TableSource | None, projects: list[str]) -> list[dict[str, Any]]:
    """Per project, the rows of the newest hit-list version (the last map refresh)."""
    cols = ["Metadata_Perturbation", "mean_average_precision", "corrected_p_value", "neighbours", "rank"]
    cols += ["plates", "trigger_plate", "lineage_id", "_ingested_at"]
    df = _read(lake, "phenomics_hits", projects, cols)
    out: list[dict[str, Any]] = []
    for project, g in df.groupby("project", sort=True):
        newest = g.sort_values(["_ingested_at", "plates"]).iloc[-1]["lineage_id"]
        latest = g[g["lineage_id"] == newest].sort_values("rank")
        for r in latest.itertuples(index=False):
            out.append(
                {
                    "project": str(project),
                    "rank": int(r.rank),
                    "perturbation": str(r.Metadata_Perturbation),
                    "map": _num(r.mean_average_precision),
                    "corrected_p": _num(r.corrected_p_value),
                    "neighbours": str(r.neighbours or ""),
                    "plates": int(r.plates),
                    "trigger_plate": str(r.trigger_plate),
                }
            )
    return out


def sample_summary(lake: TableSource | None, projects: list[str]) -> list[dict[str, Any]]:
    """Per (project, sample): variant counts (all, PASS, SNP, INDEL) and length-weighted coverage."""
    var = _read(lake, "variants", projects, ["sample", "variant_type", "filter"])
    cov = _read(lake, "coverage", projects, ["sample", "start", "end", "mean_depth", "fraction_10x"])
    out: dict[tuple[str, str], dict[str, Any]] = {}

    def entry(project: str, sample: str) -> dict[str, Any]:
        return out.setdefault(
            (project, sample),
            {"project": project, "sample": sample, "variants": 0, "pass": 0, "snp": 0, "indel": 0,
             "mean_depth": None, "fraction_10x": None, "covered_bases": 0},
        )  # fmt: skip

    for (project, sample), g in var.groupby(["project", "sample"]):
        e = entry(str(project), str(sample))
        e["variants"] = len(g)
        e["pass"] = int(g["filter"].isin(["PASS", "."]).sum())
        kind = g["variant_type"].fillna("").str.upper()
        e["snp"] = int((kind == "SNP").sum())
        e["indel"] = int((kind == "INDEL").sum())
    for (project, sample), g in cov.groupby(["project", "sample"]):
        e = entry(str(project), str(sample))
        length = (pd.to_numeric(g["end"]) - pd.to_numeric(g["start"])).clip(lower=0).astype(float)
        total = float(length.sum())
        e["covered_bases"] = int(total)
        if total > 0:
            e["mean_depth"] = _num(float((g["mean_depth"].astype(float) * length).sum() / total))
            e["fraction_10x"] = _num(float((g["fraction_10x"].astype(float) * length).sum() / total))
    return [out[k] for k in sorted(out)]


def _num(v: Any) -> float | None:
    try:
        f = float(v)
    except (TypeError, ValueError):
        return None
    return f if np.isfinite(f) else None


__all__ = [
    "METRICS",
    "PlateGrid",
    "WellValue",
    "latest_hits",
    "list_plates",
    "plate_grid",
    "sample_summary",
    "well_position",
]
