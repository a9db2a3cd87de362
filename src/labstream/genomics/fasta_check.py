"""Check a reference FASTA before anything aligns to it, and its `.fai` against it.

Why: minimap2, bwa and bcftools trust the reference. A duplicated contig name made minimap2 fail deep
in the alignment with a message naming the reads file; a stale `.fai` (left from other contigs) made
bcftools call nothing, and "0 variants" read as a clean negative result. So the FASTA is scanned once
(streaming, gzip or plain) for duplicate names, nameless headers, empty sequences and characters that
are not IUPAC nucleotides, and the `.fai` must list exactly the scanned names and lengths, in order.
Errors name the reference file and the contig; they never quote the file's bytes.
"""

from __future__ import annotations

import gzip
from pathlib import Path
from typing import BinaryIO

from labstream.core.errors import InputError

NUCLEOTIDES = b"ACGTUNRYKMSWBDHVacgtunrykmswbdhv-*."
FIX_HINT = "fix the reference FASTA (each contig once, with a name and a nucleotide sequence)"


def _open(path: Path) -> BinaryIO:
    with open(path, "rb") as fh:
        magic = fh.read(2)
    return gzip.open(path, "rb") if magic == b"\x1f\x8b" else open(path, "rb")  # type: ignore[return-value]


def scan_fasta(path: str | Path) -> dict[str, int]:
    """Contig name -> length, in file order; InputError naming the file and contig on the first problem."""
    p = Path(path)
    src = str(p)
    contigs: dict[str, int] = {}
    first_line: dict[str, int] = {}
    name: str | None = None
    try:
        with _open(p) as fh:
            for lineno, raw in enumerate(fh, 1):
                line = raw.rstrip(b"\r\n")
                if line.startswith(b">"):
                    _finish(src, name, contigs)
                    fields = line[1:].split(maxsplit=1)
                    if not fields:
                        raise InputError(
                            src, f"line {lineno}: a '>' header without a contig name", hint=FIX_HINT
                        )
                    name = fields[0].decode("utf-8", errors="replace")
                    if name in contigs:
                        raise InputError(
                            src,
                            f"contig {name!r} appears twice (lines {first_line[name]} and {lineno})",
                            record=name,
                            hint="rename or remove the duplicate; contig names must be unique",
                        )
                    contigs[name] = 0
                    first_line[name] = lineno
                elif name is None:
                    if line.strip():
                        raise InputError(
                            src, f"line {lineno}: sequence before the first '>' header", hint=FIX_HINT
                        )
                else:
                    bad = line.translate(None, NUCLEOTIDES)
                    if bad:
                        raise InputError(
                            src,
                            f"contig {name!r}, line {lineno}: {len(bad)} character(s) that are not "
                            "IUPAC nucleotide codes",
                            record=name,
                            hint=FIX_HINT,
                        )
                    contigs[name] += len(line)
    except (OSError, EOFError, gzip.BadGzipFile) as err:
        raise InputError(src, f"reference cannot be read ({err.__class__.__name__})", hint=FIX_HINT) from err
    _finish(src, name, contigs)
    if not contigs:
        raise InputError(src, "reference has no sequences", hint=FIX_HINT)
    return contigs


def _finish(src: str, name: str | None, contigs: dict[str, int]) -> None:
    if name is not None and contigs[name] == 0:
        raise InputError(src, f"contig {name!r} has an empty sequence", record=name, hint=FIX_HINT)


def read_fai(fai: Path) -> dict[str, int] | None:
    """Names and lengths listed by a `.fai`, or None when it cannot be parsed (treated as stale)."""
    out: dict[str, int] = {}
    try:
        for line in fai.read_text().splitlines():
            fields = line.split("\t")
            if len(fields) < 5 or fields[0] in out:
                return None
            out[fields[0]] = int(fields[1])
    except (OSError, ValueError, UnicodeDecodeError):
        return None
    return out


def fai_matches(fai: Path, contigs: dict[str, int]) -> bool:
    """True when `fai` lists exactly `contigs` (names, order and lengths)."""
    listed = read_fai(fai)
    return listed is not None and list(listed.items()) == list(contigs.items())


__all__ = ["fai_matches", "read_fai", "scan_fasta"]
