"""Lake tables of the phenomics chain (declared once, so every writer casts rows the same way).

    cells                  one row per cell: Metadata_Plate/Well/Site/Object, centre, 508 float32 features
    site_qc                per-site QC (focus, saturation, pass/fail) and the error of a quarantined site
    well_profiles          per plate x well: corrected, aggregated, mad_robustized features
    perturbation_profiles  consensus TVN profile per perturbation (long form), one version per map refresh
    phenotypic_activity    mAP vs negative controls, p-values, per map refresh
    phenomics_hits         the hit list published on the feedback topic, per map refresh

Every table also has the platform columns lineage_id, project and _ingested_at (labstream.lake).
Views (SQL): `{table}_latest` for the four tables above that keep every refresh (their current rows),
and `cells_annotated` (cells joined to their well's Metadata_Perturbation and Metadata_Role).
"""

from __future__ import annotations

import io

import pandas as pd
import pyarrow as pa

from labstream.lake import LakeView, TableSchema, latest_view, register_schema, register_view
from labstream.phenomics.features import cell_feature_names
from labstream.phenomics.stages.units import rename_sql

META = [("Metadata_Plate", pa.string()), ("Metadata_Well", pa.string()), ("Metadata_Site", pa.int32())]

_SITE_DOCS = {
    "Metadata_Plate": "plate name, as the instrument layout names it",
    "Metadata_Well": "well, zero-padded (A01)",
    "Metadata_Site": "field of view within the well, numbered from 1 as the microscope numbers it",
}
_FEATURE_DOCS = {
    "Cells_*": "feature of the whole cell (CellProfiler-style name: Compartment_Family_Measure_Channel)",
    "Nuclei_*": "feature of the nucleus (CellProfiler-style name)",
    "Cytoplasm_*": "feature of the cytoplasm, cell minus nucleus (CellProfiler-style name)",
    "*_AreaShape_*": "shape: Area in square pixels (px2), Perimeter and axis lengths in pixels (px), "
    "Orientation in degrees (deg); ratios, moments and Euler numbers unitless",
    "*_Intensity_*": "intensity in the image's raw grey levels, camera counts (raw in `cells`, "
    "flat-fielded in wells); MassDisplacement in pixels",
    "*_Texture_*": "Haralick texture of the channel at the named distance in pixels (unitless)",
    "*_Granularity_*": "granularity spectrum: percent of signal removed at each opening size (pixels)",
    "*_RadialDistribution_*": "fraction of intensity in ring k of n from the nucleus outwards (FracAtD_kofn)",
    "*_Correlation_*": "Pearson correlation between two channels' pixels within the object",
}

CELLS = register_schema(
    TableSchema(
        "cells",
        pa.schema(
            META
            + [
                ("Metadata_Object", pa.int64()),
                ("Metadata_Cell_Y", pa.float32()),
                ("Metadata_Cell_X", pa.float32()),
            ]
            + [(f, pa.float32()) for f in cell_feature_names() if not f.startswith("Metadata_")]
        ),
        description="one row per segmented cell; features on raw pixels (intensity not yet flat-fielded); "
        "CellProfiler names here, the same columns with unit suffixes in the view cells_units",
        docs={
            **_SITE_DOCS,
            **_FEATURE_DOCS,
            "Metadata_Object": "cell label within its site (1..n)",
            "Metadata_Cell_Y": "row of the cell's centre in the site image (pixels, 0 = top)",
            "Metadata_Cell_X": "column of the cell's centre in the site image (pixels, 0 = left)",
        },
    )
)
SITE_QC = register_schema(
    TableSchema(
        "site_qc",
        pa.schema(
            META
            + [
                ("focus_score", pa.float64()),
                ("saturation_max", pa.float64()),
                ("foreground_fraction", pa.float64()),
                ("blurry", pa.bool_()),
                ("saturated", pa.bool_()),
                ("qc_pass", pa.bool_()),
                ("n_cells", pa.int64()),
                ("error", pa.string()),
                ("source", pa.string()),
            ]
        ),
        description="per-site image QC; `error` holds the InputError of a site that could not be measured",
        docs={
            **_SITE_DOCS,
            "focus_score": "variance of the Laplacian of the mean-normalised DNA image (higher = sharper)",
            "saturation_max": "worst channel's fraction of pixels at the ceiling (0-1)",
            "foreground_fraction": "fraction of the DNA image above its Otsu threshold (0-1)",
            "blurry": "focus_score below the QC threshold",
            "saturated": "saturation_max above the QC threshold",
            "qc_pass": "neither blurry nor saturated (and measured)",
            "n_cells": "cells segmented in the site",
            "error": "why the site could not be measured ('' when it was)",
            "source": "the instrument file(s) of the site",
        },
    )
)
WELLS = register_schema(
    TableSchema(
        "well_profiles",
        pa.schema(
            [
                ("Metadata_Plate", pa.string()),
                ("Metadata_Well", pa.string()),
                ("Metadata_Perturbation", pa.string()),
                ("Metadata_Role", pa.string()),
                ("Metadata_Object_Count", pa.int64()),
            ]
            + [(f, pa.float64()) for f in cell_feature_names() if not f.startswith("Metadata_")]
        ),
        description="per plate x well: illumination-corrected cell median, mad_robustized to plate controls",
        docs={
            **_FEATURE_DOCS,
            "Metadata_Plate": "plate name",
            "Metadata_Well": "well, zero-padded (A01)",
            "Metadata_Perturbation": "what the platemap says was put in the well",
            "Metadata_Role": "negative_control, positive_control or treatment (platemap)",
            "Metadata_Object_Count": "cells of the well's QC-passed sites",
            "*_Intensity_*": "flat-field-corrected intensity, robust z-score against the plate's controls",
        },
        latest="a plate profiled again (a late site) adds rows: per (project, plate) the newest "
        "lineage_id is current",
    )
)
ACTIVITY = register_schema(
    TableSchema(
        "phenotypic_activity",
        pa.schema(
            [
                ("Metadata_Perturbation", pa.string()),
                ("Metadata_Role", pa.string()),
                ("mean_average_precision", pa.float64()),
                ("map_ci_low", pa.float64()),
                ("map_ci_high", pa.float64()),
                ("p_value", pa.float64()),
                ("corrected_p_value", pa.float64()),
                ("below_corrected_p", pa.bool_()),
                ("plates", pa.int64()),
                ("trigger_plate", pa.string()),
            ]
        ),
        description="mAP against negative controls per perturbation, recomputed each time a plate completes",
        docs={
            "Metadata_Perturbation": "perturbation (platemap)",
            "Metadata_Role": "negative_control, positive_control or treatment",
            "mean_average_precision": "mAP of the perturbation's replicates against negative controls (0-1)",
            "map_ci_low": "lower end of the mAP's 95% interval (bootstrap over replicates; 0-1)",
            "map_ci_high": "upper end of the mAP's 95% interval (bootstrap over replicates; 0-1)",
            "p_value": "permutation p-value of the mAP",
            "corrected_p_value": "p-value corrected for multiple testing (Benjamini-Hochberg)",
            "below_corrected_p": "phenotypically active: corrected p below the threshold",
            "plates": "plates the map held when this version was computed",
            "trigger_plate": "the plate whose completion triggered this version",
        },
        latest="one version per map refresh: per project, the rows of the newest lineage_id "
        "(largest `plates`) are current",
    )
)
PROFILES = register_schema(
    TableSchema(
        "perturbation_profiles",
        pa.schema(
            [
                ("Metadata_Perturbation", pa.string()),
                ("Metadata_Role", pa.string()),
                ("feature", pa.string()),
                ("value", pa.float64()),
                ("plates", pa.int64()),
                ("trigger_plate", pa.string()),
            ]
        ),
        description="consensus TVN profile per perturbation, long form, one version per map refresh",
        docs={
            "Metadata_Perturbation": "perturbation (platemap)",
            "Metadata_Role": "negative_control, positive_control or treatment",
            "feature": "feature name (a column of well_profiles) or a map-space component",
            "value": "consensus value of the feature (unitless, after alignment)",
            "plates": "plates the map held when this version was computed",
            "trigger_plate": "the plate whose completion triggered this version",
        },
        latest="per project, the rows of the newest lineage_id (largest `plates`) are current",
    )
)
HITS = register_schema(
    TableSchema(
        "phenomics_hits",
        pa.schema(
            [
                ("Metadata_Perturbation", pa.string()),
                ("mean_average_precision", pa.float64()),
                ("corrected_p_value", pa.float64()),
                ("neighbours", pa.string()),
                ("rank", pa.int64()),
                ("plates", pa.int64()),
                ("trigger_plate", pa.string()),
            ]
        ),
        description="hit list published on the feedback topic, one version per completed plate",
        docs={
            "Metadata_Perturbation": "the hit",
            "mean_average_precision": "its mAP against negative controls (0-1)",
            "corrected_p_value": "its corrected p-value",
            "neighbours": "most similar perturbations in the map (comma-separated)",
            "rank": "rank in the hit list (1 = strongest)",
            "plates": "plates the map held when this version was computed",
            "trigger_plate": "the plate whose completion triggered this version",
        },
        latest="per project, the rows of the newest lineage_id (by _ingested_at, then plates) are the "
        "current hit list, as the dashboard shows it",
    )
)

# Views (lake/views.py) a reader queries like tables: the current rows of the tables that keep every
# refresh, and the cells with what the platemap put in their well.
for _table, _by in (
    ("well_profiles", ("project", "Metadata_Plate")),
    ("phenotypic_activity", ("project",)),
    ("perturbation_profiles", ("project",)),
    ("phenomics_hits", ("project",)),
):
    register_view(latest_view(_table, _by))
CELLS_ANNOTATED = register_view(
    LakeView(
        "cells_annotated",
        "SELECT c.*, w.Metadata_Perturbation, w.Metadata_Role FROM cells c LEFT JOIN "
        "(SELECT DISTINCT project, Metadata_Plate, Metadata_Well, Metadata_Perturbation, Metadata_Role "
        "FROM well_profiles_latest) w ON c.project IS NOT DISTINCT FROM w.project "
        "AND c.Metadata_Plate = w.Metadata_Plate AND c.Metadata_Well = w.Metadata_Well",
        ("cells", "well_profiles"),
        "cells with their well's perturbation and role (from the current well_profiles; NULL for a well "
        "none of whose sites passed QC)",
    )
)

CELLS_UNITS = register_view(
    LakeView(
        "cells_units",
        f"SELECT {rename_sql(CELLS.columns.names)} FROM cells",
        ("cells",),
        "cells with the unit in each name that has one: _px, _px2, _deg, _counts (raw grey levels), _pct "
        "(labstream.phenomics.stages.units)",
    )
)


def parquet_bytes(df: pd.DataFrame) -> bytes:
    """A table as Parquet bytes, for objects beside the lake rows (profiles a stage hands on)."""
    buf = io.BytesIO()
    df.to_parquet(buf, index=False)
    return buf.getvalue()
