"""Figures for people: per-plate QC heatmaps and the perturbation similarity map (matplotlib Agg).

What a biologist reads off them, and so what they must not get wrong:

- QC heatmaps draw the plate at its real format (96, 384 or 1536 wells, from the highest row and
  column the platemap or the QC names), one colour scale per metric across every plate of the run
  (plates compare at a glance), the QC pass threshold on the focus scale, wells with no image
  hatched grey (distinct from a well imaged with zero cells), and controls lettered (N negative,
  P positive) in their wells.
- The similarity map marks known pairs (a dot in both cells of the pair), hits (bold red names) and
  controls (blue names, role in brackets).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from labstream.phenomics.image import QCThresholds
from labstream.phenomics.model import well_row_col
from labstream.phenomics.profiling.profiles import cosine_matrix, feature_names

PLATE_FORMATS = ((8, 12, 96), (16, 24, 384), (32, 48, 1536))
ROLE_LETTER = {"negative_control": "N", "positive_control": "P"}
MIN_FOCUS = QCThresholds().min_focus  # a site below it fails QC as blurry


def _plt():  # type: ignore[no-untyped-def]
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def plate_format(wells: list[str]) -> tuple[int, int, int]:
    """(rows, columns, wells) of the smallest standard plate holding every well named."""
    rc = [well_row_col(w) for w in wells] or [(0, 0)]
    nr, nc = max(r for r, _ in rc) + 1, max(c for _, c in rc) + 1
    for rows, cols, n in PLATE_FORMATS:
        if nr <= rows and nc <= cols:
            return rows, cols, n
    return nr, nc, nr * nc


def _well_table(qc: pd.DataFrame) -> pd.DataFrame:
    return qc.groupby(["Metadata_Plate", "Metadata_Well"]).agg(
        cells=("n_cells", "sum"),
        focus=("focus_score", "min"),
        fails=("qc_pass", lambda s: int((~s.astype(bool)).sum())),
    )


def shared_scales(table: pd.DataFrame, min_focus: float = MIN_FOCUS) -> dict[str, tuple[float, float]]:
    """One (low, high) per metric over every plate's wells, so equal colours mean equal values."""
    return {
        "cells": (0.0, max(float(table.cells.max()), 1.0)),
        "focus": (0.0, max(float(table.focus.max()), 2 * min_focus)),
        "fails": (0.0, max(float(table.fails.max()), 1.0)),
    }


def plate_grid(values: pd.Series, rows: int, cols: int) -> np.ndarray:
    """(rows, cols) of a per-well series; NaN where no value (no image), distinct from 0."""
    grid = np.full((rows, cols), np.nan)
    for w, v in values.items():
        r, c = well_row_col(str(w))
        grid[r, c] = v
    return grid


def known_pair_cells(relationships: pd.DataFrame | None, order: list[str]) -> list[tuple[int, int]]:
    """Matrix cells (both triangles) of the known pairs whose two members are on the map."""
    if relationships is None or not len(relationships):
        return []
    pos = {name: i for i, name in enumerate(order)}
    out = []
    for a, b in zip(relationships.iloc[:, 0].astype(str), relationships.iloc[:, 1].astype(str), strict=True):
        if a in pos and b in pos:
            out += [(pos[a], pos[b]), (pos[b], pos[a])]
    return out


METRICS = (
    ("cells", "cells per well", "viridis"),
    ("focus", "focus, worst site (var. of Laplacian)", "magma"),
    ("fails", "sites failing QC", "Reds"),
)


def qc_heatmaps(
    qc: pd.DataFrame, out: Path, platemap: pd.DataFrame | None = None, min_focus: float = MIN_FOCUS
) -> list[Path]:
    """One PNG per plate (`qc_{plate}.png`): cells per well, worst-site focus and failing sites,
    on scales shared by every plate; empty wells hatched, controls lettered, threshold marked."""
    plt = _plt()
    from matplotlib.patches import Rectangle

    if qc.empty:
        return []
    table = _well_table(qc)
    wells = list(qc.Metadata_Well.astype(str))
    if platemap is not None:
        wells += list(platemap.Metadata_Well.astype(str))
    nr, nc, fmt = plate_format(wells)
    scales = shared_scales(table, min_focus)
    roles = {}
    if platemap is not None and "Metadata_Role" in platemap:
        roles = {
            (str(p), str(w)): ROLE_LETTER.get(str(r), "")
            for p, w, r in zip(
                platemap.Metadata_Plate, platemap.Metadata_Well, platemap.Metadata_Role, strict=True
            )
        }
    small = fmt >= 1536
    paths = []
    for plate, g in table.groupby(level="Metadata_Plate"):
        g = g.droplevel("Metadata_Plate")
        cell = 0.28 if fmt == 96 else (0.16 if fmt == 384 else 0.09)
        fig, axes = plt.subplots(
            1, 3, figsize=(3 * (nc * cell + 1.4), nr * cell + 1.6), constrained_layout=True
        )
        for ax, (col, title, cmap_name) in zip(axes, METRICS, strict=True):
            grid = plate_grid(g[col], nr, nc)
            cmap = plt.get_cmap(cmap_name).copy()
            cmap.set_bad((0, 0, 0, 0))  # wells with no image: transparent over the hatched ground
            ax.add_patch(
                Rectangle(
                    (-0.5, -0.5), nc, nr, facecolor="0.92", edgecolor="0.6", hatch="////", lw=0, zorder=0
                )
            )
            lo, hi = scales[col]
            im = ax.imshow(np.ma.masked_invalid(grid), cmap=cmap, vmin=lo, vmax=hi, zorder=1)
            bar = fig.colorbar(im, ax=ax, shrink=0.8)
            if col == "focus":  # the pass threshold on the scale, and a cross on each failing well
                bar.ax.axhline(min_focus, color="cyan", lw=3)
                title = f"{title}\ncyan: QC pass threshold {min_focus:g}, x: well below it"
                low = np.argwhere(grid < min_focus)
                ax.scatter(low[:, 1], low[:, 0], marker="x", color="cyan", s=12 if small else 30, zorder=3)
            for (p, w), letter in roles.items():
                if p == str(plate) and letter and not small:
                    r, c = well_row_col(w)
                    ax.text(
                        c,
                        r,
                        letter,
                        ha="center",
                        va="center",
                        fontsize=6 if fmt == 384 else 8,
                        color="white",
                        fontweight="bold",
                        zorder=4,
                        bbox={"boxstyle": "circle,pad=0.1", "fc": "black", "alpha": 0.55, "lw": 0},
                    )
            step = 1 if fmt == 96 else (2 if fmt == 384 else 4)
            ax.set_xticks(range(0, nc, step), [str(i + 1) for i in range(0, nc, step)], fontsize=7)
            ax.set_yticks(
                range(0, nr, step),
                [chr(65 + i) if i < 26 else "A" + chr(39 + i) for i in range(0, nr, step)],
                fontsize=7,
            )
            ax.set_xlim(-0.5, nc - 0.5)
            ax.set_ylim(nr - 0.5, -0.5)
            ax.set_title(title, fontsize=9)
        fig.suptitle(
            f"plate {plate} ({fmt}-well): site QC — hatched: no image; N/P: negative/positive control; "
            f"scales shared by all plates",
            fontsize=9,
        )
        p = out / f"qc_{plate}.png"
        fig.savefig(p, dpi=110)
        plt.close(fig)
        paths.append(p)
    return paths


def similarity_map(
    profiles: pd.DataFrame,
    path: Path,
    *,
    hits: pd.DataFrame | None = None,
    relationships: pd.DataFrame | None = None,
) -> Path:
    """Cosine similarity between perturbation profiles, ordered by hierarchical clustering; known pairs
    dotted, hits in bold red, controls in blue."""
    from scipy.cluster.hierarchy import leaves_list, linkage
    from scipy.spatial.distance import squareform

    plt = _plt()
    names = profiles["Metadata_Perturbation"].astype(str).tolist()
    roles = (
        profiles["Metadata_Role"].astype(str).tolist() if "Metadata_Role" in profiles else [""] * len(names)
    )
    x = profiles[list(feature_names(profiles))].to_numpy()
    sim = cosine_matrix(x)
    dist = np.clip(1.0 - sim, 0.0, 2.0)
    np.fill_diagonal(dist, 0.0)
    order = (
        leaves_list(linkage(squareform(dist, checks=False), "average")) if len(x) > 2 else np.arange(len(x))
    )
    sim = sim[np.ix_(order, order)]
    ordered = [names[i] for i in order]
    n = len(names)
    fig, ax = plt.subplots(figsize=(2.5 + 0.32 * n, 2 + 0.3 * n), constrained_layout=True)
    im = ax.imshow(sim, cmap="RdBu_r", vmin=-1, vmax=1)
    cells = known_pair_cells(relationships, ordered)
    if cells:
        ys, xs = zip(*cells, strict=True)
        ax.scatter(xs, ys, s=14, c="black", marker="o", zorder=3)
    pairs = len(cells) // 2
    hit_names = set(hits["Metadata_Perturbation"].astype(str)) if hits is not None and len(hits) else set()
    labels = []
    for i in order:
        role = roles[i]
        labels.append(f"{names[i]} [{role.split('_')[0][:3]}]" if role.endswith("control") else names[i])
    ax.set_xticks(range(n), labels, rotation=90, fontsize=8)
    ax.set_yticks(range(n), labels, fontsize=8)
    for ticks in (ax.get_xticklabels(), ax.get_yticklabels()):
        for t, i in zip(ticks, order, strict=True):
            if names[i] in hit_names:
                t.set_color("firebrick")
                t.set_fontweight("bold")
            elif roles[i].endswith("control"):
                t.set_color("royalblue")
    ax.set_title(
        f"perturbation similarity (cosine); dots: known pairs ({pairs}); bold red: hits ({len(hit_names)});"
        " blue: controls",
        fontsize=9,
    )
    fig.colorbar(im, ax=ax, shrink=0.7)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
