"""Shared driver of the FASTQ and reference families: `labstream genomics call` on the hostile input
(sample BAD), then on the good control (sample GOOD) into the same --out folder and lake."""

from __future__ import annotations

import gzip
from collections.abc import Callable
from pathlib import Path
from typing import Any

from labstream.testing.hostile import _assets, _probe
from labstream.testing.hostile._case import Observed


def call(tmp: Path, o: Observed, sample: str, reference: Path, reads: list[Path], *extra: str) -> int:
    args: list[Any] = ["genomics", "call", "--reference", reference]
    for r in reads:
        args += ["--reads", r]
    args += ["--sample", sample, "--out", tmp / "out", "--lake", tmp / "lake", "--threads", "1", *extra]
    return _probe.cli(args, tmp / "home", o)


def outputs(tmp: Path, sample: str) -> int:
    """How many results exist for `sample`: its VCF, and its reads_qc rows in the lake."""
    vcf = int((tmp / "out" / f"{sample}.vcf.gz").exists())
    rows = [r for r in _probe.lake_rows(tmp, "reads_qc", tmp / "lake") if r["sample"] == sample]
    return vcf + len(rows)


def run_call(inputs: dict[str, Any]) -> Observed:
    """BAD with the case's reference and reads, then GOOD with the good ones; results counted per sample
    (a complete sample has 2: its VCF and one reads_qc row)."""
    o = Observed()
    tmp: Path = inputs["tmp"]
    call(tmp, o, inputs.get("sample", "BAD"), inputs["reference"], inputs["reads"], *inputs.get("extra", ()))
    bad_exit = o.exit_code
    control = Observed()
    run = _assets.run()
    call(tmp, control, "GOOD", Path(run.reference), [Path(run.r1), Path(run.r2)])
    o.exit_code = bad_exit
    o.control_expected = 2
    o.control_rows = outputs(tmp, "GOOD")
    o.offender_rows = outputs(tmp, inputs.get("sample", "BAD"))
    if control.exit_code != 0:
        o.add("control call failed: " + control.text[-400:])
    return o


def records(path: Path) -> list[list[str]]:
    lines = gzip.open(path, "rt").read().splitlines()
    return [lines[i : i + 4] for i in range(0, len(lines), 4)]


def write_fastq(path: Path, recs: list[list[str]], gz: bool = True) -> Path:
    text = "".join("\n".join(r) + "\n" for r in recs).encode()
    if gz:
        with gzip.open(path, "wb") as fh:
            fh.write(text)
    else:
        path.write_bytes(text)
    return path


def reads_build(make: Callable[[Path], list[Path]], reference: Callable[[Path], Path] | None = None):  # type: ignore[no-untyped-def]
    """A build step: `make(tmp)` writes the read files; the reference is the good one unless given."""

    def build(tmp: Path) -> dict[str, Any]:
        reads = make(tmp)
        ref = reference(tmp) if reference is not None else Path(_assets.run().reference)
        return {"tmp": tmp, "reads": reads, "reference": ref}

    return build
