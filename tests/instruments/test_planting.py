"""Both sequencer simulators plant their truth with one PlantSpec: same counts, spacing and end margin."""

from __future__ import annotations

import numpy as np
import pytest

from labstream.instruments.nanopore import NanoporeConfig
from labstream.instruments.planting import PlantSpec, plant_variants
from labstream.instruments.sequencer import SimConfig


def _reference(seed: int) -> dict[str, str]:
    rng = np.random.default_rng(seed)
    return {f"chr{i}": "".join(rng.choice(list("ACGT"), size=n)) for i, n in enumerate((9_000, 4_000, 2_500))}


@pytest.mark.parametrize("seed", [1, 2, 3])
@pytest.mark.parametrize(
    "cfg",
    [SimConfig(), SimConfig(read_length=250, max_indel=12, spacing=60), NanoporeConfig(snps=40, indels=30)],
    ids=["short", "short-250", "long"],
)
def test_variants_keep_the_margin_spacing_and_counts(cfg: PlantSpec, seed: int) -> None:
    reference = _reference(seed)
    variants = plant_variants(reference, cfg, np.random.default_rng(seed))
    assert len(variants) == cfg.snps + cfg.indels  # no contig too short here
    assert sum(v.kind == "SNP" for v in variants) == cfg.snps
    for v in variants:
        assert cfg.end_margin() < v.pos <= len(reference[v.contig]) - cfg.end_margin()
        assert max(len(v.ref), len(v.alt)) <= cfg.max_indel + 1
    for contig in reference:
        pos = sorted(v.pos for v in variants if v.contig == contig)
        assert all(b - a >= cfg.spacing // 2 for a, b in zip(pos, pos[1:], strict=False))


def test_the_end_margins() -> None:
    assert NanoporeConfig().end_margin() == PlantSpec().end_margin() == 158  # what the long reads always had
    assert SimConfig().end_margin() == 158 and SimConfig(read_length=100).end_margin() == 108
