"""The genomics part of the demo: a small reference genome for the sequencer simulator, and the summary
of the called sample (variants, accuracy against the simulator's truth, turnaround time)."""

from __future__ import annotations

import gzip
import shutil
from pathlib import Path
from typing import Any

import numpy as np

from labstream.core.events import Event

LAMBDA = Path("/usr/share/doc/bowtie2/examples/reference/lambda_virus.fa.gz")


def demo_reference(out: Path) -> Path:
    """Lambda phage from Debian's bowtie2-examples when installed, else a seeded random genome."""
    out.parent.mkdir(parents=True, exist_ok=True)
    if LAMBDA.exists():
        with gzip.open(LAMBDA, "rb") as src, open(out, "wb") as dst:
            shutil.copyfileobj(src, dst)
    else:
        rng = np.random.default_rng(11)
        seq = "".join(rng.choice(list("ACGT"), size=30_000))
        out.write_text(">synthetic\n" + "\n".join(seq[i : i + 60] for i in range(0, len(seq), 60)) + "\n")
    return out


def genomics_summary(
    runner: Any, ingestor: Any, ev: Event | None, run: Any, reference: Path, landed: dict[str, float]
) -> dict[str, Any]:
    from labstream.genomics.evaluate import evaluate
    from labstream.genomics.reference import open_reference
    from labstream.lake import LakeSQL

    if ev is None:
        return {}
    out: dict[str, Any] = {"sample": ev.key, "variants": ev.data["variants"], "chunks": ev.data["chunks"]}
    if ev.data.get("time_to_first_variants_s") is not None:
        out["time_to_first_variants_s"] = round(float(ev.data["time_to_first_variants_s"]), 2)
        out["first_variants_from"] = ev.data.get("first_variants_from", "refresh")
    vcf_ref = next(r for r in ev.refs if r.uri.endswith(".vcf.gz"))
    tbi_ref = next(r for r in ev.refs if r.uri.endswith(".vcf.gz.tbi"))
    tmp = Path(ingestor.settings.home) / "scratch"
    tmp.mkdir(exist_ok=True)
    vcf = tmp / "DEMO1.vcf.gz"
    vcf.write_bytes(ingestor.store.get_bytes(vcf_ref.uri))
    (tmp / "DEMO1.vcf.gz.tbi").write_bytes(ingestor.store.get_bytes(tbi_ref.uri))
    metrics = evaluate(open_reference(reference), run.truth_vcf, vcf)
    out["f1"] = {k: round(m.f1, 4) for k, m in metrics.items()}
    out["precision"] = {k: round(m.precision, 4) for k, m in metrics.items()}
    out["recall"] = {k: round(m.recall, 4) for k, m in metrics.items()}
    out["report"] = next(r.uri for r in ev.refs if r.uri.endswith(".html"))
    sql = LakeSQL(runner.lake)
    out["top_variants"] = sql.query(
        "SELECT contig, start, ref, alt, gt, dp, round(qual, 1) AS qual "
        "FROM variants ORDER BY qual DESC LIMIT 5"
    ).to_pylist()
    if "sequencer_first" in landed and "variants_at" in landed:
        out["turnaround_s"] = round(landed["variants_at"] - landed["sequencer_first"], 2)
        out["after_last_chunk_s"] = round(landed["variants_at"] - landed.get("sequencer_done", 0), 2)
    stage_time = {}
    for name in ("gx_align", "gx_call"):
        recs = runner.catalog.list_lineage(stage=name)
        stage_time[name] = round(sum(r.wall_seconds for r in recs), 2)
    out["stage_wall_s"] = stage_time
    return out
