"""Lake tables of the phenomics chain (declared once, so every writer casts rows the same way).

    cells                  one row per cell: Metadata_Plate/Well/Site/Object, centre, 508 float32 features
    site_qc                per-site QC (focus, saturation, pass/fail) and the error of a quarantined site
    well_profiles          per plate x well: corrected, aggregated, mad_robustized features
    perturbation_profiles  consensus TVN profile per perturbation (long form), one version per map refresh
    phenotypic_activity    mAP vs negative controls, p-values, per map refresh
    phenomics_hits         the hit list published on the feedback topic, per map refresh

Every table also has the platform columns lineage_id, project and _ingested_at (labstream.lake).
"""

from __future__ import annotations

import io

import pandas as pd
import pyarrow as pa

from labstream.lake import TableSchema, register_schema
from labstream.phenomics.features import cell_feature_names

META = [("Metadata_Plate", pa.string()), ("Metadata_Well", pa.string()), ("Metadata_Site", pa.int32())]

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
        description="one row per segmented cell; features on raw pixels (intensity not yet flat-fielded)",
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
                ("p_value", pa.float64()),
                ("corrected_p_value", pa.float64()),
                ("below_corrected_p", pa.bool_()),
                ("plates", pa.int64()),
                ("trigger_plate", pa.string()),
            ]
        ),
        description="mAP against negative controls per perturbation, recomputed each time a plate completes",
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
    )
)


def parquet_bytes(df: pd.DataFrame) -> bytes:
    """A table as Parquet bytes, for objects beside the lake rows (profiles a stage hands on)."""
    buf = io.BytesIO()
    df.to_parquet(buf, index=False)
    return buf.getvalue()
