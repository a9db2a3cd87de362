"""evaluate() against an example computed by hand (and through the CLI, as JSON)."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pysam
import pytest
from typer.testing import CliRunner

from labstream.cli.genomics import app
from labstream.genomics.evaluate import ambiguous_reads, callable_regions, evaluate, mismatches, read_support
from labstream.genomics.reference import open_reference


@pytest.fixture()
def example(tmp_path: Path) -> tuple[Path, Path, Path]:
    rnd = random.Random(3)
    seq = [rnd.choice("CGT") for _ in range(220)]  # no A except the homopolymer below
    seq[99] = "C"
    seq[100:105] = list("AAAAA")  # 1-based 101..105
    seq[105] = "G"
    s = "".join(seq)
    ref = tmp_path / "ref.fa"
    ref.write_text(">c1\n" + s + "\n")

    def b(pos: int) -> str:  # 1-based base
        return s[pos - 1]

    def alt(pos: int) -> str:
        return "A" if b(pos) != "A" else "C"

    head = (
        "##fileformat=VCFv4.2\n##contig=<ID=c1,length=220>\n"
        '##FORMAT=<ID=GT,Number=1,Type=String,Description="Genotype">\n'
        '##FILTER=<ID=LowQual,Description="low">\n'
        "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\tFORMAT\tS\n"
    )

    def line(pos: int, r: str, a: str, gt: str, filt: str = "PASS") -> str:
        return f"c1\t{pos}\t.\t{r}\t{a}\t50\t{filt}\t.\tGT\t{gt}\n"

    truth = tmp_path / "truth.vcf"
    truth.write_text(
        head
        + "".join(
            [
                line(20, b(20), alt(20), "0/1"),
                line(40, b(40), alt(40), "1/1"),
                line(60, b(60), alt(60), "0/1"),
                line(80, b(80), alt(80), "0/1"),
                line(100, "CA", "C", "0/1"),  # left-aligned deletion of one A of the homopolymer
                line(150, b(150), b(150) + "GT", "1/1"),
            ]
        )
    )
    calls = tmp_path / "calls.vcf"
    calls.write_text(
        head
        + "".join(
            [
                line(20, b(20), alt(20), "0/1"),  # TP, genotype agrees
                line(40, b(40), alt(40), "0/1"),  # TP, genotype differs
                line(60, b(60), alt(60), "0/1"),  # TP
                line(
                    104, "AA", "A", "0/1"
                ),  # the same deletion written right-shifted: TP after normalisation
                line(130, s[129:131], b(130), "0/1"),  # FP indel
                line(170, b(170), alt(170), "0/1"),  # FP SNP
                line(190, b(190), alt(190), "0/1", "LowQual"),  # filtered: ignored
                line(195, b(195), alt(195), "0/0"),  # reference genotype: ignored
            ]
        )
    )
    return ref, truth, calls


def test_hand_computed_metrics(example) -> None:  # type: ignore[no-untyped-def]
    ref, truth, calls = example
    m = evaluate(open_reference(ref), truth, calls)
    snp, indel = m["SNP"], m["INDEL"]
    # SNP: truth 4 (20, 40, 60, 80), calls 4 (20, 40, 60, 170): TP 3, FP 1, FN 1
    assert (snp.truth, snp.calls, snp.tp, snp.fp, snp.fn) == (4, 4, 3, 1, 1)
    assert snp.precision == pytest.approx(0.75) and snp.recall == pytest.approx(0.75)
    assert snp.f1 == pytest.approx(0.75)
    assert snp.genotype_concordance == pytest.approx(2 / 3)  # 40 is 1/1 in truth, 0/1 in calls
    # INDEL: truth 2 (100 del, 150 ins), calls 2 (104 del == 100 del, 130 del): TP 1, FP 1, FN 1
    assert (indel.truth, indel.calls, indel.tp, indel.fp, indel.fn) == (2, 2, 1, 1, 1)
    assert indel.f1 == pytest.approx(0.5) and indel.genotype_concordance == 1.0
    assert m["ALL"].tp == 4 and m["ALL"].f1 == pytest.approx(2 * (4 / 6) * (4 / 6) / (8 / 6))


def test_mismatches_name_the_errors_behind_the_counts(example) -> None:  # type: ignore[no-untyped-def]
    ref, truth, calls = example
    errs = mismatches(open_reference(ref), truth, calls)
    fp = {k[1]: (len(k[2]) != len(k[3]), gt) for k, gt in errs["FP"]}
    fn = {k[1]: (len(k[2]) != len(k[3]), gt) for k, gt in errs["FN"]}
    # the FP SNP and the FP indel, named as normalised (the deletion at 130 left-aligns to 129)
    assert fp == {129: (True, "0/1"), 170: (False, "0/1")}
    assert fn == {80: (False, "0/1"), 150: (True, "1/1")}
    assert [(k[1], g) for k, g in errs["GT"]] == [(40, "1/1->0/1")]


def test_regions_restrict_both_sets(example, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    ref, truth, calls = example
    bed = tmp_path / "r.bed"
    bed.write_text("c1\t0\t65\n")  # positions 1..65: SNPs 20, 40, 60 only
    m = evaluate(open_reference(ref), truth, calls, bed)
    assert (m["SNP"].tp, m["SNP"].fp, m["SNP"].fn) == (3, 0, 0) and m["INDEL"].truth == 0
    # a record counts when its REF span overlaps the regions: the FP deletion of a G of the GG at 130-131,
    # normalised to CG>C at 129 (REF 129-130), starts outside this BED but reaches its first base, 130
    bed.write_text("c1\t129\t220\n")  # positions 130..220
    m = evaluate(open_reference(ref), truth, calls, bed)
    assert (m["INDEL"].fp, m["INDEL"].truth, m["SNP"].fp, m["SNP"].truth) == (1, 1, 1, 0)


def test_cli_json(example) -> None:  # type: ignore[no-untyped-def]
    ref, truth, calls = example
    res = CliRunner().invoke(
        app, ["evaluate", "--reference", str(ref), "--truth", str(truth), "--calls", str(calls), "--json"]
    )
    assert res.exit_code == 0, res.output
    data = json.loads(res.output[res.output.index("{") :])
    assert data["SNP"]["f1"] == pytest.approx(0.75) and data["INDEL"]["tp"] == 1


def test_cli_reports_bad_truth(example, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    ref, _, calls = example
    res = CliRunner().invoke(
        app, ["evaluate", "--reference", str(ref), "--truth", str(tmp_path / "no.vcf"), "--calls", str(calls)]
    )
    assert res.exit_code == 2 and "no.vcf" in res.output


def test_cli_refuses_a_truth_whose_genotypes_have_no_gt_format(example, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """mason_variator writes FORMAT '.' before each genotype; htslib then reads no genotype at all, so
    scoring would count nothing (or stop with a KeyError): it is refused in one line naming the file."""
    ref, truth, calls = example
    lines = [ln for ln in truth.read_text().splitlines() if not ln.startswith("##FORMAT")]
    bare = tmp_path / "mason.vcf"
    bare.write_text("\n".join(ln.replace("\tGT\t", "\t.\t") for ln in lines) + "\n")
    res = CliRunner().invoke(
        app, ["evaluate", "--reference", str(ref), "--truth", str(bare), "--calls", str(calls)]
    )
    assert res.exit_code == 2, res.output
    assert "mason.vcf" in res.output and "no GT in its FORMAT" in res.output
    assert "Traceback" not in res.output


def _bam(ref: Path, out: Path, mapq0: int = 0) -> Path:
    """6 reads on 1..50 (3 with an A at position 20), 6 on 41..90, 2 on 141..190: depth >= 5 on 1..90;
    the first `mapq0` reads on 41..90 placed with mapping quality 0."""
    seq = "".join(ref.read_text().split("\n")[1:])
    header = pysam.AlignmentHeader.from_dict({"HD": {"SO": "coordinate"}, "SQ": [{"SN": "c1", "LN": 220}]})
    with pysam.AlignmentFile(str(out), "wb", header=header) as fh:
        for n, start in enumerate([0] * 6 + [40] * 6 + [140] * 2):
            read = pysam.AlignedSegment(header)
            bases = seq[start : start + 50]
            if start == 0 and n < 3:
                bases = bases[:19] + "A" + bases[20:]
            read.query_name, read.reference_id, read.reference_start = f"r{n}", 0, start
            read.query_sequence, read.cigarstring, read.mapping_quality = bases, "50M", 60
            if start == 40 and n - 6 < mapq0:
                read.mapping_quality = 0
            read.query_qualities = pysam.qualitystring_to_array("I" * 50)
            fh.write(read)
    pysam.index(str(out))
    return out


def test_callable_regions_from_depth_restrict_scoring(example, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    ref, truth, calls = example
    bam = _bam(ref, tmp_path / "r.bam")
    assert callable_regions(bam, tmp_path / "c.bed").read_text() == "c1\t0\t90\n"
    assert callable_regions(bam, tmp_path / "c2.bed", 2).read_text() == "c1\t0\t90\nc1\t140\t190\n"
    m = evaluate(open_reference(ref), truth, calls, tmp_path / "c.bed")
    # inside 1..90: truth SNPs 20, 40, 60, 80; calls 20, 40, 60 (the FP at 170 and both indels are outside)
    assert (m["SNP"].tp, m["SNP"].fp, m["SNP"].fn) == (3, 0, 1) and m["INDEL"].truth == m["INDEL"].calls == 0
    assert read_support(bam, "c1", 20, "A") == (6, 3) and read_support(bam, "c1", 150, "A")[0] == 2


def test_cli_callable_bam_reports_both_tables(example, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    ref, truth, calls = example
    bam = _bam(ref, tmp_path / "r.bam")
    args = ["evaluate", "--reference", str(ref), "--truth", str(truth), "--calls", str(calls)]
    res = CliRunner().invoke(app, [*args, "--callable-bam", str(bam), "--json"])
    assert res.exit_code == 0, res.output
    data = json.loads(res.output[res.output.index("{") :])
    assert data["all sites"]["SNP"]["fn"] == 1 and data["all sites"]["SNP"]["fp"] == 1
    assert (
        data["callable (depth >= 5)"]["SNP"]["fp"] == 0
        and data["callable (depth >= 5)"]["INDEL"]["truth"] == 0
    )
    text = CliRunner().invoke(app, [*args, "--callable-bam", str(bam), "--min-depth", "2"]).output
    assert "all sites:" in text and "callable (depth >= 2):" in text


def test_cli_callable_bam_that_is_not_a_bam_is_one_clear_line(example, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """The wrong file as the BAM (the calls VCF, a FASTQ) is named with what to pass, no traceback."""
    ref, truth, calls = example
    fastq = tmp_path / "r1.fastq"
    fastq.write_text("@r1\nACGT\n+\nIIII\n")
    args = ["evaluate", "--reference", str(ref), "--truth", str(truth), "--calls", str(calls)]
    for wrong in (calls, fastq):
        res = CliRunner().invoke(app, [*args, "--callable-bam", str(wrong)])
        assert res.exit_code == 2, res.output
        assert f"{wrong}: not a readable BAM" in res.output and "pass the BAM" in res.output
        assert "Traceback" not in res.output


def test_ambiguous_reads_counts_reads_placed_with_mapping_quality_zero(example, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    ref, _truth, _calls = example
    bam = _bam(ref, tmp_path / "r.bam", mapq0=4)
    # position 45: 6 reads from 1..50 and 6 from 41..90, 4 of the latter placed with MAPQ 0
    assert ambiguous_reads(bam, "c1", 45) == 4
    assert ambiguous_reads(bam, "c1", 20) == 0 and ambiguous_reads(bam, "c1", 150) == 0
    # counting only reads of mapping quality >= 1: 41..50 keeps 6 + 2, 51..90 only 2 (not callable)
    assert callable_regions(bam, tmp_path / "all.bed").read_text() == "c1\t0\t90\n"
    assert callable_regions(bam, tmp_path / "q1.bed", 5, min_mapq=1).read_text() == "c1\t0\t50\n"
    args = ["evaluate", "--reference", str(ref), "--truth", str(_truth), "--calls", str(_calls)]
    res = CliRunner().invoke(app, [*args, "--callable-bam", str(bam), "--min-mapq", "1", "--json"])
    assert res.exit_code == 0, res.output
    data = json.loads(res.output[res.output.index("{") :])
    # truth SNPs at 20, 40, 60, 80: 60 and 80 now fall outside (their reads placed with MAPQ 0)
    assert data["callable (depth >= 5, MAPQ >= 1)"]["SNP"]["truth"] == 2
    res = CliRunner().invoke(app, [*args, "--min-mapq", "1"])  # without the BAM it would mean nothing
    assert res.exit_code == 2 and "--min-mapq: applies to the callable regions" in res.output, res.output
