"""References: hostile or unusual reference FASTA given to `labstream genomics call` with good reads;
a good sample with the good reference follows into the same output folder and lake."""

from __future__ import annotations

import gzip
from pathlib import Path

from labstream.testing.hostile import _assets
from labstream.testing.hostile._case import Case, Expect
from labstream.testing.hostile._genomics import reads_build, run_call

FAMILY = "references"


def _good_reads(tmp: Path) -> list[Path]:
    run = _assets.run()
    return [Path(run.r1), Path(run.r2)]


def _good_fasta() -> str:
    return Path(_assets.run().reference).read_text()


def _ref(text: str | bytes | None, fai: str | None = None, name: str = "badref.fa"):  # type: ignore[no-untyped-def]
    def make(tmp: Path) -> Path:
        p = tmp / "ref" / name
        p.parent.mkdir(parents=True, exist_ok=True)
        if text is not None:
            p.write_bytes(text.encode() if isinstance(text, str) else text)
        if fai is not None:
            Path(str(p) + ".fai").write_text(fai)
        return p

    return make


def _dup_contig() -> str:
    good = _good_fasta()
    return good + good  # every contig twice


def _empty_contig() -> str:
    return ">empty_one\n\n" + _good_fasta()


def _stale_fai() -> tuple[str, str]:
    # an index left from another reference: other contig names and lengths
    return _good_fasta(), "chrX\t30000\t6\t60\t61\nchrY\t20000\t30517\t60\t61\n"


def _not_plain_gzip() -> bytes:
    return gzip.compress(_good_fasta().encode())  # plain gzip, not bgzip: cannot be indexed


def _case(cid: str, description: str, ref, expect: Expect, **kw) -> Case:  # type: ignore[no-untyped-def]
    return Case(cid, FAMILY, description, reads_build(_good_reads, ref), run_call, expect, **kw)


def _refuse(name: str = "badref.fa") -> Expect:
    return Expect("refused", names=name, exit_nonzero=True)


CASES = [
    _case(
        "ref-duplicated-contig",
        "every contig name appears twice",
        lambda tmp: _ref(_dup_contig())(tmp),
        _refuse(),
    ),
    _case(
        "ref-stale-fai",
        "a .fai beside the FASTA from another reference (other contigs)",
        lambda tmp: _ref(*_stale_fai())(tmp),
        # the index is derived data: rebuilt (and said, naming it), the call then right and made once
        Expect("once", names="badref.fa.fai", offender_rows=2),
    ),
    _case(
        "ref-empty-sequence", "a contig with no sequence", lambda tmp: _ref(_empty_contig())(tmp), _refuse()
    ),
    _case(
        "ref-not-fasta",
        "a CSV named .fa",
        _ref("plate,well,perturbation\nP01,A01,X\n" * 20),
        _refuse(),
    ),
    _case("ref-binary", "random bytes named .fa", _ref(bytes(range(256)) * 64), _refuse()),
    _case("ref-missing", "the reference path does not exist", _ref(None), _refuse()),
    _case(
        "ref-plain-gzip",
        "gzip (not bgzip) FASTA: cannot be indexed",
        lambda tmp: _ref(_not_plain_gzip(), name="badref.fa.gz")(tmp),
        _refuse("badref.fa.gz"),
    ),
]
