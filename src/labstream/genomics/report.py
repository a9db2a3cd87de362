"""Per-sample clinical-style report: one self-contained HTML file (plot embedded as a PNG data URI).

PDF: Debian's chromium renders the same HTML with `--headless --print-to-pdf`; `render_pdf` does that when
chromium is installed and says so (returns None) when it is not, rather than shipping a second renderer.
"""

from __future__ import annotations

import base64
import functools
import io
import json
import os
import re
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Any

import jinja2
from markupsafe import Markup

from labstream.core.errors import InputError
from labstream.core.events import new_id
from labstream.core.hashing import sha256_file
from labstream.genomics.bam import CoverageBin
from labstream.genomics.report_content import (
    DEFAULT_THRESHOLDS,
    LIMITATIONS,
    Threshold,
    depth_summary,
    method_text,
    qc_against,
    variant_entry,
)


def coverage_png(bins: list[CoverageBin], title: str = "") -> str:
    """Mean depth per bin along each contig, as base64 PNG (matplotlib's object API: no pyplot global
    state, so it is safe in a thread, where finish_sample draws it beside the shard callers)."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(10, 2.6), dpi=100)
    ax = fig.subplots()
    offset = 0
    for contig in dict.fromkeys(b.contig for b in bins):
        cb = [b for b in bins if b.contig == contig]
        ax.step([offset + b.start for b in cb], [b.mean_depth for b in cb], where="post", label=contig[:30])
        offset += cb[-1].end if cb else 0
    ax.set_xlabel("position (bp)")
    ax.set_ylabel("mean depth")
    ax.set_title(title)
    ax.set_ylim(bottom=0)
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    return base64.b64encode(buf.getvalue()).decode()


VERSION_ARGS = {"minimap2": ["--version"], "samtools": ["--version"], "bcftools": ["--version"], "bwa": [],
                "freebayes": ["--version"]}  # fmt: skip


@functools.lru_cache(maxsize=8)
def tool_versions(tools: tuple[str, ...] = ("minimap2", "samtools", "bcftools")) -> dict[str, str]:
    """Versions of the tools a run used (the default is the default chain: minimap2, samtools, bcftools),
    so the report never lists a tool that did not touch the data."""
    import labstream

    out = {"labstream": getattr(labstream, "__version__", "0.1.0")}
    for tool in tools:
        args = VERSION_ARGS[tool]
        exe = shutil.which(tool)
        if not exe:
            continue
        res = subprocess.run(
            [exe, *args],
            capture_output=True,
            text=True,
            errors="replace",
            timeout=10,
            stdin=subprocess.DEVNULL,
        )
        text = (res.stdout or res.stderr).strip().splitlines()
        line = next((t for t in text if "ersion" in t or t[:1].isdigit() or t.startswith(tool)), "")
        line = line.replace("Version:", "").strip()
        out[tool] = line[len(tool) :].strip() if line.startswith(tool + " ") else line
    import pysam

    out["pysam"] = pysam.__version__
    return dict(out)


DEFAULT_ASSAY = "Germline small-variant sequencing (labstream DNA-seq)"
IDENTIFIER_NOTE = (
    "Identifiers are pseudonyms where the project is governed; the link to the patient is held by the data "
    "governance service, not in this report."
)
OTHERS_SHOWN = 200  # appendix rows; the VCF holds every call
_TEMPLATE = jinja2.Environment(
    loader=jinja2.PackageLoader("labstream.genomics", "."), autoescape=True
).get_template("report.html.j2")
_MODEL_RE = re.compile(r'<script type="application/json" id="labstream-report">(.*?)</script>', re.S)


def _css(text: str) -> Markup:
    """A value for a CSS string in @page margin boxes (raw text inside <style>: HTML escaping would show)."""
    clean = "".join(ch for ch in text if ch.isprintable() and ch not in "<>")
    return Markup(clean.replace("\\", "\\\\").replace('"', '\\"'))  # noqa: S704 - CSS-escaped above


def _status(model: dict[str, Any]) -> str:
    if model.get("signoff"):
        return f"FINAL — signed by {model['signoff']['by']}"
    return "AMENDED DRAFT — not signed" if model.get("amendment") else "DRAFT — not signed"


def render_html(model: dict[str, Any]) -> str:
    """The report page from its content model; the model rides inside the page, so signing or amending a
    stored report re-renders exactly what was reviewed (read_model)."""
    m = dict(model)
    m["status_words"] = _status(m)
    m["header_css"] = _css(f"Sample {m['sample']} · Specimen {m['specimen']}")
    m["status_css"] = _css(("QC FAILED · " if m["qc_failed"] else "") + m["status_words"])
    m["report_id_css"] = _css(str(m["report_id"]))
    data = json.dumps(model, sort_keys=True).replace("<", "\\u003c").replace(">", "\\u003e")
    return _TEMPLATE.render(m=m, model_json=Markup(data))  # noqa: S704 - JSON with < and > escaped


def read_model(html: str) -> dict[str, Any]:
    """The content model a report page carries; InputError when the page is not a labstream report."""
    found = _MODEL_RE.search(html)
    if not found:
        raise InputError(
            "report", "not a labstream report (no embedded content)", hint="sign the report object"
        )
    return dict(json.loads(found.group(1)))


def _summary(qc_failed: bool, selected: list[dict[str, Any]], out_of_range: list[str]) -> str:
    """The result in one or two sentences; never a negative-looking line when QC failed or is out of range."""
    if qc_failed:
        return (
            "QC FAILED: no result can be reported from this sample; calls are listed for investigation only."
        )
    qc_note = (
        f" {len(out_of_range)} QC metric(s) are outside the thresholds ({', '.join(out_of_range)}): "
        "the reviewer must accept the QC before this result is reported."
        if out_of_range
        else " All QC metrics are within the thresholds."
    )
    if not selected:
        return (
            "No variants of interest were found in the analysed regions, within the limitations below."
            + qc_note
        )
    by_class: dict[str, int] = {}
    for e in selected:
        by_class[e["classification"]] = by_class.get(e["classification"], 0) + 1
    counts = ", ".join(f"{n} {c.lower()}" for c, n in sorted(by_class.items(), key=lambda kv: -kv[1]))
    genes = sorted({e["gene"] for e in selected if e["gene"] != "—"})
    in_genes = f" in {len(genes)} gene(s)" if genes else ""
    return (
        f"{len(selected)} variant(s) of interest{in_genes}: {counts}. Details in the table below." + qc_note
    )


def build_model(
    *,
    sample: str,
    run: str,
    reference: str,
    qc: dict[str, Any],
    bins: list[CoverageBin],
    variants: list[dict[str, Any]],
    timings: dict[str, float],
    versions: dict[str, str],
    lineage: dict[str, str],
    plot: str | None = None,
    reference_sha256: str | None = None,
    genome_build: str | None = None,
    aligner: str = "minimap2",
    caller: str = "bcftools",
    inputs: list[dict[str, str]] | None = None,
    specimen: str | None = None,
    report_id: str | None = None,
    assay: str = DEFAULT_ASSAY,
    project: str = "",
    thresholds: tuple[Threshold, ...] = DEFAULT_THRESHOLDS,
    paired: bool = True,
    extra_limitations: tuple[str, ...] = (),
    depth: dict[str, float] | None = None,
    method: list[str] | None = None,
    base_limitations: tuple[str, ...] = LIMITATIONS,
) -> dict[str, Any]:
    """Everything the page says, as JSON-able data (see report_content.py for the rules). `method` and
    `base_limitations` replace the short-read chain's (a nanopore report: genomics/nanopore_report.py)."""
    from datetime import UTC, datetime

    entries = [variant_entry(v) for v in variants]
    selected = [e for e in entries if e["selected"]]
    others = [e for e in entries if not e["selected"]]
    qc_rows = qc_against({**qc, **(depth or depth_summary(bins))}, thresholds, paired=paired)
    gates = qc.get("failed_gates") or []  # the chain passes "q30, depth": a string is not a list of gates
    failed_gates = (
        [g.strip() for g in gates.split(",") if g.strip()]
        if isinstance(gates, str)
        else list(map(str, gates))
    )
    qc_failed = bool(failed_gates) or str(qc.get("qc_status", "")).lower() in ("fail", "failed")
    out_of_range = [q["label"] for q in qc_rows if q["result"] == "FAIL"]
    summary = _summary(qc_failed, selected, out_of_range)
    ref_path = Path(reference)
    return {
        "sample": sample,
        "specimen": specimen or sample,
        "report_id": report_id or lineage.get("lineage_id") or new_id(),
        "version": 1,
        "assay": assay,
        "run": run,
        "project": project,
        "generated": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "identifier_note": IDENTIFIER_NOTE,
        "genome_build": genome_build or f"not named (reference file {ref_path.name})",
        "reference_name": ref_path.name,
        "reference_sha256": reference_sha256
        or (sha256_file(ref_path)[0] if ref_path.is_file() else "unknown"),
        "inputs": list(inputs or []),
        "qc_failed": qc_failed,
        "failed_gates": failed_gates,
        "qc_rows": qc_rows,
        "summary": summary,
        "selected": selected,
        "others": others[:OTHERS_SHOWN],
        "others_more": max(0, len(others) - OTHERS_SHOWN),
        "n_calls": len(entries),
        "plot": plot if plot is not None else coverage_png(bins, f"{sample}: read depth along the reference"),
        "method": method
        or method_text(aligner, caller, versions, annotated=any(v.get("transcript") for v in variants)),
        "limitations": [*base_limitations, *extra_limitations],
        "versions": dict(versions),
        "timings": {k: f"{v:.2f} s" for k, v in timings.items()},
        "lineage": {k: Path(v).name if k in ("bam", "vcf") else str(v) for k, v in lineage.items()},
        "signoff": None,
        "amendment": None,
    }


def used_tools(aligner: str, caller: str) -> tuple[str, ...]:
    """The external tools a chain with this aligner and caller runs (samtools always: sort, markdup)."""
    tool = "bcftools" if caller == "learned" else caller  # the learned caller's candidates are bcftools'
    return tuple(dict.fromkeys((aligner, "samtools", tool, "bcftools")))


def input_files(annotation: str | Path | None, known: str | Path | None) -> list[dict[str, str]]:
    """The annotation and known-variants files by name and sha256, for the report's method section."""
    return [
        {"what": what, "name": Path(f).name, "sha256": sha256_file(f)[0]}
        for what, f in (("Gene annotation", annotation), ("Known variants", known))
        if f and Path(f).is_file()
    ]


def write_html(path: str | Path, model: dict[str, Any]) -> Path:
    """Write the page atomically (temporary name, then rename)."""
    out = Path(path)
    tmp = out.with_name(f".{out.name}.part")
    tmp.write_text(render_html(model))
    os.replace(tmp, out)
    return out


def write_report(path: str | Path, **kw: Any) -> Path:
    """build_model(**kw) written as one self-contained HTML page; returns its path."""
    return write_html(path, build_model(**kw))


def render_pdf(html_path: str | Path, pdf_path: str | Path, timeout: float = 60) -> Path | None:
    """Print the HTML to PDF with headless chromium; None when chromium is not installed."""
    exe = shutil.which("chromium") or shutil.which("chromium-browser")
    if not exe:
        return None
    out = Path(pdf_path)
    with tempfile.TemporaryDirectory(prefix="labstream-chromium-") as profile:
        tmp = out.with_name(f".{out.stem}.part.pdf")
        subprocess.run(
            [
                exe,
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                f"--user-data-dir={profile}",
                f"--print-to-pdf={tmp}",
                "--no-pdf-header-footer",
                Path(html_path).resolve().as_uri(),
            ],
            capture_output=True,
            timeout=timeout,
            check=True,
        )
    os.replace(tmp, out)
    return out


def amend_calls(
    model: dict[str, Any], variants: list[dict[str, Any]], model_tag: str, reason: str
) -> dict[str, Any]:
    """A new version of a report's content with other calls (a rescore by another model): the variant
    tables, summary and the model named in versions, method and lineage change; `amendment` says what it
    supersedes and why. The given content is not modified (the old page stays as it was)."""
    from datetime import UTC, datetime

    old = json.loads(json.dumps(model))
    new = json.loads(json.dumps(model))
    entries = [variant_entry(v) for v in variants]
    selected = [e for e in entries if e["selected"]]
    others = [e for e in entries if not e["selected"]]
    out_of_range = [q["label"] for q in new.get("qc_rows", []) if q.get("result") == "FAIL"]
    before = str(old.get("versions", {}).get("model", ""))
    new.update(
        selected=selected,
        others=others[:OTHERS_SHOWN],
        others_more=max(0, len(others) - OTHERS_SHOWN),
        n_calls=len(entries),
        summary=_summary(bool(new.get("qc_failed")), selected, out_of_range),
        version=int(old.get("version", 1)) + 1,
        signoff=None,
        amendment={"supersedes": old.get("report_id", ""), "reason": reason},
        generated=datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
    )
    new.setdefault("versions", {})["model"] = model_tag
    new.setdefault("lineage", {})["model_version"] = model_tag
    new["method"] = [m.replace(before, model_tag) if before else m for m in new.get("method", [])]
    return new


__all__ = [
    "DEFAULT_ASSAY",
    "amend_calls",
    "build_model",
    "coverage_png",
    "read_model",
    "render_html",
    "render_pdf",
    "tool_versions",
    "write_html",
    "write_report",
]
