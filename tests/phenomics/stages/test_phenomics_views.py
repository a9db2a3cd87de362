"""The views a reader queries like tables: current rows of refreshed tables, cells with their well's
perturbation (lake/views.py, declared in phenomics/stages/tables.py)."""

from __future__ import annotations

import time

import pandas as pd
import pytest

import labstream.phenomics.stages.tables  # noqa: F401  (declares the tables and views)
from labstream.lake import Lake, LakeSQL


def _activity(pert: str, plates: int) -> list[dict[str, object]]:
    return [
        {
            "Metadata_Perturbation": pert,
            "Metadata_Role": "treatment",
            "mean_average_precision": 0.5,
            "p_value": 0.01,
            "corrected_p_value": 0.02,
            "below_corrected_p": True,
            "plates": plates,
            "trigger_plate": f"P{plates}",
        }
    ]


def test_latest_view_keeps_the_newest_refresh_per_project(tmp_path) -> None:
    lake = Lake(tmp_path / "lake")
    lake.append("phenotypic_activity", _activity("G1", 1), lineage_id="r1", project="a")
    time.sleep(0.01)
    lake.append("phenotypic_activity", _activity("G1", 2) + _activity("G2", 2), lineage_id="r2", project="a")
    lake.append("phenotypic_activity", _activity("G9", 1), lineage_id="r3", project="b")
    got = LakeSQL(lake).query(
        "SELECT project, lineage_id, Metadata_Perturbation FROM phenotypic_activity_latest"
    )
    rows = sorted(zip(*(got.column(c).to_pylist() for c in got.column_names), strict=True))
    assert rows == [("a", "r2", "G1"), ("a", "r2", "G2"), ("b", "r3", "G9")]
    every = LakeSQL(lake).query("SELECT count(*) AS n FROM phenotypic_activity").column("n")[0].as_py()
    assert every == 4  # the table itself keeps every refresh


def test_cells_annotated_joins_the_current_well_perturbation(tmp_path) -> None:
    from labstream.lake import get_schema

    lake = Lake(tmp_path / "lake")
    feats = [f.name for f in get_schema("well_profiles").columns if not f.name.startswith("Metadata_")]
    cell_feats = [f.name for f in get_schema("cells").columns if not f.name.startswith("Metadata_")]

    def wells(pert: str) -> pd.DataFrame:
        df = pd.DataFrame(
            {
                "Metadata_Plate": ["P1"],
                "Metadata_Well": ["A01"],
                "Metadata_Perturbation": [pert],
                "Metadata_Role": ["treatment"],
                "Metadata_Object_Count": [3],
            }
        )
        return pd.concat([df, pd.DataFrame(0.0, index=[0], columns=feats)], axis=1)

    lake.append("well_profiles", wells("OLD"), lineage_id="w1", project="a")
    time.sleep(0.01)
    lake.append("well_profiles", wells("G1"), lineage_id="w2", project="a")
    cells = pd.DataFrame(
        {
            "Metadata_Plate": ["P1", "P1", "P2"],
            "Metadata_Well": ["A01", "A01", "B01"],
            "Metadata_Site": [1, 1, 1],
            "Metadata_Object": [1, 2, 1],
            "Metadata_Cell_Y": [1.0] * 3,
            "Metadata_Cell_X": [1.0] * 3,
        }
    )
    cells = pd.concat([cells, pd.DataFrame(0.0, index=range(3), columns=cell_feats)], axis=1)
    lake.append("cells", cells, lineage_id="c1", project="a")
    got = (
        LakeSQL(lake)
        .query(
            "SELECT Metadata_Plate, Metadata_Object, Metadata_Perturbation FROM cells_annotated "
            "ORDER BY Metadata_Plate, Metadata_Object"
        )
        .to_pylist()
    )
    assert [r["Metadata_Perturbation"] for r in got] == ["G1", "G1", None]  # P2 has no well profile
    assert len(got) == 3


@pytest.mark.parametrize("view", ["well_profiles_latest", "cells_annotated"])
def test_views_are_absent_until_their_tables_exist(tmp_path, view: str) -> None:
    from labstream.lake import QueryRejectedError

    lake = Lake(tmp_path / "lake")
    lake.append("samples", [{"sample": "S1"}])
    with pytest.raises(QueryRejectedError):
        LakeSQL(lake).query(f"SELECT * FROM {view}")
