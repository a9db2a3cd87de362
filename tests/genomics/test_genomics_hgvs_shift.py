"""HGVS 3' shifting checked against bcftools on real sequence (lambda phage), not on cases we designed.

Every homopolymer and dinucleotide repeat of the genome gets a one-unit deletion and insertion, written
at the repeat's left end (as `bcftools norm` leaves them). On a + strand transcript, the 3'-most position
is the right end: `bcftools norm` left-aligning the same variant on the reverse-complemented reference,
mapped back, must give exactly our shifted record. On a - strand transcript, 3' is genomic left, so our
shift must leave bcftools' own left-aligned record unchanged.
"""

from __future__ import annotations

import re
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pysam

from labstream.genomics.hgvs import shift3
from labstream.genomics.reference import open_reference

LAMBDA = Path("/usr/share/doc/bowtie2/examples/reference/lambda_virus.fa.gz")
_RC = str.maketrans("ACGT", "TGCA")


@dataclass
class WholeContig:
    """A transcript over the whole contig, one CDS segment (the shift may go anywhere)."""

    contig: str
    strand: str
    length: int

    @property
    def cds(self) -> list[tuple[int, int]]:
        return [(1, self.length)]

    @property
    def start(self) -> int:
        return 1

    @property
    def end(self) -> int:
        return self.length

    def cds_index(self, pos: int) -> int | None:
        return pos - 1 if 1 <= pos <= self.length else None


def _repeat_indels(seq: str, limit: int = 150) -> list[tuple[int, str, str]]:
    """Left-anchored one-unit deletions and insertions in homopolymers (>=4) and dinucleotide repeats
    (>=3 units), as VCF (pos, ref, alt)."""
    out = []
    for m in re.finditer(r"(([ACGT])\2{3,})|(([ACGT]{2})\4{2,})", seq):
        unit = m.group(2) or m.group(4)
        if len(set(unit)) != len(unit) and len(unit) == 2:
            continue  # "AA" as a dinucleotide is a homopolymer
        start = m.start() + 1  # 1-based first base of the repeat
        if start < 2:
            continue
        anchor = seq[start - 2]
        out.append((start - 1, anchor + unit, anchor))  # delete one unit
        out.append((start - 1, anchor, anchor + unit))  # insert one unit
        if len(out) >= limit:
            break
    return out


def _vcf(path: Path, contig: str, length: int, records: list[tuple[int, str, str]]) -> Path:
    lines = ["##fileformat=VCFv4.2", f"##contig=<ID={contig},length={length}>",
             "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO"]  # fmt: skip
    lines += [f"{contig}\t{p}\t.\t{r}\t{a}\t.\t.\t." for p, r, a in sorted(records)]
    path.write_text("\n".join(lines) + "\n")
    return path


def _norm(fasta: Path, vcf: Path) -> list[tuple[int, str, str]]:
    out = subprocess.run(["bcftools", "norm", "-f", str(fasta), str(vcf)], capture_output=True, text=True,
                         check=True).stdout  # fmt: skip
    return [
        (int(c[1]), c[3], c[4]) for c in (x.split("\t") for x in out.splitlines() if not x.startswith("#"))
    ]


def _mirror(rec: tuple[int, str, str], length: int, seq: str) -> tuple[int, str, str]:
    """The same indel on the reverse-complemented contig, with its anchor on the left there."""
    pos, ref, alt = rec
    if len(ref) > 1:  # deletion of pos+1 .. pos+len-1
        first, last = length - (pos + len(ref) - 1) + 1, length - (pos + 1) + 1
        rc = seq[::-1].translate(_RC)
        return first - 1, rc[first - 2 : last], rc[first - 2]
    ins = alt[1:].translate(_RC)[::-1]  # inserted after pos, i.e. between pos and pos+1
    p = length - pos  # after p on the mirror
    rc = seq[::-1].translate(_RC)
    return p, rc[p - 1], rc[p - 1] + ins


def test_shift3_matches_bcftools_norm_mirrored(tmp_path: Path) -> None:
    ref_fa = tmp_path / "ref.fa"
    with pysam.FastxFile(str(LAMBDA)) as fh:
        rec = next(iter(fh))
    contig, seq = rec.name, rec.sequence.upper()
    ref_fa.write_text(f">{contig}\n{seq}\n")
    ref = open_reference(ref_fa)
    n = len(seq)
    cases = _norm(ref_fa, _vcf(tmp_path / "cases.vcf", contig, n, _repeat_indels(seq)))  # bcftools' form
    assert len(cases) >= 100

    mirror_fa = tmp_path / "mirror.fa"
    mirror_fa.write_text(f">{contig}\n{seq[::-1].translate(_RC)}\n")
    mirrored = [_mirror(c, n, seq) for c in cases]
    left_on_mirror = _norm(mirror_fa, _vcf(tmp_path / "mirror.vcf", contig, n, mirrored))
    rc_seq = seq[::-1].translate(_RC)
    want_plus = sorted(_mirror(m, n, rc_seq) for m in left_on_mirror)  # mirrored back: right-aligned

    plus, minus = WholeContig(contig, "+", n), WholeContig(contig, "-", n)
    got_plus = sorted(shift3(plus, ref, *c) for c in cases)
    assert got_plus == want_plus
    assert sum(g != c for g, c in zip(sorted(cases), got_plus, strict=True)) > len(cases) // 2  # most moved
    assert sorted(shift3(minus, ref, *c) for c in cases) == sorted(cases)  # already 3' on the - strand
