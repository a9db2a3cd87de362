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


def test_multiallelic_sites_put_one_alt_on_each_haplotype() -> None:
    from labstream.instruments.planting import haplotypes

    reference = _reference(4)
    cfg = PlantSpec(snps=80, indels=40, multiallelic=0.5)
    rng = np.random.default_rng(4)
    variants = plant_variants(reference, cfg, rng)
    sites: dict[tuple[str, int], list] = {}
    for v in variants:
        sites.setdefault((v.contig, v.pos), []).append(v)
    pairs = [s for s in sites.values() if len(s) == 2]
    assert 30 < len(pairs) < 90  # about half of 120 sites
    for a, b in pairs:
        assert {a.haplotype, b.haplotype} == {0, 1} and a.genotype == b.genotype == "0/1"
        assert (a.ref, a.alt) != (b.ref, b.alt) and a.kind == b.kind
    haps = haplotypes(reference, variants, rng)
    a, b = next(p for p in pairs if p[0].kind == "SNP")
    assert haps[a.haplotype][a.contig][a.pos - 1] == a.alt and haps[b.haplotype][b.contig][b.pos - 1] == b.alt
    # a share of 0 draws nothing more: the same seed plants exactly what it planted before the option
    plain = plant_variants(reference, PlantSpec(snps=80, indels=40), np.random.default_rng(4))
    assert all(v.haplotype is None for v in plain)


def test_a_planted_1_2_is_one_multiallelic_truth_record(tmp_path) -> None:  # type: ignore[no-untyped-def]
    import pysam

    from labstream.instruments.planting import PlantedVariant
    from labstream.instruments.sequencer import write_truth_vcf

    reference = {"c": "ACGTTAAAGC" * 10}
    variants = [
        PlantedVariant("c", 5, "TTAA", "T", "0/1", 0),  # a 3-base deletion on one haplotype
        PlantedVariant("c", 5, "T", "TG", "0/1", 1),  # an insertion at the same base on the other
        PlantedVariant("c", 40, "T", "C", "1/1"),
    ]
    vcf = write_truth_vcf(tmp_path / "t.vcf", reference, variants, "S")
    with pysam.VariantFile(str(vcf)) as fh:
        got = [(r.pos, r.ref, r.alts, r.samples["S"]["GT"]) for r in fh]
    assert got == [(5, "TTAA", ("T", "TGTAA"), (1, 2)), (40, "T", ("C",), (1, 1))]
