"""Per-well aggregation of single-cell rows (median, pycytominer's default)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from labstream.phenomics.features import feature_columns

WELL_KEYS = ["Metadata_Plate", "Metadata_Well"]


def aggregate_wells(
    cells: pd.DataFrame,
    platemap: pd.DataFrame | None = None,
    strata: list[str] | None = None,
    operation: str = "median",
) -> pd.DataFrame:
    """One row per plate x well: the median of each feature over its cells, plus cell counts.

    `platemap` (pycytominer-named columns) is joined on plate and well; wells without cells are
    absent (nothing to aggregate), and cells without platemap rows are dropped by the inner join.
    """
    strata = strata or WELL_KEYS
    feats = feature_columns(cells)
    grouped = cells.groupby(strata, sort=True, observed=True)
    agg = grouped[feats].median() if operation == "median" else grouped[feats].mean()
    keys = agg.index.to_frame(index=False)
    keys["Metadata_Object_Count"] = grouped.size().to_numpy()
    agg = pd.concat([keys, pd.DataFrame(agg.to_numpy(np.float64), columns=feats)], axis=1)
    if platemap is not None:
        agg = platemap.merge(agg, on=strata, how="inner")
    return agg
