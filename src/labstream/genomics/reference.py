"""Reference checks: it exists, is indexed (we index it when we can), and its contigs match the data.

A gzip (not bgzip) FASTA cannot be indexed by samtools; we say so rather than silently decompressing a
copy somewhere the user did not ask for.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import pysam

from labstream.core.errors import InputError
from labstream.genomics.fasta_check import fai_matches, scan_fasta

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Reference:
    path: Path
    contigs: dict[str, int]  # name -> length, in FASTA order

    def fetch(self, contig: str, start: int = 0, end: int | None = None) -> str:
        with pysam.FastaFile(str(self.path)) as fa:
            return fa.fetch(contig, start, end).upper()


def open_reference(path: str | Path) -> Reference:
    """Check the reference (genomics/fasta_check.py), make sure its .fai matches it, return its contigs.

    A missing `.fai`, one older than the FASTA, or one listing other names or lengths is rebuilt; if
    the rebuilt index still disagrees with the FASTA, the reference is refused."""
    p = Path(path)
    if not p.exists():
        raise InputError(
            str(p), "reference FASTA does not exist", hint="pass --reference with an existing FASTA"
        )
    if p.stat().st_size == 0:
        raise InputError(str(p), "reference FASTA is empty")
    scanned = scan_fasta(p)
    fai = Path(str(p) + ".fai")
    if not fai.exists() or fai.stat().st_mtime < p.stat().st_mtime or not fai_matches(fai, scanned):
        if fai.exists():  # said, not silent: a lab should know a file beside its reference was replaced
            log.warning("%s: stale index (older than the FASTA or other contigs): rebuilt it", fai)
        fai.unlink(missing_ok=True)
        try:
            pysam.faidx(str(p))
        except pysam.SamtoolsError as err:
            raise InputError(
                str(p),
                f"reference is not indexed and could not be indexed ({err})".strip(),
                hint="bgzip-compress or decompress it, then run `samtools faidx` on it",
            ) from err
        if not fai_matches(fai, scanned):
            raise InputError(
                str(fai),
                "the index does not list the FASTA's contigs even after rebuilding it",
                hint="delete the .fai and check that nothing else rewrites it",
            )
    try:
        with pysam.FastaFile(str(p)) as fa:
            contigs = dict(zip(fa.references, fa.lengths, strict=True))
    except (OSError, ValueError) as err:
        raise InputError(
            str(p), f"reference cannot be opened: {err}", hint="re-index with samtools faidx"
        ) from err
    if not contigs:
        raise InputError(str(p), "reference has no sequences")
    return Reference(p, contigs)


def check_contigs(ref: Reference, source: str | Path, names: dict[str, int] | list[str]) -> None:
    """Raise InputError if `names` (from a VCF/BAM/BED header) are not all contigs of the reference."""
    items = names.items() if isinstance(names, dict) else ((n, None) for n in names)
    for name, length in items:
        if name not in ref.contigs:
            raise InputError(
                str(source),
                f"contig {name!r} is not in reference {ref.path.name} "
                f"(it has {', '.join(list(ref.contigs)[:5])})",
                record=name,
                hint="use the reference the data was made against",
            )
        if length is not None and length != ref.contigs[name]:
            raise InputError(
                str(source),
                f"contig {name!r} has length {length} but {ref.contigs[name]} in reference {ref.path.name}",
                record=name,
                hint="use the matching reference build",
            )


__all__ = ["Reference", "check_contigs", "open_reference"]
