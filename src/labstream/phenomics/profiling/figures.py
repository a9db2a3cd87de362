"""Figures for people: per-plate QC heatmaps and the perturbation similarity map (matplotlib Agg)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from labstream.phenomics.model import well_row_col
from labstream.phenomics.profiling.profiles import cosine_matrix, feature_names


def _plt():  # type: ignore[no-untyped-def]
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def qc_heatmaps(qc: pd.DataFrame, out: Path) -> list[Path]:
    """One PNG per plate: cells per well, focus score and QC failures laid out as the plate."""
    plt = _plt()
    paths = []
    if qc.empty:
        return paths
    for plate, g in qc.groupby("Metadata_Plate"):
        w = g.groupby("Metadata_Well").agg(
            cells=("n_cells", "sum"),
            focus=("focus_score", "mean"),
            fails=("qc_pass", lambda s: int((~s.astype(bool)).sum())),
        )
        rc = [well_row_col(x) for x in w.index]
        nr, nc = max(r for r, _ in rc) + 1, max(c for _, c in rc) + 1
        fig, axes = plt.subplots(1, 3, figsize=(4 + 1.1 * nc, 0.6 * nr + 1.8), constrained_layout=True)
        for ax, (col, title, cmap) in zip(
            axes,
            [
                ("cells", "cells per well", "viridis"),
                ("focus", "focus (var. of Laplacian)", "magma"),
                ("fails", "sites failing QC", "Reds"),
            ],
            strict=True,
        ):
            grid = np.full((nr, nc), np.nan)
            for (r, c), v in zip(rc, w[col], strict=True):
                grid[r, c] = v
            top = max(1.0, float(np.nanmax(grid))) if col == "fails" else None
            im = ax.imshow(grid, cmap=cmap, vmin=0 if col == "fails" else None, vmax=top)
            ax.set_xticks(range(nc), [str(i + 1) for i in range(nc)])
            ax.set_yticks(range(nr), [chr(65 + i) for i in range(nr)])
            ax.set_title(title, fontsize=10)
            fig.colorbar(im, ax=ax, shrink=0.8)
        fig.suptitle(f"plate {plate}: site QC")
        p = out / f"qc_{plate}.png"
        fig.savefig(p, dpi=110)
        plt.close(fig)
        paths.append(p)
    return paths


def similarity_map(profiles: pd.DataFrame, path: Path) -> Path:
    """Cosine similarity between perturbation profiles, ordered by hierarchical clustering."""
    from scipy.cluster.hierarchy import leaves_list, linkage
    from scipy.spatial.distance import squareform

    plt = _plt()
    names = profiles["Metadata_Perturbation"].astype(str).tolist()
    x = profiles[[c for c in feature_names(profiles)]].to_numpy()
    sim = cosine_matrix(x)
    dist = np.clip(1.0 - sim, 0.0, 2.0)
    np.fill_diagonal(dist, 0.0)
    order = (
        leaves_list(linkage(squareform(dist, checks=False), "average")) if len(x) > 2 else np.arange(len(x))
    )
    sim = sim[np.ix_(order, order)]
    n = len(names)
    fig, ax = plt.subplots(figsize=(2 + 0.32 * n, 1.5 + 0.3 * n), constrained_layout=True)
    im = ax.imshow(sim, cmap="RdBu_r", vmin=-1, vmax=1)
    ax.set_xticks(range(n), [names[i] for i in order], rotation=90, fontsize=8)
    ax.set_yticks(range(n), [names[i] for i in order], fontsize=8)
    ax.set_title("perturbation similarity (cosine)")
    fig.colorbar(im, ax=ax, shrink=0.7)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
