"""Per-sample clinical-style report: one self-contained HTML file (plot embedded as a PNG data URI).

PDF: Debian's chromium renders the same HTML with `--headless --print-to-pdf`; `render_pdf` does that when
chromium is installed and says so (returns None) when it is not, rather than shipping a second renderer.
"""

from __future__ import annotations

import base64
import functools
import io
import os
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Any

import jinja2

from labstream.genomics.bam import CoverageBin

TEMPLATE = jinja2.Template(
    """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{{ sample }} — labstream genomics report</title>
<style>body{font-family:sans-serif;margin:2em;max-width:1100px}table{border-collapse:collapse;margin:1em 0}
td,th{border:1px solid #bbb;padding:3px 8px;font-size:13px;text-align:left}th{background:#eee}
.warn{color:#a00}</style></head><body>
<h1>Sample {{ sample }}</h1>
<p>Run <code>{{ run }}</code> · reference <code>{{ reference }}</code> · generated {{ generated }}</p>
<h2>Read QC</h2>
<table>{% for k, v in qc.items() %}<tr><th>{{ k }}</th><td>{{ v }}</td></tr>{% endfor %}</table>
<h2>Coverage</h2><img alt="coverage" src="data:image/png;base64,{{ plot }}" width="1000">
<h2>Variants of interest ({{ interesting|length }} of {{ n_variants }} calls)</h2>
<table><tr><th>contig</th><th>pos</th><th>ref</th><th>alt</th><th>GT</th><th>DP</th><th>GQ</th><th>gene</th>
<th>consequence</th><th>protein</th><th>significance</th></tr>
{% for v in interesting %}<tr><td>{{ v.contig }}</td><td>{{ v.start + 1 }}</td><td>{{ v.ref }}</td>
<td>{{ v.alt }}</td><td>{{ v.gt }}</td><td>{{ v.dp }}</td><td>{{ v.gq }}</td><td>{{ v.gene }}</td>
<td>{{ v.consequence }}</td><td>{{ v.protein_change }}</td><td>{{ v.clnsig }}</td></tr>{% endfor %}</table>
<h2>Turnaround time by stage</h2><table>{% for k, v in timings.items() %}<tr><th>{{ k }}</th>
<td>{{ '%.2f'|format(v) }} s</td></tr>{% endfor %}</table>
<h2>Pipeline and tool versions</h2>
<table>{% for k, v in versions.items() %}<tr><th>{{ k }}</th><td>{{ v }}</td>
</tr>{% endfor %}</table>
<h2>Lineage</h2><table>{% for k, v in lineage.items() %}<tr><th>{{ k }}</th><td><code>{{ v }}</code></td></tr>
{% endfor %}</table>
</body></html>
""",
    autoescape=True,
)

INTERESTING = {
    "frameshift_variant",
    "stop_gained",
    "stop_lost",
    "start_lost",
    "missense_variant",
    "inframe_insertion",
    "inframe_deletion",
}


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


@functools.lru_cache(maxsize=1)
def tool_versions() -> dict[str, str]:
    import labstream

    out = {"labstream": getattr(labstream, "__version__", "0.1.0")}
    for tool, args in (
        ("minimap2", ["--version"]),
        ("samtools", ["--version"]),
        ("bcftools", ["--version"]),
        ("bwa", []),
        ("freebayes", ["--version"]),
    ):
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
        out[tool] = line.replace("Version:", "").strip()
    import pysam

    out["pysam"] = pysam.__version__
    return dict(out)


def write_report(
    path: str | Path,
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
) -> Path:
    """`plot`: `coverage_png(bins, f"{sample} coverage")` when the caller drew it already."""
    from datetime import UTC, datetime

    interesting = [v for v in variants if v.get("consequence") in INTERESTING or v.get("clnsig")]
    text = TEMPLATE.render(
        sample=sample,
        run=run,
        reference=reference,
        generated=datetime.now(UTC).isoformat(timespec="seconds"),
        qc={k: (f"{v:.4f}" if isinstance(v, float) else v) for k, v in qc.items()},
        plot=plot if plot is not None else coverage_png(bins, f"{sample} coverage"),
        interesting=interesting,
        n_variants=len(variants),
        timings=timings,
        versions=versions,
        lineage=lineage,
    )
    out = Path(path)
    tmp = out.with_name(f".{out.name}.part")
    tmp.write_text(text)
    os.replace(tmp, out)
    return out


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


__all__ = ["INTERESTING", "coverage_png", "render_pdf", "tool_versions", "write_report"]
