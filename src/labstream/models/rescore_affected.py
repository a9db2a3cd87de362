"""Rescore every sample a new model version affects (`labstream models rescore`, POST
/api/v1/models/{name}/rescore).

1 affected samples come from the lake: every (project, run, sample) whose `variants` rows name a version
  of the model (`model_version` = `NAME/N@sha256:...`) and none of which names the new version yet;
2 each sample's call is found through the lineage id its rows carry: the `genomics call` record (a
  rescore's record points at it as its parent) names the reference (its first input) and the BAM
  (an output), so the sample is re-called from its own BAM in its own folder (models/rescore.py: new
  VCF, new rows, an amended page beside the old one, a `models.rescore` lineage record);
3 governed reports of the sample (registered report objects of its project) whose latest version is
  signed are amended through governance's sign-off path with the new calls: a new draft version with the
  reason "model NAME vA → vB", the signed one kept, both in the lineage (stage `report.amend`); a
  reviewer signs the draft in its turn. A signed report is never changed in place;
4 every rescored sample gets a `models.rescore` audit record naming the actor, both versions and the
  amended report ids.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlparse

from labstream.core.errors import InputError
from labstream.models.base import ModelRegistry, ModelVersion
from labstream.models.rescore import Rescored, rescore

AuditFn = Callable[[str, dict[str, Any]], None]  # (project, detail)


@dataclass(frozen=True)
class Affected:
    project: str
    run: str
    sample: str
    tag: str  # the newest version of the model its rows name
    lineage_id: str  # the lineage record of those rows


@dataclass
class Outcome:
    affected: Affected
    rescored: Rescored | None = None
    amended_reports: list[str] = field(default_factory=list)
    problem: str = ""

    def to_dict(self) -> dict[str, Any]:
        a, r = self.affected, self.rescored
        return {
            "project": a.project,
            "run": a.run,
            "sample": a.sample,
            "before": a.tag,
            "after": r.after if r else None,
            "vcf": str(r.vcf) if r and r.vcf else None,
            "report": str(r.report) if r and r.report else None,
            "lineage_id": r.lineage_id if r else None,
            "rows": r.rows if r else 0,
            "amended_reports": self.amended_reports,
            "problem": self.problem,
        }


def _version(tag: str) -> int:
    try:
        return int(tag.split("@", 1)[0].rsplit("/", 1)[1])
    except (IndexError, ValueError):
        return -1


def affected_samples(lake_url: str, name: str, new_tag: str, project: str | None = None) -> list[Affected]:
    """Samples whose rows name a version of `name` and not `new_tag`, oldest run first."""
    from labstream.lake import open_lake

    lake = open_lake(lake_url)
    if not lake.exists("variants"):
        return []
    cols = ["project", "run", "sample", "model_version", "lineage_id"]
    if "model_version" not in lake.schema("variants").names:
        return []  # no row ever named a model
    groups: dict[tuple[str, str, str], dict[str, str]] = {}
    for r in lake.read("variants", columns=cols).to_pylist():
        tag = r["model_version"] or ""
        if tag.startswith(f"{name}/") and (project is None or r["project"] == project):
            groups.setdefault((r["project"], r["run"], r["sample"]), {})[tag] = r["lineage_id"]
    out = []
    for (proj, run, sample), tags in sorted(groups.items()):
        if new_tag not in tags:
            tag = max(tags, key=_version)
            out.append(Affected(proj, run, sample, tag, tags[tag]))
    return out


def _path(uri: str) -> Path:
    return Path(unquote(urlparse(uri).path))


def call_inputs(catalog_url: str, lineage_id: str) -> tuple[Path, Path]:
    """(the sample's folder, its reference) from the `genomics call` lineage record behind `lineage_id`."""
    from labstream.catalog import open_catalog

    cat = open_catalog(catalog_url)
    try:
        rec = cat.get_lineage(lineage_id)
        while rec is not None and rec.stage == "models.rescore" and rec.parent_ids:
            rec = cat.get_lineage(rec.parent_ids[0])
    finally:
        cat.close()
    bams = [o.uri for o in (rec.outputs if rec else []) if o.uri.endswith(".bam")]
    if rec is None or not rec.inputs or not bams:
        raise InputError(
            lineage_id, "no `genomics call` lineage record with a BAM for these rows",
            hint="rescore the sample by its folder: labstream models rescore FOLDER --sample S --reference R",
        )  # fmt: skip
    return _path(bams[0]).parent, _path(rec.inputs[0].uri)


def amend_governed(
    gov: Any, who: Any, a: Affected, rows: list[dict[str, Any]], tag: str, reason: str
) -> list[str]:
    """Amend the sample's governed reports whose latest version is signed; the new draft ids."""
    from sqlalchemy import select

    from labstream.genomics.report import amend_calls
    from labstream.governance import signoff
    from labstream.governance.models import DataObject

    with gov.sessions() as s:
        ids = list(
            s.scalars(
                select(DataObject.id)
                .where(DataObject.kind == "report")
                .where(DataObject.project == a.project)
                .where(DataObject.sample == a.sample)
                .order_by(DataObject.created_at)
            )
        )
    out, seen = [], set()
    for object_id in ids:
        chain = signoff.versions(gov, who, object_id)
        root = chain[0].report_id
        if root in seen:
            continue
        seen.add(root)
        last = chain[-1]
        if last.state != "signed":
            continue  # a draft is not a result yet: its sign-off will see the rescored calls' page
        new = signoff.amend(
            gov,
            who,
            last.object_id,
            reason,
            revise=lambda m: amend_calls(m, rows, tag, reason),
            right="rescore",
        )
        out.append(new.id)
    return out


def rescore_affected(
    registry: ModelRegistry,
    mv: ModelVersion,
    *,
    lake_url: str,
    catalog_url: str,
    project: str | None = None,
    gov: Any = None,
    who: Any = None,
    audit: AuditFn | None = None,
    threads: int = 2,
) -> list[Outcome]:
    """Rescore every affected sample (steps 1-4); one sample's failure is reported, not fatal."""
    from labstream.genomics.tables import variant_rows

    outcomes = []
    for a in affected_samples(lake_url, mv.name, mv.tag, project):
        o = Outcome(a)
        try:
            folder, reference = call_inputs(catalog_url, a.lineage_id)
            o.rescored = rescore(registry, mv, folder, a.sample, reference, lake_url=lake_url,
                                 catalog_url=catalog_url, threads=threads)  # fmt: skip
            if gov is not None and who is not None and o.rescored.vcf is not None:
                reason = f"model {mv.name} v{_version(a.tag)} → v{mv.version}"
                rows = variant_rows(o.rescored.vcf, sample=a.sample, run=a.run, caller="learned",
                                    model_version=mv.tag)  # fmt: skip
                o.amended_reports = amend_governed(gov, who, a, rows, mv.tag, reason)
        except (InputError, OSError) as err:
            o.problem = str(err)
        if audit is not None:
            audit(a.project, {"model": mv.name, "alias": "", **o.to_dict()})
        outcomes.append(o)
    return outcomes


__all__ = ["Affected", "Outcome", "affected_samples", "amend_governed", "call_inputs", "rescore_affected"]
