"""Units of the per-cell features, and the names that carry them.

The `cells` table keeps CellProfiler's feature names (`Cells_AreaShape_Area`, ...): pycytominer,
CellProfiler's own output and the classic-recipe comparisons match features by those names, so the
stored columns are not renamed. The unit of every column is in the data dictionary
(`labstream pipelines show --table cells`) and in the names of the `cells_units` view
(`SELECT * FROM cells_units` in `labstream sql`) or of `with_units(df)` on a cells frame:

    _px     lengths and positions, in pixels of the site image
    _px2    areas, in square pixels
    _deg    angles, in degrees
    _counts intensities in the image's raw grey levels (16-bit counts for a 16-bit camera; summed
            over the object's pixels for IntegratedIntensity); `cells` holds them before flat-field
            correction
    _pct    granularity: percent of the object's signal removed at that opening size

Features without a unit (ratios, fractions, moments, Haralick texture, correlations, Euler numbers)
keep their names. Well and perturbation profiles are robust z-scores or map components: unitless.
"""

from __future__ import annotations

import fnmatch

import pandas as pd

# (glob over the CellProfiler-style name, suffix, what the unit is): the first match wins
UNITS: tuple[tuple[str, str, str], ...] = (
    ("Metadata_Cell_[XY]", "_px", "pixels from the image's top-left corner"),
    ("*_AreaShape_Area", "_px2", "square pixels"),
    ("*_AreaShape_Perimeter", "_px", "pixels"),
    ("*_AreaShape_MajorAxisLength", "_px", "pixels"),
    ("*_AreaShape_MinorAxisLength", "_px", "pixels"),
    ("*_AreaShape_EquivalentDiameter", "_px", "pixels"),
    ("*_AreaShape_Orientation", "_deg", "degrees"),
    ("*_Intensity_MassDisplacement_*", "_px", "pixels between the intensity and the shape centres"),
    ("*_Intensity_*Intensity_*", "_counts", "raw grey levels (camera counts), before flat-fielding"),
    ("*_Granularity_*", "_pct", "percent of the signal removed at that opening size"),
)


def unit_of(name: str) -> tuple[str, str]:
    """(suffix, meaning) of a cells column; ("", "") for one without a unit."""
    for pattern, suffix, meaning in UNITS:
        if fnmatch.fnmatchcase(name, pattern):
            return suffix, meaning
    return "", ""


def unit_name(name: str) -> str:
    """The column's name with its unit suffix (unchanged when it has no unit)."""
    return name + unit_of(name)[0]


def with_units(cells: pd.DataFrame) -> pd.DataFrame:
    """A cells frame with unit-suffixed column names (the `cells_units` view does the same in SQL)."""
    return cells.rename(columns={c: unit_name(c) for c in cells.columns})


def rename_sql(columns: list[str]) -> str:
    """DuckDB `* RENAME (...)` clause giving every column that has a unit its suffixed name."""
    pairs = [f'"{c}" AS "{unit_name(c)}"' for c in columns if unit_of(c)[0]]
    return f"* RENAME ({', '.join(pairs)})" if pairs else "*"
