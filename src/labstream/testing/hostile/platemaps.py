"""Platemaps: a hostile or unusual platemap given to `labstream phenomics profile` with good images.
A platemap labels every well, so a bad one is refused whole (a mislabelled plate reads as a result);
the same images with the good platemap are then profiled in the same home: every well once."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from labstream.testing.hostile import _assets, _probe
from labstream.testing.hostile._case import Case, Expect, Observed

FAMILY = "platemaps"


def _wells(out: Path) -> list[str]:
    if not (out / "well_profiles.parquet").exists():
        return []
    import pandas as pd

    return list(pd.read_parquet(out / "well_profiles.parquet").Metadata_Well)


def _run(inputs: dict[str, Any]) -> Observed:
    o = Observed()
    tmp: Path = inputs["tmp"]
    images = inputs["images"]
    base = ["phenomics", "profile", "--images", images, "--workers", "1"]
    _probe.cli([*base, "--platemap", inputs["platemap"], "--out", tmp / "bad"], tmp / "home", o)
    control = Observed()
    _probe.cli([*base, "--platemap", inputs["good"], "--out", tmp / "good"], tmp / "home", control)
    wells = _wells(tmp / "good")
    o.control_expected = len(_assets.wells())
    o.control_rows = len(wells) if set(wells) == set(_assets.wells()) else 0
    o.offender_rows = len(_wells(tmp / "bad"))
    return o


def _pm(edit):  # type: ignore[no-untyped-def]
    """A build step: the plate's images, its good platemap, and `edit(good text)` as bad_platemap.csv."""

    def build(tmp: Path) -> dict[str, Any]:
        images, good = _assets.copy_plate(tmp)
        bad = tmp / "bad_platemap.csv"
        data = edit(good.read_text())
        if data is not None:
            bad.write_bytes(data.encode() if isinstance(data, str) else data)
        return {"tmp": tmp, "images": images, "platemap": bad, "good": good}

    return build


def _rows(text: str) -> list[str]:
    return text.strip().splitlines()


def _drop_column(col: str):  # type: ignore[no-untyped-def]
    def edit(text: str) -> str:
        rows = [r.split(",") for r in _rows(text)]
        i = rows[0].index(col)
        return "\n".join(",".join(c for j, c in enumerate(r) if j != i) for r in rows) + "\n"

    return edit


def _set(row: int, col: str, value: str):  # type: ignore[no-untyped-def]
    def edit(text: str) -> str:
        rows = [r.split(",") for r in _rows(text)]
        rows[row][rows[0].index(col)] = value
        return "\n".join(",".join(r) for r in rows) + "\n"

    return edit


def _duplicate_well(text: str) -> str:
    rows = _rows(text)
    twin = rows[1].split(",")
    twin[2] = "SOMETHING_ELSE"
    return "\n".join([*rows, ",".join(twin)]) + "\n"


def _refuse(names: str = "bad_platemap.csv") -> Expect:
    return Expect("refused", names=names, exit_nonzero=True)


def _case(cid: str, description: str, edit, expect: Expect | None = None, **kw) -> Case:  # type: ignore[no-untyped-def]
    return Case(cid, FAMILY, description, _pm(edit), _run, expect or _refuse(), **kw)


CASES = [
    _case("pm-missing-column", "no `role` column", _drop_column("role"), _refuse("role")),
    _case("pm-bad-well", "a well Z99 on a 384-well plate", _set(2, "well", "Z99"), _refuse("Z99")),
    _case("pm-unknown-role", "role `wizard`", _set(3, "role", "wizard"), _refuse("wizard")),
    _case("pm-duplicated-well", "well A01 listed twice, two perturbations", _duplicate_well, _refuse("A01")),
    _case("pm-non-integer-sites", "sites = `two`", _set(1, "sites", "two"), _refuse("sites")),
    _case("pm-binary", "random bytes", lambda text: bytes(range(256)) * 16),
    _case("pm-empty", "0 bytes", lambda text: b""),
    _case("pm-missing", "the platemap path does not exist", lambda text: None),
    _case("pm-semicolons", "a semicolon-separated export", lambda text: text.replace(",", ";")),
]
