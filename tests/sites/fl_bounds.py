"""Public per-feature bounds of the breast-cancer set, for the differential-privacy tests."""

from __future__ import annotations

import numpy as np
from sklearn.datasets import load_breast_cancer


def public_bounds() -> tuple[np.ndarray, np.ndarray]:
    """The per-feature Min/Max the data set's own documentation publishes (its DESCR table), public
    knowledge rather than anything a site computes from its rows."""
    rows = [
        line.rsplit(None, 2)
        for line in load_breast_cancer().DESCR.splitlines()
        if line.strip().endswith(tuple("0123456789")) and "):" in line
    ]
    lo, hi = (np.array([float(r[k]) for r in rows]) for k in (1, 2))
    assert len(lo) == 30
    margin = 0.05 * (hi - lo)  # the table is rounded to 3-4 digits: widen it a little
    return np.maximum(lo - margin, 0.0), hi + margin
