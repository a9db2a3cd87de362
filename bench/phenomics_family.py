"""The map on screens it was not tuned on: the simulator family (instruments/microscope_family.py).

`python bench/phenomics_map.py --family 8 [--family-seed 13] [--train 4] [--size 256] [--cache DIR]`

Every member is simulated once and measured once per engine (labstream's cells and the classic
recipe's, as bench/phenomics_map.py measures a seed); `--cache DIR` keeps those tables
(`fam_{member}_{spec digest}_tables.pkl`) so a changed map is rescored in minutes. The stock chain
and a few map variants (FAMILY_VARIANTS: the previous stock map, the alignments, the classic
features through the stock map space) are scored on every member; the labstream method is chosen
by mean recall on the first `--train` members only, and the held-out members report, for the
chosen method, the stock chain, the classic recipe, the classic features through labstream's
profiling and the true effect vectors, each member's recall and the mean, sd, min and max over
held-out members. Two ceilings: the true effect vectors (noiseless shifts), and the rendered latent
states (each site's latent noise in, plate and position terms out: what the member's replicates let
a perfect assay reach; microscope_family.rendered_latent_recall), also without the latents whose sign
no image shows (nucleus elongation: the signed ceiling). `--stock-only` scores the chain's
map without the variants; `--skip m13 ...` leaves members out (listed in the JSON). draw_family is
prefix-stable, so `--family 16 --train 8` keeps members m1-m8 and adds a fresh held-out m9-m16.
"""

from __future__ import annotations

import hashlib
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
import phenomics_map as pm_bench  # noqa: E402


def member_scores(member: Any, tmp: Path, cache: Path | None, variants: bool = True) -> dict[str, float]:
    """Recall of every method on one member (cached by the member's name and spec); `variants=False`
    scores the stock chain, the classic recipe and the three ceilings only."""
    from labstream.instruments.microscope_family import FamilySimulator, oracle_recall, rendered_latent_recall

    digest = hashlib.sha1(repr((member.spec, member.effects)).encode()).hexdigest()[:12]
    tables = cache / f"fam_{member.name}_{digest}_tables.pkl" if cache is not None else None
    if tables is not None and tables.exists():  # measured once; the map methods are rescored
        m = pm_bench.Measured(**pd.read_pickle(tables))  # noqa: S301  (our own file, written below)
    else:
        res = FamilySimulator(member.spec, member.effects).write(tmp / member.name)
        paths = {
            "images": str(res.images),
            "platemap": str(res.platemap),
            "relationships": str(res.relationships),
        }
        m = pm_bench.measure(paths)
        if tables is not None:
            tables.parent.mkdir(parents=True, exist_ok=True)
            pd.to_pickle(vars(m), tables)
    measured_base = m.base_cells is not None  # a cache may hold a member measured by labstream only
    out: dict[str, float] = {
        "truth": oracle_recall(member),
        "rendered_latent": rendered_latent_recall(member),
        "rendered_latent_signed": rendered_latent_recall(member, signed_only=True),
        "labstream": float(pm_bench.stock_labstream(m)["recall"]),
        "baseline": float(m.base_summary["recall"]) if measured_base else float("nan"),  # type: ignore[arg-type]
    }
    cache_tables: dict[tuple[str, str], pd.DataFrame] = {}
    for v in FAMILY_VARIANTS if variants else []:
        if v.features == "baseline" and not measured_base:
            out[v.name] = float("nan")
            continue
        out[v.name] = float(pm_bench.run_variant(v, m, cache_tables)["recall"])
    return out


# the variants scored on every member: the previous stock map and the alignments the chain chooses
# between, on both feature sets (the whole pm_bench.VARIANTS list costs ~20 s per variant and member)
FAMILY_VARIANTS = [
    v
    for v in pm_bench.VARIANTS
    if v.name
    in {
        "lab_previous_map",
        "lab_tvn",
        "lab_center",
        "lab_outliers_none",
        "base_outliers_none",
        "base_center",
        "base_labstream_map",
        "lab_map_space",
        "lab_map_cell_weighted",
    }
]


def _stats(vals: list[float]) -> dict[str, object]:
    a = np.array(vals, float)
    return {
        "per_member": a.round(4).tolist(),
        "mean": float(a.mean()),
        "sd": float(a.std(ddof=1)) if a.size > 1 else 0.0,
        "min": float(a.min()),
        "max": float(a.max()),
    }


def run_family(
    n: int,
    seed: int,
    train: int,
    size: int,
    cache: Path | None,
    skip: list[str] | tuple[str, ...] = (),
    variants: bool = True,
) -> dict[str, object]:
    """Members named in `skip` are neither measured nor scored (the JSON lists them)."""
    from labstream.instruments.microscope_family import draw_family

    t0 = time.perf_counter()
    drawn = draw_family(n, seed, size)  # prefix-stable: draw_family(16)[:8] == draw_family(8)
    members = [m for m in drawn if m.name not in skip]
    scores: dict[str, dict[str, float]] = {}
    with tempfile.TemporaryDirectory(prefix="bench-phenomics-family-") as tmp:
        for mem in members:
            scores[mem.name] = member_scores(mem, Path(tmp), cache, variants)
            print(f"{mem.name}: {json.dumps(scores[mem.name])}", file=sys.stderr)
    out = summarise_family(members, scores, sum(m.name not in skip for m in drawn[:train]))
    out["skipped_members"] = [m.name for m in drawn if m.name in skip]
    out["wall_seconds"] = time.perf_counter() - t0
    return out


def summarise_family(
    members: list[Any], scores: dict[str, dict[str, float]], train: int
) -> dict[str, object]:
    """Choose methods on the first `train` members; held-out recall (with its spread) on the others."""
    names_train = [m.name for m in members[:train]]
    names_test = [m.name for m in members[train:]]
    scored = set.intersection(*(set(s) for s in scores.values()))  # variants may be left out
    lab_methods = ["labstream"] + [
        v.name for v in FAMILY_VARIANTS if v.features == "labstream" and v.name in scored
    ]
    base_methods = ["baseline"] + [
        v.name for v in FAMILY_VARIANTS if v.features == "baseline" and v.name in scored
    ]

    def mean_on(method: str, names: list[str]) -> float:  # members without classic tables left out
        vals = [scores[k][method] for k in names if np.isfinite(scores[k][method])]
        return float(np.mean(vals)) if vals else float("nan")

    # best mean recall on the train members; a tie (to float rounding) goes to the stock method
    chosen = max(lab_methods, key=lambda meth: (round(mean_on(meth, names_train), 9), meth == "labstream"))
    chosen_base = max(
        base_methods,
        key=lambda meth: (np.nan_to_num(round(mean_on(meth, names_train), 9), nan=-1.0), meth == "baseline"),
    )
    rows = {
        f"labstream_chosen ({chosen})": chosen,
        "labstream_stock_chain": "labstream",
        "labstream_previous_map": "lab_previous_map",
        "classic_recipe": "baseline",
        f"classic_features_best_map ({chosen_base})": chosen_base,
        "classic_features_labstream_map": "base_labstream_map",
        "true_effect_vectors": "truth",
        "rendered_latent_ceiling": "rendered_latent",  # the truth plus the well noise of the sites
        "rendered_latent_signed_ceiling": "rendered_latent_signed",  # ... without the signless latents
    }
    held = {
        row: _stats([scores[k][meth] for k in names_test]) for row, meth in rows.items() if meth in scored
    }
    return {
        "family": [
            {
                "name": m.name,
                "plates": m.spec.plates,
                "sites_per_well": m.spec.sites_per_well,
                "effect": round(m.spec.effect, 3),
                **{k: round(v, 3) for k, v in vars(m.effects).items()},
            }
            for m in members
        ],
        "train_members": names_train,
        "held_out_members": names_test,
        "chosen_on_train": {"labstream": chosen, "classic_features": chosen_base},
        "train_mean_recall": {meth: mean_on(meth, names_train) for meth in lab_methods + base_methods},
        "held_out_recall": held,
        "per_member": scores,
    }
