"""The batch chain on simulated lambda-phage data, checked against the tools run directly."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pysam
import pytest

from labstream.genomics.call import call_variants
from labstream.genomics.chain import ChainOptions
from labstream.genomics.evaluate import evaluate
from labstream.genomics.live_sample import StreamingSample
from labstream.genomics.reference import open_reference
from labstream.instruments.sequencer import stream_chunks
from labstream.lake import LakeSQL, open_lake


def _records(vcf: Path) -> list[tuple]:  # type: ignore[type-arg]
    with pysam.VariantFile(str(vcf)) as fh:
        return [(r.chrom, r.pos, r.ref, r.alts, tuple(s["GT"] for s in r.samples.values())) for r in fh]


def _sh(*cmd: str) -> str:
    return subprocess.run(cmd, check=True, capture_output=True, text=True).stdout


def test_bam_is_what_samtools_sort_produces_and_indexed(batch_result, tmp_path: Path) -> None:
    bam = batch_result.bam
    subprocess.run(["samtools", "quickcheck", str(bam)], check=True)
    assert Path(str(bam) + ".bai").exists()
    assert "SO:coordinate" in _sh("samtools", "view", "-H", str(bam))
    resorted = tmp_path / "resorted.bam"
    pysam.sort("-o", str(resorted), str(bam))
    ours = _sh("samtools", "view", str(bam)).splitlines()
    theirs = _sh("samtools", "view", str(resorted)).splitlines()
    assert [ln.split("\t")[:4] for ln in ours] == [ln.split("\t")[:4] for ln in theirs]
    # the index answers region queries: total mapped by idxstats equals a full count
    mapped = sum(int(ln.split("\t")[2]) for ln in _sh("samtools", "idxstats", str(bam)).splitlines())
    assert mapped == int(_sh("samtools", "view", "-c", "-F", "4", str(bam)))


def test_alignments_agree_with_minimap2_cli(batch_result, sim_run, tmp_path: Path) -> None:
    direct = _sh(
        "bash",
        "-c",
        f"minimap2 -ax sr {sim_run.reference} {sim_run.r1} {sim_run.r2} 2>/dev/null"
        " | samtools view -F 0x904 -",
    )
    rows = [ln.split("\t") for ln in direct.splitlines()]
    want = {(f[0], int(f[1]) & 0xC0): f[3] for f in rows}
    got = {
        (ln.split("\t")[0], int(ln.split("\t")[1]) & 0xC0): ln.split("\t")[3]
        for ln in _sh("samtools", "view", "-F", "0x904", str(batch_result.bam)).splitlines()
    }
    same = sum(1 for k, v in got.items() if want.get(k) == v)
    assert len(got) >= 0.99 * len(want) and same >= 0.97 * len(want)  # trimming moves a few read starts


def test_vcf_validates_and_has_the_declared_fields(batch_result) -> None:
    vcf = batch_result.vcf
    assert Path(str(vcf) + ".tbi").exists()
    header = _sh("bcftools", "view", "-h", str(vcf))
    assert header.splitlines()[-1].split("\t")[-1] == "LAM1"
    for tag in ("GT", "DP", "AD", "GQ"):
        assert f"##FORMAT=<ID={tag}," in header
    assert "##contig=<ID=gi|9626243|ref|NC_001416.1|,length=48502>" in header
    assert int(_sh("bcftools", "view", "-H", "-c", "1", str(vcf)).count("\n")) == len(batch_result.variants)
    _sh("bcftools", "index", "-n", str(vcf))


def test_calls_equal_unsharded_bcftools_run_directly(batch_result, tmp_path: Path) -> None:
    direct = tmp_path / "direct.vcf.gz"
    assert "minimap2" in _sh("bash", "-c", f"samtools view -H {batch_result.bam} | grep '^@PG' | head -1")
    reference = Path(
        _sh("bash", "-c", f"bcftools view -h {batch_result.vcf} | grep '^##reference='")
        .strip()
        .split("=", 1)[1]
        .replace("file://", "")
    )
    subprocess.run(
        [
            "bash",
            "-c",
            f"bcftools mpileup -f {reference} -a FORMAT/AD,FORMAT/DP -Ou "
            f"{batch_result.bam} | bcftools call -m -v -f GQ -Ou | bcftools norm -f {reference} "
            f"-m-any -Oz -o {direct}",
        ],
        check=True,
        capture_output=True,
    )
    assert _records(direct) == _records(batch_result.vcf)
    many = call_variants(
        open_reference(reference), batch_result.bam, tmp_path / "many.vcf.gz", threads=2, shards=7
    )
    assert _records(many) == _records(batch_result.vcf)


def test_f1_against_truth_is_high(batch_result, sim_run) -> None:
    m = evaluate(open_reference(sim_run.reference), sim_run.truth_vcf, batch_result.vcf)
    assert m["SNP"].truth == 60 and m["INDEL"].truth == 20
    assert m["SNP"].f1 >= 0.97 and m["INDEL"].f1 >= 0.9
    assert m["SNP"].genotype_concordance >= 0.95


def test_lake_rows_and_lineage(batch_result) -> None:
    lake = open_lake(str(Path(batch_result.bam).parent / "lake"))
    sql = LakeSQL(lake)
    v = sql.query(
        "SELECT count(*) AS n, count(DISTINCT lineage_id) AS l, min(lineage_id) AS id, "
        "sum(CASE WHEN consequence <> '' THEN 1 ELSE 0 END) AS annotated FROM variants"
    ).to_pylist()[0]
    assert v["n"] == len(batch_result.variants) and v["l"] == 1 and v["id"] == batch_result.lineage_id
    assert v["annotated"] == v["n"]
    qc = sql.query("SELECT reads, q30_fraction, mapped_fraction, insert_size_mean FROM reads_qc").to_pylist()
    assert len(qc) == 1 and qc[0]["reads"] == batch_result.qc["reads"] and qc[0]["mapped_fraction"] > 0.99
    assert 300 < qc[0]["insert_size_mean"] < 400  # simulator: mean 350
    cov = sql.query("SELECT count(*) AS n, avg(mean_depth) AS d FROM coverage").to_pylist()[0]
    assert cov["n"] == 49 and 18 < cov["d"] < 32  # 48,502 bp in 1 kb bins, simulated at 25x
    # a redelivered write of the same run and sample is a no-op
    from labstream.genomics.tables import write_lake as _write_lake

    again = _write_lake(
        str(Path(batch_result.bam).parent / "lake"),
        {"variants": batch_result.variants},
        run="run1",
        sample="LAM1",
        lineage_id=batch_result.lineage_id,
        project="default",
    )
    assert again == {"variants": False}


def test_report_and_qc_json(batch_result) -> None:
    import json

    html = batch_result.report.read_text()
    assert "data:image/png;base64," in html and "LAM1" in html and "bcftools 1.16" in html
    assert batch_result.lineage_id in html and "missense_variant" in html
    qc = json.loads(batch_result.qc_json.read_text())
    assert qc["complete"] is True and qc["variants"] == len(batch_result.variants)


@pytest.mark.slow
def test_streaming_result_equals_batch(batch_result, sim_run, tmp_path: Path) -> None:
    watch = tmp_path / "watch"
    landed = stream_chunks(
        sim_run.r1, sim_run.r2, watch, sample="LAM1", pairs_per_chunk=1500, total_pairs=sim_run.pairs
    )
    assert not [p for p in watch.iterdir() if p.name.startswith(".")]  # only complete files are visible
    r1s = sorted(p for p in landed if ".R1." in p.name)
    assert len(r1s) == -(-sim_run.pairs // 1500)
    s = StreamingSample(
        sim_run.reference,
        tmp_path / "out",
        sample="LAM1",
        run="run1",
        opts=ChainOptions(annotation=sim_run.gff3, known=sim_run.known_vcf),
    )
    interim = []
    for r1 in r1s:
        s.add_chunk(r1, Path(str(r1).replace(".R1.", ".R2.")))
        interim.append(len(_records(s.refresh())))
    res = s.finish()
    assert interim == sorted(interim) and interim[0] < interim[-1]  # calls grow with coverage
    assert _records(res.vcf) == _records(batch_result.vcf)
    assert 0 < res.timings["time_to_first_variants"] < res.timings["total"]
    assert not (tmp_path / "out" / "LAM1.partial.vcf.gz").exists()


@pytest.mark.integration
def test_report_prints_to_pdf_with_chromium(batch_result, tmp_path: Path) -> None:
    from labstream.genomics.report import render_pdf

    pdf = render_pdf(batch_result.report, tmp_path / "r.pdf")
    assert pdf is not None and pdf.read_bytes()[:5] == b"%PDF-" and pdf.stat().st_size > 10_000


def test_followed_calls_equal_indexed_calls_field_for_field(batch_result, sim_run, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """The batch chain's shards tail the BAM while markdup writes it (-t on a stream); calling the
    finished, indexed BAM per region (-r, same shards) must give the same records, every INFO and FORMAT
    value included."""
    indexed = call_variants(
        open_reference(sim_run.reference), batch_result.bam, tmp_path / "idx.vcf.gz", threads=2
    )
    body = _sh("bcftools", "view", "-H", str(batch_result.vcf))
    assert body.count("\n") == len(batch_result.variants) > 50
    assert _sh("bcftools", "view", "-H", str(indexed)) == body
