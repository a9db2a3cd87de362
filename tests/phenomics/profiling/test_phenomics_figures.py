"""The figures a biologist reads: real plate formats, one scale across plates, empty wells distinct
from zero, the QC threshold and controls marked, known pairs and hits on the similarity map."""

from __future__ import annotations

from pathlib import Path

import matplotlib.image as mpimg
import numpy as np
import pandas as pd
import pytest

from labstream.phenomics.profiling.figures import (
    known_pair_cells,
    plate_format,
    plate_grid,
    qc_heatmaps,
    shared_scales,
    similarity_map,
)


@pytest.mark.parametrize(
    ("wells", "fmt"),
    [(["A01", "B02"], 96), (["A01", "H12"], 96), (["A01", "I01"], 384), (["P24"], 384), (["A25"], 1536)],
)
def test_plate_is_drawn_at_the_smallest_standard_format_holding_its_wells(wells: list[str], fmt: int) -> None:
    assert plate_format(wells)[2] == fmt


def _qc(plate: str, cells: dict[str, int], focus: float = 1.0) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "Metadata_Plate": plate,
            "Metadata_Well": list(cells),
            "Metadata_Site": 1,
            "n_cells": list(cells.values()),
            "focus_score": focus,
            "qc_pass": True,
        }
    )


def test_scales_are_shared_across_plates_and_empty_wells_are_not_zero() -> None:
    qc = pd.concat([_qc("P1", {"A01": 5, "A02": 0}), _qc("P2", {"A01": 40}, focus=0.01)])
    from labstream.phenomics.profiling.figures import _well_table

    table = _well_table(qc)
    scales = shared_scales(table, min_focus=0.02)
    assert scales["cells"] == (0.0, 40.0)  # plate P1 is drawn on P2's range too
    assert scales["focus"][1] == 1.0
    grid = plate_grid(table.loc["P1"].cells, 8, 12)
    assert grid[0, 1] == 0  # imaged, no cells
    assert np.isnan(grid[0, 2])  # never imaged
    assert np.isnan(grid).sum() == 96 - 2


def test_qc_heatmaps_write_one_png_per_plate_with_the_platemap(tmp_path: Path) -> None:
    qc = pd.concat([_qc("P1", {"A01": 5, "B03": 9}), _qc("P2", {"A01": 4, "H12": 7}, focus=0.01)])
    pm = pd.DataFrame(
        {
            "Metadata_Plate": ["P1", "P1", "P2"],
            "Metadata_Well": ["A01", "B03", "A01"],
            "Metadata_Role": ["negative_control", "treatment", "positive_control"],
        }
    )
    paths = qc_heatmaps(qc, tmp_path, pm)
    assert [p.name for p in paths] == ["qc_P1.png", "qc_P2.png"]
    a, b = (mpimg.imread(p) for p in paths)
    assert a.shape == b.shape  # both drawn at the run's format


def test_known_pairs_are_marked_in_both_triangles_only_when_both_members_are_on_the_map() -> None:
    rel = pd.DataFrame({"gene_a": ["G1", "G1", "G9"], "gene_b": ["G2", "G3", "G1"]})
    cells = known_pair_cells(rel, ["G2", "G1", "G3"])
    assert sorted(cells) == [(0, 1), (1, 0), (1, 2), (2, 1)]
    assert known_pair_cells(None, ["G1"]) == []


def test_similarity_map_renders_with_hits_controls_and_pairs(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    names = ["G1", "G2", "G3", "NEG", "POS"]
    prof = pd.DataFrame(rng.normal(size=(5, 6)), columns=[f"f{i}" for i in range(6)])
    prof.insert(0, "Metadata_Role", ["treatment"] * 3 + ["negative_control", "positive_control"])
    prof.insert(0, "Metadata_Perturbation", names)
    rel = pd.DataFrame({"gene_a": ["G1"], "gene_b": ["G2"]})
    hits = pd.DataFrame({"Metadata_Perturbation": ["G3"]})
    p = similarity_map(prof, tmp_path / "map.png", hits=hits, relationships=rel)
    img = mpimg.imread(p)
    assert img.shape[0] > 200 and img.shape[1] > 200


def test_failing_sites_are_a_fraction_of_the_well_and_focus_scale_reaches_below_the_threshold() -> None:
    from labstream.phenomics.profiling.figures import _well_table

    qc = pd.DataFrame(
        {
            "Metadata_Plate": "P1",
            "Metadata_Well": ["A01"] * 4 + ["A02"],
            "Metadata_Site": [1, 2, 3, 4, 1],
            "n_cells": 10,
            "focus_score": [1.0, 0.8, 0.001, 0.9, 0.5],
            "qc_pass": [True, True, False, True, False],
        }
    )
    table = _well_table(qc)
    assert table.fails.tolist() == [0.25, 1.0]  # 1 of 4 sites, 1 of 1: comparable across wells
    lo, hi = shared_scales(table, min_focus=0.02)["focus"]
    assert 0 < lo < 0.001 and hi == 0.5  # worst sites per well; a log scale holds them and the threshold


def test_expected_wells_without_images_are_marked_apart_from_unused_wells() -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from labstream.phenomics.profiling.figures import _ground

    fig, ax = plt.subplots()
    _ground(ax, expected={"A01", "A02", "B05"}, imaged={"A01"}, nr=8, nc=12)
    hatched = [p for p in ax.patches if p.get_hatch()]
    assert sorted((round(p.get_x() + 0.5), round(p.get_y() + 0.5)) for p in hatched) == [(1, 0), (4, 1)]
    ax.clear()
    _ground(ax, expected=None, imaged={"A01"}, nr=8, nc=12)  # no platemap: every well could be missing
    assert [p.get_hatch() for p in ax.patches] == ["////"]
    plt.close(fig)


def test_similarity_map_leaves_out_negative_controls() -> None:
    from labstream.phenomics.profiling.figures import drawn_profiles

    prof = pd.DataFrame(
        {
            "Metadata_Perturbation": ["G1", "NEG", "POS"],
            "Metadata_Role": ["treatment", "negative_control", "positive_control"],
            "f0": [1.0, 0.0, 2.0],
        }
    )
    assert drawn_profiles(prof).Metadata_Perturbation.tolist() == ["G1", "POS"]
