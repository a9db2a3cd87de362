"""Feature units in names: the data dictionary's units as suffixes, in a frame and in the cells_units view."""

from __future__ import annotations

import pandas as pd

import labstream.phenomics.stages.tables  # noqa: F401  (declares the tables and views)
from labstream.lake import Lake, LakeSQL, get_schema
from labstream.phenomics.stages.units import unit_name, with_units


def test_each_family_gets_its_unit_and_unitless_features_keep_their_names() -> None:
    assert unit_name("Nuclei_AreaShape_Area") == "Nuclei_AreaShape_Area_px2"
    assert unit_name("Cells_AreaShape_MajorAxisLength") == "Cells_AreaShape_MajorAxisLength_px"
    assert unit_name("Cells_AreaShape_Orientation") == "Cells_AreaShape_Orientation_deg"
    assert unit_name("Cells_Intensity_MeanIntensity_DNA") == "Cells_Intensity_MeanIntensity_DNA_counts"
    assert (
        unit_name("Cells_Intensity_IntegratedIntensity_ER") == "Cells_Intensity_IntegratedIntensity_ER_counts"
    )
    assert unit_name("Cells_Intensity_MassDisplacement_ER") == "Cells_Intensity_MassDisplacement_ER_px"
    assert unit_name("Cells_Granularity_3_Mito") == "Cells_Granularity_3_Mito_pct"
    assert unit_name("Metadata_Cell_X") == "Metadata_Cell_X_px"
    for unitless in (
        "Cells_AreaShape_FormFactor",
        "Cells_AreaShape_HuMoment_0",
        "Cells_Texture_Contrast_DNA_1",
        "Cells_RadialDistribution_FracAtD_DNA_1of4",
        "Cells_Correlation_Correlation_DNA_ER",
        "Metadata_Plate",
    ):
        assert unit_name(unitless) == unitless
    names = [unit_name(c) for c in get_schema("cells").columns.names]
    assert len(set(names)) == len(names)  # no two columns collide after renaming


def test_cells_units_view_renames_the_stored_columns(tmp_path) -> None:
    cols = get_schema("cells").columns
    row = {f.name: 1.0 for f in cols if not f.name.startswith("Metadata_")}
    row.update(Metadata_Plate="P1", Metadata_Well="A01", Metadata_Site=1, Metadata_Object=1)
    row.update(Metadata_Cell_Y=2.0, Metadata_Cell_X=3.0, Nuclei_AreaShape_Area=120.0)
    cells = pd.DataFrame([row])
    lake = Lake(tmp_path / "lake")
    lake.append("cells", cells, lineage_id="c1", project="a")
    got = LakeSQL(lake).query("SELECT * FROM cells_units").to_pandas()
    assert got.loc[0, "Nuclei_AreaShape_Area_px2"] == 120.0
    assert got.loc[0, "Metadata_Cell_X_px"] == 3.0
    assert "Nuclei_AreaShape_Area" not in got and "project" in got  # platform columns kept
    expected = set(with_units(cells).columns)
    assert expected <= set(got.columns)
