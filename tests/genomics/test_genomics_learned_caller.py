"""The learned caller end to end on data it did not train on: features, training, calling, the VCF header,
determinism of a pinned model, and accuracy beside bcftools on a held-out reference."""

from __future__ import annotations

from pathlib import Path

import pysam
import pytest

from labstream.genomics.call import call_variants
from labstream.genomics.evaluate import evaluate
from labstream.genomics.learned import MODEL_HEADER, ModelTag, call_learned
from labstream.genomics.learned_features import homopolymer, repeat_units
from labstream.genomics.learned_model import VariantModel
from labstream.instruments.training_sets import simulated_sample
from labstream.models.train import train

LAMBDA = "/usr/share/doc/bowtie2/examples/reference/lambda_virus.fa.gz"
MT_HUMAN = "/usr/share/doc/minimap2/test/MT-human.fa.gz"


def test_reference_context_features() -> None:
    assert homopolymer("ACGAAAAT", 2) == 4  # the run right of position 2 (where an indel would land)
    assert homopolymer("ACGT", 3) == 0
    assert repeat_units("GCACACACT", 0, "CA") == 3
    assert repeat_units("GCACACACT", 0, "") == 0


@pytest.mark.slow
def test_learned_caller_on_a_held_out_reference(tmp_path: Path) -> None:
    samples = [
        simulated_sample("sequencer", LAMBDA, tmp_path / f"t{s}", seed=s, coverage=c, q_end=q)
        for s, c, q in ((31, 10, 20.0), (32, 20, 24.0), (33, 30, 22.0))
    ]
    trained = train(samples, seed=0, max_iter=60)
    model = VariantModel.from_bytes(
        trained.weights, __import__("hashlib").sha256(trained.weights).hexdigest()
    )
    held = simulated_sample("sequencer", MT_HUMAN, tmp_path / "held", seed=77, coverage=15)
    tag = ModelTag("variant-caller", "1", "ab" * 32)
    ours = call_learned(held.reference, held.bam, tmp_path / "out" / "a.vcf.gz", model, tag)
    again = call_learned(held.reference, held.bam, tmp_path / "out" / "b.vcf.gz", model, tag)
    base = call_variants(held.reference, held.bam, tmp_path / "out" / "bcftools.vcf.gz")
    with pysam.VariantFile(str(ours)) as a, pysam.VariantFile(str(again)) as b:
        assert f"##{MODEL_HEADER}={tag}" in str(a.header)
        recs_a = [(r.pos, r.ref, r.alts, r.qual, r.samples[0]["GT"]) for r in a]
        assert recs_a == [(r.pos, r.ref, r.alts, r.qual, r.samples[0]["GT"]) for r in b]  # pinned: same calls
    m, mb = evaluate(held.reference, held.truth_vcf, ours), evaluate(held.reference, held.truth_vcf, base)
    # a reference the model never saw: at least bcftools' F1 on SNPs and indels, and high in absolute terms
    assert m["SNP"].f1 >= mb["SNP"].f1 and m["INDEL"].f1 >= mb["INDEL"].f1 - 0.01
    assert m["SNP"].f1 > 0.95 and m["INDEL"].f1 > 0.95
    assert m["ALL"].genotype_concordance > 0.97
