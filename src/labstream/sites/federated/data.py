"""A site's training rows in its own lake (one Delta table per site): written at the site, read only
by that site's ClientApp."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pyarrow as pa

from labstream.lake import open_lake

__all__ = ["FEATURE_PREFIX", "load_bounds", "read_site_table", "run_inputs", "write_site_table"]

FEATURE_PREFIX = "f"


def write_site_table(lake_url: str, table: str, x: np.ndarray, y: np.ndarray, site: str) -> None:
    cols = {f"{FEATURE_PREFIX}{i:02d}": pa.array(x[:, i]) for i in range(x.shape[1])}
    cols["label"] = pa.array(y.astype(np.int64))
    cols["row_id"] = pa.array([f"{site}-row-{i:05d}" for i in range(len(y))])
    open_lake(lake_url).append(table, pa.table(cols), project=site)


def read_site_table(lake_url: str, table: str) -> tuple[np.ndarray, np.ndarray, int]:
    """(features, labels, table version) of the site's table."""
    lake = open_lake(lake_url)
    t = lake.read(table)
    t = t if isinstance(t, pa.Table) else pa.Table.from_pandas(t)
    names = sorted(n for n in t.column_names if n.startswith(FEATURE_PREFIX) and n[1:].isdigit())
    x = np.column_stack([t.column(n).to_numpy() for n in names]).astype(np.float64)
    return x, t.column("label").to_numpy().astype(np.float64), lake.version(table)


def run_inputs(run_config: Mapping[str, Any]) -> tuple[int, int, np.ndarray, np.ndarray]:
    """(sites, rounds, x_test, y_test) of a ServerApp's run config (`test`: an npz with x and y)."""
    test = np.load(str(run_config["test"]))
    return int(run_config["sites"]), int(run_config["rounds"]), test["x"], test["y"]


def load_bounds(path: str, d: int) -> list[np.ndarray]:
    """Public per-feature bounds (npz with `lo`, `hi`), what DP moments and SecAgg+'s scaled moments need;
    refused when missing or malformed."""
    if not path:
        raise ValueError(
            "this run needs public per-feature bounds: pass bounds_npz (lo, hi) to run_federation, or "
            "dp_moments_noise=0 to standardise without DP (epsilon then excludes it)"
        )
    b = np.load(path)
    lo, hi = np.asarray(b["lo"], dtype=float), np.asarray(b["hi"], dtype=float)
    if lo.shape != (d,) or hi.shape != (d,) or np.any(hi <= lo):
        raise ValueError(f"bounds {path}: lo and hi must be {d} values with hi > lo")
    return [lo, hi]
