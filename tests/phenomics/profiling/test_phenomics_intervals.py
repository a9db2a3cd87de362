"""Confidence intervals the map reports stay in [0, 1] and cover what they should."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy.stats import binomtest

from labstream.phenomics.profiling import mad_robustize, phenotypic_activity
from labstream.phenomics.profiling.map import bootstrap_ci, wilson_ci


@pytest.mark.parametrize(("k", "n"), [(0, 1), (0, 24), (1, 24), (12, 24), (23, 24), (24, 24), (3, 3)])
def test_recall_interval_is_wilson_and_inside_0_1(k: int, n: int) -> None:
    lo, hi = wilson_ci(k, n)
    assert 0.0 <= lo <= k / n <= hi <= 1.0
    ref = binomtest(k, n).proportion_ci(0.95, method="wilson")  # scipy's own Wilson interval
    assert (lo, hi) == pytest.approx((ref.low, ref.high), abs=1e-9)


def test_map_interval_is_inside_0_1_even_at_the_extremes() -> None:
    rng = np.random.default_rng(0)
    for values in ([1.0, 1.0], [0.0, 0.05], [0.2, 0.9, 1.0], [0.5]):
        lo, hi = bootstrap_ci(np.array(values), rng)
        assert 0.0 <= lo <= np.mean(values) <= hi <= 1.0
    lo, hi = bootstrap_ci(rng.uniform(0.4, 0.6, 200), rng)
    assert 0.48 < lo < 0.5 < hi < 0.52  # narrow around the mean with many replicates


def test_activity_table_carries_the_map_interval() -> None:
    rng = np.random.default_rng(1)
    rows = []
    for t in range(6):
        effect = rng.normal(0, 1.5 if t % 2 else 0, 10)
        for r in range(4):
            rows.append(("P1", f"G{t}", "treatment", *(effect + rng.normal(0, 1, 10))))
    for c in range(8):
        rows.append(("P1", "NEG", "negative_control", *rng.normal(0, 1, 10)))
    feats = [f"Cells_F_{i}" for i in range(10)]
    df = pd.DataFrame(rows, columns=["Metadata_Plate", "Metadata_Perturbation", "Metadata_Role", *feats])
    act = phenotypic_activity(mad_robustize(df, feats), null_size=500)
    assert ((act.map_ci_low >= 0) & (act.map_ci_high <= 1)).all()
    m = act.mean_average_precision
    assert ((act.map_ci_low <= m) & (m <= act.map_ci_high)).all()
