"""Rescore a called sample with another model version (`labstream models rescore`).

For a sample folder written by `genomics call --caller learned` (S.bam, S.vcf.gz naming its model in the
header, S.qc.json, S.report.html):
1 the new version (resolved once) calls the same BAM into `S.<name>-v<version>.vcf.gz`; the old VCF stays;
2 its rows go to the lake's `variants` table as new rows (their own lineage id, `model_version` the new
  tag), the old rows stay;
3 an amended report `S.report.v<N>.html` (reason "model NAME vA → vB", superseding the previous report
  id) is written beside the old page, which is never changed;
4 a lineage record (stage `models.rescore`) whose parent is the sample's call, with the new tag.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pysam

from labstream.core.errors import InputError
from labstream.core.events import new_id
from labstream.genomics.learned import MODEL_HEADER, ModelTag, call_learned
from labstream.genomics.reference import open_reference
from labstream.genomics.report import amend_calls, read_model, write_html
from labstream.genomics.tables import variant_rows, write_lake
from labstream.models.base import ModelRegistry, ModelVersion
from labstream.models.flavors import load


@dataclass(frozen=True)
class Rescored:
    sample: str
    before: str  # the tag the sample was called with
    after: str
    vcf: Path | None
    report: Path | None
    lineage_id: str
    rows: int

    @property
    def changed(self) -> bool:
        return self.before != self.after


def called_with(vcf: Path) -> str:
    with pysam.VariantFile(str(vcf)) as fh:
        for rec in fh.header.records:
            if rec.key == MODEL_HEADER:
                return str(rec.value)
    raise InputError(
        str(vcf), "not called by a learned model (no ##labstream_model line)", hint="nothing to rescore"
    )


def _latest_report(folder: Path, sample: str) -> Path:
    amended = sorted(folder.glob(f"{sample}.report.v*.html"), key=lambda p: int(p.name.split(".v")[-1][:-5]))
    return amended[-1] if amended else folder / f"{sample}.report.html"


def rescore(
    registry: ModelRegistry,
    mv: ModelVersion,
    folder: str | Path,
    sample: str,
    reference: str | Path,
    *,
    lake_url: str | None = None,
    catalog_url: str | None = None,
    threads: int = 2,
) -> Rescored:
    out = Path(folder)
    vcf = out / f"{sample}.vcf.gz"
    previous = sorted(out.glob(f"{sample}.{mv.name}-v*.vcf.gz"), key=lambda p: p.stat().st_mtime)
    before = called_with(previous[-1] if previous else vcf)
    if before == mv.tag:
        return Rescored(sample, before, mv.tag, None, None, "", 0)
    qc = json.loads((out / f"{sample}.qc.json").read_text())
    ref = open_reference(reference)
    lineage_id, started = new_id(), time.time()
    old_version = before.split("@", 1)[0].rsplit("/", 1)[-1]
    reason = f"model {mv.name} v{old_version} → v{mv.version}"
    # 1 calls by the new version, beside the old ones
    loaded = load(registry, mv)
    tag = ModelTag(mv.name, str(mv.version), mv.sha256)
    new_vcf = call_learned(ref, out / f"{sample}.bam", out / f"{sample}.{mv.name}-v{mv.version}.vcf.gz",
                           loaded.model, tag, threads=threads)  # fmt: skip
    run = str(qc.get("run", ""))
    rows = variant_rows(new_vcf, sample=sample, run=run, caller="learned", model_version=mv.tag)
    # 2 new rows (the run/sample transaction id names the version: a repeat writes nothing)
    if lake_url:
        write_lake(lake_url, {"variants": rows}, run=f"{run}/rescore-{mv.name}-v{mv.version}", sample=sample,
                   lineage_id=lineage_id, project=str(qc.get("project", "default")))  # fmt: skip
    # 3 the amended report, the old page untouched
    old_page = _latest_report(out, sample)
    content = amend_calls(read_model(old_page.read_text()), rows, mv.tag, reason)
    content["lineage"]["lineage_id"] = lineage_id
    report = write_html(out / f"{sample}.report.v{content['version']}.html", content)
    # 4 lineage: parent = the sample's call
    if catalog_url:
        _record(
            catalog_url, lineage_id, qc, mv, reason, [out / f"{sample}.bam", vcf], [new_vcf, report], started
        )
    return Rescored(sample, before, mv.tag, new_vcf, report, lineage_id, len(rows))


def _record(
    url: str,
    lineage_id: str,
    qc: dict[str, Any],
    mv: ModelVersion,
    reason: str,
    ins: list[Path],
    outs: list[Path],
    started: float,
) -> None:
    from labstream.catalog import open_catalog
    from labstream.catalog.records import LineageRecord
    from labstream.genomics.provenance import file_ref

    rec = LineageRecord(
        id=lineage_id,
        stage="models.rescore",
        stage_version="1",
        code_version="labstream.models.rescore",
        params={"reason": reason, "sample": qc.get("sample", "")},
        model_version=mv.tag,
        inputs=[file_ref(p) for p in ins],
        outputs=[file_ref(p) for p in outs],
        parent_ids=[str(qc["lineage_id"])] if qc.get("lineage_id") else [],
        status="ok",
        started_at=started,
        ended_at=time.time(),
    )
    with open_catalog(url) as cat:
        cat.upgrade()
        cat.record_lineage(rec)


__all__ = ["Rescored", "called_with", "rescore"]
