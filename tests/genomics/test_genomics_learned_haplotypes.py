"""The learned caller's cluster re-representation: which clusters take freebayes' alleles, which keep the
model's calls (cases seen in held-out data: two insertions four bases apart that the aligner wrote as one
2-base insertion + a mismatch; an insertion bcftools never proposed next to another insertion)."""

from __future__ import annotations

from labstream.genomics.learned_haplotypes import HapCall, arbitrate

C = "c"


def test_a_cluster_bcftools_wrote_wrongly_takes_freebayes_alleles() -> None:
    learned = {(C, 4680, "C", "CA"), (C, 4683, "A", "AAT")}
    fb = [HapCall((C, 4680, "C", "CA"), "1/1", 240.0), HapCall((C, 4684, "T", "TC"), "0/1", 240.0)]
    drop, add = arbitrate(learned, fb)
    assert drop == learned and add == fb  # the shared insertion comes back with freebayes' genotype


def test_an_insertion_only_freebayes_found_is_added_and_far_calls_are_kept() -> None:
    learned = {(C, 1673, "T", "TGGAAA"), (C, 3000, "A", "G")}
    fb = [HapCall((C, 1673, "T", "TGGAAA"), "0/1", 309.0), HapCall((C, 1689, "C", "CG"), "0/1", 388.0)]
    drop, add = arbitrate(learned, fb)
    assert drop == set() and add == [fb[1]]


def test_snp_only_low_quality_and_agreeing_clusters_keep_the_model_calls() -> None:
    learned = {(C, 100, "A", "G"), (C, 500, "AT", "A")}
    fb = [
        HapCall((C, 103, "C", "T"), "0/1", 500.0),  # SNP-only cluster: the model's domain
        HapCall((C, 500, "AT", "A"), "0/1", 80.0),  # the same call: nothing to do
        HapCall((C, 900, "G", "GA"), "0/1", 5.0),  # under min_qual
    ]
    assert arbitrate(learned, fb, min_qual=20.0) == (set(), [])
    assert arbitrate(learned, fb, min_qual=1.0) == (set(), [fb[2]])


def test_write_scored_swaps_a_cluster_and_names_the_representation(tmp_path) -> None:  # type: ignore[no-untyped-def]
    import numpy as np
    import pysam

    from labstream.genomics.learned import write_scored

    cand = tmp_path / "cand.vcf"
    cand.write_text(
        "##fileformat=VCFv4.2\n##contig=<ID=c,length=9000>\n"
        '##FORMAT=<ID=GT,Number=1,Type=String,Description="Genotype">\n'
        "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\tFORMAT\tS\n"
        "c\t100\t.\tA\tG\t50\t.\t.\tGT\t0/1\n"
        "c\t4680\t.\tC\tCA\t200\t.\t.\tGT\t1/1\n"
        "c\t4683\t.\tA\tAAT\t180\t.\t.\tGT\t0/1\n"
    )
    proba = np.array([[0.1, 0.9, 0.0], [0.0, 0.1, 0.9], [0.1, 0.9, 0.0]])
    fb = [HapCall((C, 4680, "C", "CA"), "1/1", 240.0), HapCall((C, 4684, "T", "TC"), "0/1", 240.0)]
    out = write_scored(cand, proba, tmp_path / "o.vcf.gz", None, fb, min_qual=5.0)
    with pysam.VariantFile(str(out)) as fh:
        assert "##labstream_haplotype_representation=freebayes;min_qual=5" in str(fh.header)
        got = [(r.pos, r.ref, r.alts[0], r.samples[0]["GT"], "HAPREP" in r.info) for r in fh]
    assert got == [
        (100, "A", "G", (0, 1), False),  # the model's SNP, far away: kept
        (4680, "C", "CA", (1, 1), True),
        (4684, "T", "TC", (0, 1), True),
    ]
