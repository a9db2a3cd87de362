"""MinKNOW's sample sheet: which barcode of a flow cell holds which sample, and the name (alias) it goes by.

    flow_cell_id,kit,sample_id,experiment_id,barcode,alias,type
    FLO12345,SQK-NBD114-24,lib1,exp1,barcode01,patient_A,test_sample

MinKNOW takes this CSV when a barcoded run starts and copies it into the run folder as
`sample_sheet_{flow_cell_id}_{YYYYMMDD}_{HHMM}_{run8}.csv`; with a sheet, MinKNOW itself names the barcode's
folders by alias. Here the alias names the barcode's sample everywhere (rows, reports, lineage), a barcode
the sheet does not list is not analysed, and `type` (test_sample, positive_control, negative_control, ...)
is kept. Rules checked, as MinKNOW checks them: the seven columns are present, barcodes look like
`barcodeNN` and appear once, aliases are non-empty, unique, of letters, digits, `.`, `_` and `-`, and never
another barcode's name.
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass

from labstream.core.errors import InputError

COLUMNS = ("flow_cell_id", "kit", "sample_id", "experiment_id", "barcode", "alias", "type")
_BARCODE = re.compile(r"^barcode\d{2,3}$")
_ALIAS = re.compile(r"^[A-Za-z0-9._-]{1,40}$")


@dataclass(frozen=True)
class MinknowSheetRow:
    barcode: str
    alias: str
    sample_id: str
    experiment_id: str
    flow_cell_id: str
    kit: str
    type: str


def parse_minknow_sheet(text: str, source: str = "sample_sheet.csv") -> dict[str, MinknowSheetRow]:
    """The sheet's rows by barcode, in sheet order. InputError naming `source` and the row for a missing
    column, a malformed or repeated barcode, or an empty, malformed, repeated or barcode-like alias."""
    reader = csv.DictReader(io.StringIO(text.lstrip("\ufeff")))
    fields = [f.strip() for f in reader.fieldnames or []]
    missing = [c for c in COLUMNS if c not in fields]
    if missing:
        raise InputError(
            source,
            f"MinKNOW sample sheet lacks the column(s) {', '.join(missing)}",
            hint=f"the header must name {', '.join(COLUMNS)}",
        )
    rows: dict[str, MinknowSheetRow] = {}
    aliases: set[str] = set()
    for n, raw in enumerate(reader, start=2):
        cell = {k.strip(): (v or "").strip() for k, v in raw.items() if k is not None}
        if not any(cell.values()):
            continue
        row = MinknowSheetRow(**{c: cell[c] for c in COLUMNS})
        where = f"{source} line {n}"
        if not _BARCODE.match(row.barcode) or row.barcode in rows:
            what = "repeats" if row.barcode in rows else "has a malformed"
            raise InputError(
                where, f"sample sheet {what} barcode {row.barcode!r}", hint="one barcodeNN per row"
            )
        bad_alias = (
            not _ALIAS.match(row.alias)
            or row.alias in aliases
            or (_BARCODE.match(row.alias) and row.alias != row.barcode)
        )
        if bad_alias:
            raise InputError(
                where,
                f"alias {row.alias!r} of {row.barcode} is empty, repeated, another barcode's name or has "
                "characters other than letters, digits, '.', '_' and '-'",
                hint="give each barcode its own alias",
            )
        rows[row.barcode] = row
        aliases.add(row.alias)
    return rows


__all__ = ["COLUMNS", "MinknowSheetRow", "parse_minknow_sheet"]
