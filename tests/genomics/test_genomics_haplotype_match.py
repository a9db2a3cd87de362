"""Haplotype-aware matching: equivalent representations of one event match, different events do not."""

from __future__ import annotations

import random

from labstream.genomics.haplotype_match import clusters, match

# 1-based positions; reference with no repeats near the events
rnd = random.Random(11)
SEQ = "".join(rnd.choice("ACGT") for _ in range(300))


def snp(pos: int, alt: str | None = None) -> tuple[str, int, str, str]:
    ref = SEQ[pos - 1]
    return ("c", pos, ref, alt or ("A" if ref != "A" else "C"))


def shifted_as_snps(start: int, end: int) -> list[tuple[str, int, str, str]]:
    """An insertion of SEQ[start-1] after `start` and a deletion of the base at `end`, written as the SNPs
    a read aligned without gaps shows: every base in (start, end] replaced by its left neighbour."""
    return [("c", p, SEQ[p - 1], SEQ[p - 2]) for p in range(start + 1, end + 1) if SEQ[p - 1] != SEQ[p - 2]]


def test_insertion_plus_deletion_written_as_snps_matches() -> None:
    s, e = 100, 112
    ins = ("c", s, SEQ[s - 1], SEQ[s - 1] + SEQ[s - 1])
    dele = ("c", e - 1, SEQ[e - 2 : e], SEQ[e - 2])
    truth = {ins: "1/1", dele: "0/1"}
    calls = {ins: "0/1"} | {k: "0/1" for k in shifted_as_snps(s, e)}
    m = match(truth, calls, {"c": SEQ})
    assert m.tp_truth == set(truth) and m.tp_calls == set(calls)
    assert m.genotype_ok == set(truth)  # {ins+del, ins} on both sides
    # truth: both haplotypes carry insertion + deletion; calls: the SNP run on one haplotype only
    m2 = match({ins: "1/1", dele: "1/1"}, {k: "0/1" for k in shifted_as_snps(s, e)}, {"c": SEQ})
    assert m2.tp_truth == {ins, dele} and m2.genotype_known == {ins, dele} and m2.genotype_ok == set()


def test_snp_of_a_base_and_insertion_after_it_match_a_shifted_insertion() -> None:
    seq = "GGGCAACCAGTAAGC" + SEQ  # MT-orang 15218..: a wgsim case
    p = 9  # the A of ...CC[A]GT
    truth = {("c", p, "A", "C"): "1/1", ("c", p, "A", "AG"): "1/1"}  # A->C, G inserted after it
    calls = {("c", 6, "A", "AC"): "1/1", ("c", p, "A", "G"): "1/1"}  # C inserted after 6, A->G
    m = match(truth, calls, {"c": seq})
    assert m.tp_truth == set(truth) and m.tp_calls == set(calls) and m.genotype_ok == set(truth)


def test_a_different_event_stays_fp_and_fn() -> None:
    truth = {snp(50): "0/1", snp(200): "0/1"}
    calls = {snp(50): "0/1", snp(53): "0/1", snp(200, "T" if SEQ[199] != "T" else "G"): "0/1"}
    m = match(truth, calls, {"c": SEQ})
    assert m.tp_truth == {snp(50)} and m.tp_calls == {snp(50)}  # 53 is an extra SNP; 200 another base


def test_unknown_zygosity_matches_either_and_is_not_scored() -> None:
    dele = ("c", 150, SEQ[149:152], SEQ[149])
    right = ("c", 151, SEQ[150:153], SEQ[150])  # another deletion: no match
    m = match({dele: "./1"}, {dele: "0/1", right: "0/1"}, {"c": SEQ})
    assert m.tp_truth == {dele} and m.genotype_known == set()


def test_clusters_join_variants_within_the_gap() -> None:
    cs = clusters([snp(10), snp(20)], [snp(30), snp(41), snp(60)])
    assert [(c.start, c.end, len(c.truth), len(c.calls)) for c in cs] == [
        (10, 30, 2, 1),
        (41, 41, 0, 1),
        (60, 60, 0, 1),
    ]


def test_evaluate_files_by_haplotype_and_by_allele(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from typer.testing import CliRunner

    from labstream.cli.genomics import app

    s, e = 100, 112
    ins = ("c", s, SEQ[s - 1], SEQ[s - 1] + SEQ[s - 1])
    dele = ("c", e - 1, SEQ[e - 2 : e], SEQ[e - 2])
    (tmp_path / "ref.fa").write_text(">c\n" + SEQ + "\n")
    head = (
        "##fileformat=VCFv4.2\n##contig=<ID=c,length=300>\n"
        '##FORMAT=<ID=GT,Number=1,Type=String,Description="Genotype">\n'
        "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\tFORMAT\tS\n"
    )

    def vcf(name: str, recs: dict) -> str:  # type: ignore[type-arg]
        body = "".join(
            f"c\t{p}\t.\t{r}\t{a}\t50\tPASS\t.\tGT\t{g}\n" for (_, p, r, a), g in sorted(recs.items())
        )
        (tmp_path / name).write_text(head + body)
        return str(tmp_path / name)

    truth = vcf("truth.vcf", {ins: "1/1", dele: "0/1"})
    calls = vcf("calls.vcf", {ins: "0/1"} | {k: "0/1" for k in shifted_as_snps(s, e)})
    base = ["evaluate", "--reference", str(tmp_path / "ref.fa"), "--truth", truth, "--calls", calls, "--json"]
    out = {}
    for mode in ("haplotype", "allele"):
        res = CliRunner().invoke(app, [*base, "--match", mode])
        assert res.exit_code == 0, res.output
        out[mode] = __import__("json").loads(res.output[res.output.index("{") :])
    assert out["haplotype"]["SNP"]["fp"] == 0 and out["haplotype"]["INDEL"]["fn"] == 0
    assert out["haplotype"]["INDEL"]["genotype_concordance"] == 1.0
    assert out["allele"]["SNP"]["fp"] == len(shifted_as_snps(s, e)) and out["allele"]["INDEL"]["fn"] == 1
