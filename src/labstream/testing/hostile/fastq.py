"""FASTQ: hostile or unusual reads given to `labstream genomics call`; a good sample follows into the
same output folder and lake and must come out whole, once. The bad sample must yield nothing that could
read as a (negative) result."""

from __future__ import annotations

import gzip
import shutil
from pathlib import Path

from labstream.testing.hostile import _assets
from labstream.testing.hostile._case import Case, Expect
from labstream.testing.hostile._genomics import reads_build, records, run_call, write_fastq

FAMILY = "fastq"


def _r(n: int) -> Path:
    run = _assets.run()
    return Path(run.r1 if n == 1 else run.r2)


def _pair_with(r1_edit=None, r2_edit=None, gz: bool = True):  # type: ignore[no-untyped-def]
    """Write BAD_R1/BAD_R2 from the good pair, after editing the records of either mate."""

    def make(tmp: Path) -> list[Path]:
        out = []
        for n, edit in ((1, r1_edit), (2, r2_edit)):
            recs = records(_r(n))
            if edit is not None:
                recs = edit(recs)
            out.append(write_fastq(tmp / f"BAD_R{n}.fastq{'.gz' if gz else ''}", recs, gz=gz))
        return out

    return make


def _raw(r1_bytes, single: bool = False):  # type: ignore[no-untyped-def]
    """BAD_R1 made of raw bytes (from the good R1's bytes), with the good R2 copied as BAD_R2."""

    def make(tmp: Path) -> list[Path]:
        r1 = tmp / "BAD_R1.fastq.gz"
        r1.write_bytes(r1_bytes(_r(1).read_bytes()))
        if single:
            return [r1]
        r2 = tmp / "BAD_R2.fastq.gz"
        shutil.copy(_r(2), r2)
        return [r1, r2]

    return make


def _at(i: int, fn):  # type: ignore[no-untyped-def]
    def edit(recs: list[list[str]]) -> list[list[str]]:
        recs[i] = fn(recs[i])
        return recs

    return edit


def _plain_gz(data: bytes) -> bytes:
    return gzip.decompress(data)  # a plain-text FASTQ named .gz


def _twice(tmp: Path) -> list[Path]:
    r1 = tmp / "BAD_R1.fastq.gz"
    shutil.copy(_r(1), r1)
    return [r1, r1]


def _empty(tmp: Path) -> list[Path]:
    return [write_fastq(tmp / "BAD_R1.fastq.gz", []), write_fastq(tmp / "BAD_R2.fastq.gz", [])]


def _refuse(name: str) -> Expect:
    return Expect("refused", names=name, exit_nonzero=True)


def _case(cid: str, description: str, make, expect: Expect, **kw) -> Case:  # type: ignore[no-untyped-def]
    return Case(cid, FAMILY, description, reads_build(make), run_call, expect, **kw)


CASES = [
    _case(
        "fq-truncated-gzip",
        "R1 gzip cut in half",
        _raw(lambda b: b[: len(b) // 2]),
        _refuse("BAD_R1.fastq.gz"),
    ),
    _case(
        "fq-gz-not-gzip",
        "R1 named .gz but plain text (unusual, readable: processed once)",
        _raw(_plain_gz),
        Expect("once", offender_rows=2),
    ),
    _case(
        "fq-binary-junk",
        "R1 is random bytes",
        _raw(lambda b: bytes(range(256)) * 40, single=True),
        _refuse("BAD_R1.fastq.gz"),
    ),
    _case(
        "fq-seq-qual-length",
        "record 7 of R2: sequence and quality lengths differ",
        _pair_with(r2_edit=_at(6, lambda r: [r[0], r[1], r[2], r[3][:-5]])),
        _refuse("BAD_R2.fastq.gz"),
    ),
    _case(
        "fq-missing-plus",
        "record 3 of R1 lacks its '+' line",
        _pair_with(r1_edit=_at(2, lambda r: [r[0], r[1], r[3]])),
        _refuse("BAD_R1.fastq.gz"),
    ),
    _case(
        "fq-r1-twice",
        "--reads R1 --reads R1 (same file as both mates)",
        _twice,
        _refuse("BAD_R1.fastq.gz"),
    ),
    _case(
        "fq-count-mismatch",
        "R2 has 100 fewer records than R1",
        _pair_with(r2_edit=lambda recs: recs[:-100]),
        _refuse("BAD_R2.fastq.gz"),
    ),
    _case(
        "fq-mate-names",
        "record 10's mates have different names",
        _pair_with(r2_edit=_at(9, lambda r: ["@someone_else/2", *r[1:]])),
        _refuse("BAD_R1.fastq.gz"),
    ),
    _case("fq-empty", "both mates gzip of nothing", _empty, _refuse("BAD_R1.fastq.gz")),
    _case(
        "fq-non-acgtn",
        "record 5 of R1 holds 'X' and '*' bases",
        _pair_with(r1_edit=_at(4, lambda r: [r[0], "X*" + r[1][2:], r[2], r[3]])),
        _refuse("BAD_R1.fastq.gz"),
    ),
    _case(
        "fq-quality-out-of-range",
        "record 8 of R1 has quality characters below '!' (Phred < 0)",
        _pair_with(r1_edit=_at(7, lambda r: [r[0], r[1], r[2], " " * len(r[3])])),
        _refuse("BAD_R1.fastq.gz"),
    ),
]
