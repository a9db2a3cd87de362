"""A site's training rows in its own lake (one Delta table per site): written at the site, read only
by that site's ClientApp."""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from labstream.lake.delta import Lake

__all__ = ["FEATURE_PREFIX", "read_site_table", "write_site_table"]

FEATURE_PREFIX = "f"


def write_site_table(lake_url: str, table: str, x: np.ndarray, y: np.ndarray, site: str) -> None:
    cols = {f"{FEATURE_PREFIX}{i:02d}": pa.array(x[:, i]) for i in range(x.shape[1])}
    cols["label"] = pa.array(y.astype(np.int64))
    cols["row_id"] = pa.array([f"{site}-row-{i:05d}" for i in range(len(y))])
    Lake(lake_url).append(table, pa.table(cols), project=site)


def read_site_table(lake_url: str, table: str) -> tuple[np.ndarray, np.ndarray, int]:
    """(features, labels, table version) of the site's table."""
    lake = Lake(lake_url)
    t = lake.read(table)
    t = t if isinstance(t, pa.Table) else pa.Table.from_pandas(t)
    names = sorted(n for n in t.column_names if n.startswith(FEATURE_PREFIX) and n[1:].isdigit())
    x = np.column_stack([t.column(n).to_numpy() for n in names]).astype(np.float64)
    return x, t.column("label").to_numpy().astype(np.float64), lake.version(table)
