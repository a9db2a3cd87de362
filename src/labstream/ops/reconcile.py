"""Reconciliation: labstream's cost attribution against the cloud's bill.

Attribution is an estimate from the price book; the bill is the truth that finance pays. Importing a
billing export and showing the difference per project is what tells a lab whether its price book,
requests and tags are right (Terra and Seqera show one or the other, never the gap). Two export
shapes are read, detected from the header:

- AWS Cost and Usage Report: `lineItem/UnblendedCost` and the tag column `resourceTags/user:project`;
- Google Cloud billing export (CSV of the BigQuery table): `cost` and `labels` as JSON
  `[{"key": "project", "value": "..."}]`, or a flattened `labels.project` column.

Rows without a project tag are reported under "(untagged)", never dropped.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from labstream.core.errors import InputError

__all__ = ["UNTAGGED", "read_billing_export", "reconcile"]

UNTAGGED = "(untagged)"
_AWS_COST, _AWS_TAG = "lineItem/UnblendedCost", "resourceTags/user:project"


def _gcp_project(row: Mapping[str, str]) -> str:
    if row.get("labels.project"):
        return row["labels.project"]
    try:
        labels = json.loads(row.get("labels") or "[]")
    except json.JSONDecodeError:
        return ""
    return next(
        (str(x.get("value", "")) for x in labels if isinstance(x, dict) and x.get("key") == "project"), ""
    )


def read_billing_export(path: str | Path, tag: str = "project") -> dict[str, float]:
    """Billed cost per project tag from an AWS CUR or GCP billing CSV. InputError names the file and
    the line when the shape is unknown or a cost is not a number."""
    p = Path(path)
    try:
        return _read(p, tag)
    except (UnicodeDecodeError, csv.Error) as err:
        raise InputError(
            str(p), f"not a readable CSV ({err})", hint="export the billing report as UTF-8 CSV"
        ) from None


def _read(p: Path, tag: str) -> dict[str, float]:
    out: dict[str, float] = {}
    with p.open(newline="", encoding="utf-8") as fh:
        reader = csv.DictReader(fh)
        header = set(reader.fieldnames or [])
        aws = _AWS_COST in header
        if not aws and "cost" not in header:
            raise InputError(
                str(p),
                f"not a billing export: no {_AWS_COST!r} (AWS CUR) or 'cost' (Google Cloud) column",
                hint="export the billing report as CSV with resource tags / labels included",
            )
        tag_col = f"resourceTags/user:{tag}"
        for n, row in enumerate(reader, start=2):
            raw: Any = row.get(_AWS_COST) if aws else row.get("cost")
            try:
                cost = float(raw)
            except (TypeError, ValueError):
                raise InputError(
                    str(p),
                    f"cost {raw!r} is not a number",
                    record=f"line {n}",
                    hint="fix or remove that line of the export",
                ) from None
            project = (row.get(tag_col) if aws else _gcp_project(row)) or UNTAGGED
            out[project] = out.get(project, 0.0) + cost
    return out


def reconcile(
    attributed: Mapping[str, float], billed: Mapping[str, float], tolerance: float = 0.02
) -> list[dict[str, Any]]:
    """Per project: attributed and billed cost, the difference (billed - attributed) in money and as
    a fraction of the bill, and whether it is within `tolerance`."""
    rows = []
    for project in sorted(set(attributed) | set(billed)):
        a, b = float(attributed.get(project, 0.0)), float(billed.get(project, 0.0))
        diff = b - a
        frac = diff / b if b else (0.0 if a == 0 else float("inf"))
        rows.append(
            {
                "project": project,
                "attributed_usd": a,
                "billed_usd": b,
                "difference_usd": diff,
                "difference_fraction": frac,
                "within_tolerance": abs(frac) <= tolerance,
            }
        )
    return rows
