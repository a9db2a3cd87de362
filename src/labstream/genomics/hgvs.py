"""HGVS c. and p. descriptions of a normalised variant on one transcript, from the GFF3's CDS segments.

Why here and not from a library: the annotation is the lab's own GFF3 (any organism, any build), and the
HGVS libraries need a transcript database (UTA) that this platform neither has nor may fetch. What is
computed is what the CDS allows: c. positions inside the CDS (`c.123A>G`, `c.10_12del`,
`c.10_11insT`, `c.10_12delinsAG`), intronic positions relative to the nearest CDS base (`c.45+3G>A`) and
the predicted protein change in three-letter form inside parentheses (`p.(Lys12Asn)`, `p.(Lys12=)`,
`p.(Gly5fs)`, `p.(Ala3del)`). UTR positions (no UTR in a CDS-only annotation) are left empty.

Indels follow HGVS's 3' rule: `shift3` moves an insertion or deletion as far 3' along the transcript as
the sequence allows (genomic right on the + strand, left on the - strand, where bcftools' left-aligned
record already is), without leaving the CDS segment (exon) it starts in; an insertion that repeats the
bases 5' of it is a duplication (`c.13_15dup`, `p.(Pro5dup)`). Checked against hand-worked cases and
against `bcftools norm` left-aligning on the reverse-complemented reference (tests).
"""

from __future__ import annotations

from typing import Protocol

from Bio.Seq import Seq

from labstream.genomics.reference import Reference


class Transcript(Protocol):
    """What annotate.Transcript offers (a Protocol, so annotate.py can import this module)."""

    contig: str
    strand: str
    cds: list[tuple[int, int]]

    @property
    def start(self) -> int: ...
    @property
    def end(self) -> int: ...
    def cds_index(self, pos: int) -> int | None: ...


_RC = str.maketrans("ACGTN", "TGCAN")
THREE = {
    "A": "Ala", "R": "Arg", "N": "Asn", "D": "Asp", "C": "Cys", "Q": "Gln", "E": "Glu", "G": "Gly",
    "H": "His", "I": "Ile", "L": "Leu", "K": "Lys", "M": "Met", "F": "Phe", "P": "Pro", "S": "Ser",
    "T": "Thr", "W": "Trp", "Y": "Tyr", "V": "Val", "*": "Ter", "X": "Xaa",
}  # fmt: skip


def _rc(s: str) -> str:
    return s.translate(_RC)[::-1]


def _cpos(t: Transcript, pos: int) -> str | None:
    """c. position of genomic `pos`: `N` in the CDS, `N+k` / `N-k` in an intron between CDS segments."""
    i = t.cds_index(pos)
    if i is not None:
        return str(i + 1)
    segs = sorted(t.cds)
    for (_, e1), (s2, _) in zip(segs, segs[1:], strict=False):
        if e1 < pos < s2:
            up, down = pos - e1, s2 - pos  # distance to the last base before / first base after the intron
            if t.strand == "+":
                return f"{t.cds_index(e1) + 1}+{up}" if up <= down else f"{t.cds_index(s2) + 1}-{down}"  # type: ignore[operator]
            return f"{t.cds_index(s2) + 1}+{down}" if down < up else f"{t.cds_index(e1) + 1}-{up}"  # type: ignore[operator]
    return None


def _bounds(t: Transcript, first: int) -> tuple[int, int]:
    """Where a shift may go: the CDS segment holding `first`, else the transcript."""
    seg = next(((s, e) for s, e in t.cds if s <= first <= e), None)
    return seg if seg is not None else (t.start, t.end)


def shift3(t: Transcript, ref: Reference, pos: int, ref_allele: str, alt: str) -> tuple[int, str, str]:
    """A normalised VCF insertion or deletion (one anchor base) moved 3' along the transcript, as a VCF
    record again (pos, ref, alt); other alleles come back unchanged."""
    if min(len(ref_allele), len(alt)) != 1 or len(ref_allele) == len(alt) or ref_allele[0] != alt[0]:
        return pos, ref_allele, alt
    lo, hi = _bounds(t, pos + 1)
    s = ref.fetch(t.contig, max(0, lo - 2), hi + 1)
    off = max(0, lo - 2) + 1  # s[i - off] is genomic position i (1-based)

    def at(i: int) -> str:
        return s[i - off] if 0 <= i - off < len(s) else ""

    plus = t.strand != "-"
    if len(ref_allele) > 1:  # deletion of first..last
        first, last = pos + 1, pos + len(ref_allele) - 1
        while plus and last + 1 <= hi and at(last + 1) == at(first):
            first, last = first + 1, last + 1
        while not plus and first - 1 >= lo and at(first - 1) == at(last):
            first, last = first - 1, last - 1
        return first - 1, at(first - 1) + "".join(at(i) for i in range(first, last + 1)), at(first - 1)
    p, ins = pos, alt[1:]  # insertion of `ins` after p
    while plus and p + 1 <= hi and at(p + 1) == ins[0]:
        p, ins = p + 1, ins[1:] + ins[0]
    while not plus and p >= lo and at(p) == ins[-1]:
        p, ins = p - 1, ins[-1] + ins[:-1]
    return p, at(p), at(p) + ins


def _dup(t: Transcript, ref: Reference, p: int, ins: str) -> tuple[int, int] | None:
    """The genomic span an insertion after `p` duplicates (the bases 5' of it in the transcript)."""
    n = len(ins)
    if t.strand != "-":
        span = (p - n + 1, p)
    else:
        span = (p + 1, p + n)
    if span[0] < 1 or ref.fetch(t.contig, span[0] - 1, span[1]) != ins:
        return None
    return span


def hgvs_c(t: Transcript, pos: int, ref_allele: str, alt: str, ref: Reference | None = None) -> str:
    """`c.` description (transcript orientation) of one normalised VCF allele; '' where none is possible.
    With `ref`, indels are shifted 3' and insertions that repeat their 5' bases are `dup` (HGVS)."""
    minus = t.strand == "-"
    if ref is not None:
        pos, ref_allele, alt = shift3(t, ref, pos, ref_allele, alt)
        if len(alt) > len(ref_allele) == 1:
            span = _dup(t, ref, pos, alt[1:])
            if span is not None:
                a, b = _cpos(t, span[0]), _cpos(t, span[1])
                if a and b:
                    a, b = (b, a) if minus else (a, b)
                    return f"c.{a}dup" if a == b else f"c.{a}_{b}dup"
    if len(ref_allele) == len(alt) == 1:
        p = _cpos(t, pos)
        r, a = (_rc(ref_allele), _rc(alt)) if minus else (ref_allele, alt)
        return f"c.{p}{r}>{a}" if p else ""
    if len(ref_allele) == len(alt):  # MNV
        first, last = pos, pos + len(ref_allele) - 1
        seq = _rc(alt) if minus else alt
        kind = f"delins{seq}"
    elif len(ref_allele) > len(alt) and ref_allele.startswith(alt):  # deletion after the anchor base(s)
        first, last = pos + len(alt), pos + len(ref_allele) - 1
        kind = "del"
    elif len(alt) > len(ref_allele) and alt.startswith(ref_allele):  # insertion after the anchor base(s)
        left, right = _cpos(t, pos + len(ref_allele) - 1), _cpos(t, pos + len(ref_allele))
        ins = alt[len(ref_allele) :]
        if not (left and right):
            return ""
        if minus:
            left, right, ins = right, left, _rc(ins)
        return f"c.{left}_{right}ins{ins}"
    else:
        first, last = pos, pos + len(ref_allele) - 1
        seq = _rc(alt) if minus else alt
        kind = f"delins{seq}"
    a, b = _cpos(t, first), _cpos(t, last)
    if not (a and b):
        return ""
    if minus:
        a, b = b, a
    return f"c.{a}{kind}" if a == b else f"c.{a}_{b}{kind}"


def three_letter(protein_change: str) -> str:
    """`p.K12N` (annotate.py's one-letter form) -> `p.(Lys12Asn)`; synonymous -> `p.(Lys12=)`."""
    if not protein_change.startswith("p.") or len(protein_change) < 5:
        return ""
    body = protein_change[2:]
    digits = "".join(ch for ch in body if ch.isdigit())
    before, after = body.split(digits, 1) if digits else ("", "")
    if not digits or not before:
        return ""
    b3 = "".join(THREE.get(c, "Xaa") for c in before)
    if before == after:
        return f"p.({THREE.get(before[0], 'Xaa')}{digits}=)"
    if len(before) > 1:  # a change across codons: name the first and last residue
        last = int(digits) + len(before) - 1
        a3 = "".join(THREE.get(c, "Xaa") for c in after)
        return f"p.({THREE[before[0]]}{digits}_{THREE[before[-1]]}{last}delins{a3})"
    return f"p.({b3}{digits}{THREE.get(after, 'Xaa')})"


def _protein(cds: str) -> str:
    cds = cds[: len(cds) - len(cds) % 3]
    return str(Seq(cds).translate()) if cds else ""


def indel_p(t: Transcript, ref: Reference, pos: int, ref_allele: str, alt: str) -> str:
    """Predicted protein change of an indel inside the CDS (`p.(Gly5fs)`, `p.(Ala3del)`, ...); ''
    when it does not touch the CDS."""
    end = pos + len(ref_allele) - 1
    if not any(t.cds_index(p) is not None for p in range(pos, end + 1)) or pos < t.start or end > t.end:
        return ""
    # the transcript's genomic span with the allele swapped in; CDS segments after it shift by delta
    g = ref.fetch(t.contig, t.start - 1, t.end)
    mg = g[: pos - t.start] + alt + g[end - t.start + 1 :]
    delta = len(alt) - len(ref_allele)
    cds = "".join(g[s - t.start : e - t.start + 1] for s, e in t.cds)
    mutated = "".join(
        mg[s - t.start + (delta if s > end else 0) : e - t.start + 1 + (delta if e >= end else 0)]
        for s, e in t.cds
    )
    if t.strand == "-":
        cds, mutated = _rc(cds), _rc(mutated)
    p_ref, p_alt = _protein(cds), _protein(mutated)
    n = 0
    while n < min(len(p_ref), len(p_alt)) and p_ref[n] == p_alt[n]:
        n += 1
    if n >= len(p_ref):
        return "p.(=)"
    aa = THREE.get(p_ref[n], "Xaa")
    if delta % 3:
        return f"p.({aa}{n + 1}fs)"
    m = 0  # common suffix
    while m < min(len(p_ref), len(p_alt)) - n and p_ref[-1 - m] == p_alt[-1 - m]:
        m += 1
    gone, new = p_ref[n : len(p_ref) - m], p_alt[n : len(p_alt) - m]
    span = f"{aa}{n + 1}" if len(gone) <= 1 else f"{aa}{n + 1}_{THREE[gone[-1]]}{n + len(gone)}"
    new3 = "".join(THREE.get(c, "Xaa") for c in new)
    if not new:
        return f"p.({span}del)"
    if not gone and n >= len(new) and p_ref[n - len(new) : n] == new:  # repeats the residues before it
        d0 = n - len(new) + 1
        first = f"{THREE.get(p_ref[d0 - 1], 'Xaa')}{d0}"
        return f"p.({first}dup)" if len(new) == 1 else f"p.({first}_{THREE.get(p_ref[n - 1], 'Xaa')}{n}dup)"
    if not gone:
        return f"p.({THREE.get(p_ref[n - 1], 'Xaa')}{n}_{aa}{n + 1}ins{new3})"
    return f"p.({span}delins{new3})"


__all__ = ["THREE", "hgvs_c", "indel_p", "shift3", "three_letter"]
