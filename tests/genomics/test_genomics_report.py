"""The clinical report: what is selected and why, words a geneticist reads, QC failure on every page, A4."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from labstream.genomics.report import build_model, read_model, render_html, render_pdf, write_html
from labstream.genomics.report_content import classify, qc_against, zygosity


def _v(**kw):  # type: ignore[no-untyped-def]
    return {"contig": "c1", "start": 9, "ref": "A", "alt": "G", "consequence": "intergenic_variant", **kw}


@pytest.mark.parametrize(
    ("row", "selected", "cls"),
    [
        (_v(clnsig="Benign"), False, "Benign"),  # a benign intergenic call is never of interest
        (_v(clnsig="Likely_benign", consequence="missense_variant"), False, "Likely benign"),
        (_v(clnsig="Pathogenic", known_id="rs1"), True, "Pathogenic"),
        (_v(consequence="missense_variant"), True, "Unclassified (for review)"),
        (_v(consequence="stop_gained"), True, "Unclassified (for review)"),
        (_v(consequence="synonymous_variant"), False, "Not classified"),
        (_v(), False, "Not classified"),
    ],
)
def test_selection_rule(row, selected, cls) -> None:  # type: ignore[no-untyped-def]
    got = classify(row)
    assert got[:2] == (selected, cls) and got[2]  # and the rule is stated


@pytest.mark.parametrize(
    ("gt", "words"),
    [("0/1", "heterozygous"), ("1/1", "homozygous"), ("1|0", "heterozygous"), ("1", "hemizygous"),
     ("./.", "not determined"), (None, "not determined"), ("1/2", "heterozygous")],
)  # fmt: skip
def test_zygosity_in_words(gt, words) -> None:  # type: ignore[no-untyped-def]
    assert zygosity(gt) == words


def test_qc_against_thresholds() -> None:
    rows = {
        r["label"]: r for r in qc_against({"mean_depth": 8.0, "q30_fraction": 0.9, "mapped_fraction": 0.99})
    }
    assert rows["Mean depth (duplicates excluded)"]["result"] == "FAIL"
    assert rows["Bases with quality >= Q30"]["result"] == "PASS"
    assert rows["Duplicate reads"]["value"] == "not measured" and rows["Duplicate reads"]["result"] == "FAIL"
    single = {r["label"]: r for r in qc_against({}, paired=False)}
    assert single["Reads properly paired"]["result"] == "n/a"


def test_report_content(batch_result) -> None:  # type: ignore[no-untyped-def]
    html = batch_result.report.read_text()
    m = read_model(html)
    assert "bwa" not in m["versions"] and "freebayes" not in m["versions"]
    assert "minimap2" in m["versions"] and "bcftools" in m["versions"]
    assert not re.search(r"\b(bwa|freebayes)\b", " ".join(m["method"]))
    assert re.fullmatch(r"[0-9a-f]{64}", m["reference_sha256"])
    assert {f["what"] for f in m["inputs"]} == {"Gene annotation", "Known variants"}
    assert m["selected"] and all(v["selected"] for v in m["selected"])
    assert not [v for v in m["selected"] if "benign" in v["classification"].lower()]
    coding = [v for v in m["selected"] if v["hgvs_c"]]
    assert coding and all(v["hgvs_c"].startswith("c.") for v in coding)
    assert any(v["hgvs_p"].startswith("p.(") for v in coding)
    assert {v["zygosity"] for v in m["selected"]} <= {"heterozygous", "homozygous", "hemizygous"}
    assert all(re.fullmatch(r"\d\.\d\d", v["af"]) for v in m["selected"])
    assert m["n_calls"] == len(batch_result.variants) and not m["qc_failed"] and m["signoff"] is None
    assert "QC FAILED" not in html


def _model(**qc):  # type: ignore[no-untyped-def]
    return build_model(
        sample="S1", run="r1", reference="/nonexistent/ref.fa", qc=qc, bins=[], variants=[], timings={},
        versions={}, lineage={"lineage_id": "L1"}, plot="", reference_sha256="0" * 64,
    )  # fmt: skip


def test_failed_gates_mark_every_page_and_no_negative_wording() -> None:
    m = _model(qc_status="fail", failed_gates=["properly-paired fraction 0.00 < 0.50"])
    html = render_html(m)
    assert m["qc_failed"] and "QC FAILED" in m["summary"] and "No variants" not in m["summary"]
    page_css = html[html.index("@page") : html.index("* {")]
    assert "QC FAILED" in page_css  # a margin box: printed on every page
    assert "properly-paired fraction 0.00" in html


def test_no_variants_with_qc_out_of_range_is_not_negative() -> None:
    m = _model(q30_fraction=0.1)
    assert "not a negative result" in m["summary"] or "must accept the QC" in m["summary"]


@pytest.mark.integration
@pytest.mark.skipif(not shutil.which("pdftotext"), reason="poppler-utils (scripts/setup-debian.sh)")
def test_pdf_is_a4_with_sample_and_page_numbers_on_every_page(batch_result, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    pdf = render_pdf(batch_result.report, tmp_path / "r.pdf")
    assert pdf is not None
    info = subprocess.run(["pdfinfo", str(pdf)], capture_output=True, text=True, check=True).stdout
    assert re.search(r"Page size:\s+59[45]\.\d+ x 841\.\d+ pts \(A4\)", info), info
    n = int(re.search(r"Pages:\s+(\d+)", info).group(1))  # type: ignore[union-attr]
    assert n > 1
    for page in range(1, n + 1):
        text = subprocess.run(
            ["pdftotext", "-f", str(page), "-l", str(page), "-layout", str(pdf), "-"],
            capture_output=True, text=True, check=True,
        ).stdout  # fmt: skip
        assert "Sample LAM1" in text and f"Page {page} of {n}" in text, (page, text[:300])
    # a table wider than the page would be clipped: every variant's HGVS c. is in the text
    every = subprocess.run(["pdftotext", str(pdf), "-"], capture_output=True, text=True, check=True).stdout
    for v in read_model(batch_result.report.read_text())["selected"]:
        if v["hgvs_c"]:
            assert v["hgvs_c"] in every.replace("\n", "")


def test_write_html_round_trips_the_model(tmp_path: Path) -> None:
    m = _model()
    m["sample"] = 'S1"</script><b>'  # hostile text stays text
    page = write_html(tmp_path / "r.html", m).read_text()
    assert (
        read_model(page) == m and 'S1"</script><b>' not in page and "S1&#34;&lt;/script&gt;&lt;b&gt;" in page
    )
