"""Figures for people: per-plate QC heatmaps and the perturbation similarity map (matplotlib Agg).

What a biologist reads off them, and so what they must not get wrong:

- QC heatmaps draw the plate at its real format (96, 384 or 1536 wells, from the highest row and
  column the platemap or the QC names), one colour scale per metric across every plate of the run
  (plates compare at a glance), focus on a log scale with the QC pass threshold marked on it (blurry
  sites are orders of magnitude below sharp ones; on a linear scale the threshold sat invisibly at
  the bottom), the FRACTION of a well's sites failing QC (wells with 1 and 4 sites compare), wells the
  platemap expects but that have no image hatched red (distinct from a well imaged with zero cells,
  and from a well the platemap does not use, plain grey), and controls lettered (N
  negative, P positive) in their wells.
- The similarity map marks known pairs (a dot in both cells of the pair), hits (bold red names) and
  positive controls (blue names). Negative controls are not drawn: profiles are centred on them, so
  their consensus is the origin and any cosine to it is noise.
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
        fails=("qc_pass", lambda s: float((~s.astype(bool)).mean())),
    )


def shared_scales(table: pd.DataFrame, min_focus: float = MIN_FOCUS) -> dict[str, tuple[float, float]]:
    """One (low, high) per metric over every plate's wells, so equal colours mean equal values."""
    positive = table.focus[table.focus > 0]
    low = min(float(positive.min()) if len(positive) else min_focus, min_focus) / 2
    return {
        "cells": (0.0, max(float(table.cells.max()), 1.0)),
        "focus": (low, max(float(table.focus.max()), 2 * min_focus)),  # drawn on a log scale
        "fails": (0.0, 1.0),  # a fraction of the well's sites
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
    ("fails", "fraction of sites failing QC", "Reds"),
)


def _ground(ax, expected: set[str] | None, imaged: set[str], nr: int, nc: int) -> None:  # type: ignore[no-untyped-def]
    """Wells under the colours: plain grey where the platemap uses none (not the colour of any value),
    hatched red where it expects an image that never came (hatched grey everywhere without a
    platemap: nothing says which wells are used)."""
    from matplotlib.patches import Rectangle

    if expected is None:
        ax.add_patch(
            Rectangle((-0.5, -0.5), nc, nr, facecolor="0.92", edgecolor="0.6", hatch="////", lw=0, zorder=0)
        )
        return
    ax.add_patch(Rectangle((-0.5, -0.5), nc, nr, facecolor="0.8", lw=0, zorder=0))
    for w in sorted(expected - imaged):
        r, c = well_row_col(w)
        ax.add_patch(
            Rectangle(
                (c - 0.5, r - 0.5),
                1,
                1,
                facecolor="mistyrose",
                edgecolor="firebrick",
                hatch="////",
                lw=0.8,
                zorder=0,
            )
        )


def _letters(ax, letters: dict[str, str], fmt: int) -> None:  # type: ignore[no-untyped-def]
    for w, letter in letters.items():
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


def _axes_ticks(ax, nr: int, nc: int, fmt: int) -> None:  # type: ignore[no-untyped-def]
    step = 1 if fmt == 96 else (2 if fmt == 384 else 4)
    ax.set_xticks(range(0, nc, step), [str(i + 1) for i in range(0, nc, step)], fontsize=7)
    ax.set_yticks(
        range(0, nr, step),
        [chr(65 + i) if i < 26 else "A" + chr(39 + i) for i in range(0, nr, step)],
        fontsize=7,
    )
    ax.set_xlim(-0.5, nc - 0.5)
    ax.set_ylim(nr - 0.5, -0.5)


def qc_heatmaps(
    qc: pd.DataFrame, out: Path, platemap: pd.DataFrame | None = None, min_focus: float = MIN_FOCUS
) -> list[Path]:
    """One PNG per plate (`qc_{plate}.png`): cells per well, worst-site focus (log scale, threshold
    marked) and the fraction of sites failing QC, on scales shared by every plate; wells expected
    but not imaged hatched red, unused wells plain grey, controls lettered."""
    plt = _plt()
    from matplotlib.colors import LogNorm, Normalize

    if qc.empty:
        return []
    table = _well_table(qc)
    wells = list(qc.Metadata_Well.astype(str))
    if platemap is not None:
        wells += list(platemap.Metadata_Well.astype(str))
    nr, nc, fmt = plate_format(wells)
    scales = shared_scales(table, min_focus)
    small = fmt >= 1536
    paths = []
    for plate, g in table.groupby(level="Metadata_Plate"):
        g = g.droplevel("Metadata_Plate")
        on_plate = None if platemap is None else platemap[platemap.Metadata_Plate.astype(str) == str(plate)]
        expected = None if on_plate is None else set(on_plate.Metadata_Well.astype(str))
        letters = {}
        if on_plate is not None and "Metadata_Role" in on_plate and not small:
            letters = {
                str(w): ROLE_LETTER[str(r)]
                for w, r in zip(on_plate.Metadata_Well, on_plate.Metadata_Role, strict=True)
                if str(r) in ROLE_LETTER
            }
        cell = 0.28 if fmt == 96 else (0.16 if fmt == 384 else 0.09)
        fig, axes = plt.subplots(
            1, 3, figsize=(3 * (nc * cell + 1.4), nr * cell + 1.8), constrained_layout=True
        )
        for ax, (col, title, cmap_name) in zip(axes, METRICS, strict=True):
            grid = plate_grid(g[col], nr, nc)
            cmap = plt.get_cmap(cmap_name).copy()
            cmap.set_bad((0, 0, 0, 0))  # wells with no image: transparent over the ground
            _ground(ax, expected, {str(w) for w in g.index}, nr, nc)
            lo, hi = scales[col]
            norm = LogNorm(lo, hi, clip=True) if col == "focus" else Normalize(lo, hi)
            im = ax.imshow(np.ma.masked_invalid(grid), cmap=cmap, norm=norm, zorder=1)
            bar = fig.colorbar(im, ax=ax, shrink=0.8)
            if col == "focus":  # the pass threshold on the scale, and a cross on each failing well
                bar.ax.axhline(min_focus, color="cyan", lw=3)
                title = f"{title}\ncyan: QC pass threshold {min_focus:g}, x: well below it"
                low = np.argwhere(grid < min_focus)
                ax.scatter(low[:, 1], low[:, 0], marker="x", color="cyan", s=12 if small else 30, zorder=3)
            _letters(ax, letters, fmt)
            _axes_ticks(ax, nr, nc, fmt)
            ax.set_title(title, fontsize=9)
        missing = (
            "hatched red: expected by the platemap, no image; plain grey: not used"
            if expected is not None
            else ("hatched: no image")
        )
        fig.suptitle(
            f"plate {plate} ({fmt}-well): site QC — {missing}; N/P: negative/positive control; "
            f"scales shared by all plates",
            fontsize=9,
        )
        p = out / f"qc_{plate}.png"
        fig.savefig(p, dpi=110)
        plt.close(fig)
        paths.append(p)
    return paths


def drawn_profiles(profiles: pd.DataFrame) -> pd.DataFrame:
    """The rows the similarity map draws: all but negative controls (profiles are centred on them, so
    their consensus is ~0 and its direction, the only thing a cosine sees, is noise)."""
    if "Metadata_Role" not in profiles:
        return profiles
    return profiles[profiles.Metadata_Role.astype(str) != "negative_control"]


def similarity_map(
    profiles: pd.DataFrame,
    path: Path,
    *,
    hits: pd.DataFrame | None = None,
    relationships: pd.DataFrame | None = None,
) -> Path:
    """Cosine similarity between perturbation profiles, ordered by hierarchical clustering; known pairs
    dotted, hits in bold red, positive controls in blue; negative controls left out (the origin)."""
    from scipy.cluster.hierarchy import leaves_list, linkage
    from scipy.spatial.distance import squareform

    plt = _plt()
    profiles = drawn_profiles(profiles)
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
        " blue: positive controls\nnegative controls are the origin of every profile (not drawn)",
        fontsize=9,
    )
    fig.colorbar(im, ax=ax, shrink=0.7)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
