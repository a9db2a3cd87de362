"""CRAM output: the sample's BAM as CRAM 3.0 with the reference named by checksum, not by a path.

    write_cram(bam, reference) -> NAME.cram + NAME.cram.crai

CRAM stores bases as differences from the reference, so a reader must get exactly that reference. The
header says which: each `@SQ` carries `M5` (the MD5 of the upper-case sequence, what htslib and the
ENA/refget services look references up by) and a `@CO` line names the FASTA file's sha256 (what labstream's
lineage and assays pin). The sequence slices the reads cover are embedded (`embed_ref=1`), so the CRAM
decodes anywhere, offline, without the FASTA and without htslib fetching it by M5 from the EBI (which it
tries when a reference is missing, and which hangs or fails on a machine without internet). Cost: the
covered reference once per slice (on the bench data, the CRAM is ~0.6x the BAM with it).
`samtools` writes it (`view -C --write-index`), under a temporary name, renamed when complete.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import tempfile
from pathlib import Path

import pysam

from labstream.core.errors import StageError
from labstream.core.hashing import sha256_file
from labstream.genomics.reference import Reference

COMMENT = "labstream-reference"


def sequence_md5(ref: Reference) -> dict[str, str]:
    """MD5 of each contig's upper-case sequence: the SAM/CRAM `M5` value."""
    with pysam.FastaFile(str(ref.path)) as fa:
        return {c: hashlib.md5(fa.fetch(c).upper().encode()).hexdigest() for c in fa.references}  # noqa: S324


def cram_header(bam: Path, ref: Reference) -> str:
    """The BAM's header with `M5` on every `@SQ` and a `@CO` naming the reference by sha256 (htslib adds
    `UR`, the FASTA's path where the CRAM was written: a hint, not an identity)."""
    md5 = sequence_md5(ref)
    lines = []
    for line in pysam.view("-H", str(bam)).splitlines():
        if line.startswith("@SQ"):
            fields = [f for f in line.split("\t") if not f.startswith(("M5:", "UR:"))]
            name = next(f[3:] for f in fields if f.startswith("SN:"))
            line = "\t".join([*fields, f"M5:{md5[name]}"])
        lines.append(line)
    lines.append(f"@CO\t{COMMENT} file:{ref.path.name} sha256:{sha256_file(ref.path)[0]}")
    return "\n".join(lines) + "\n"


def write_cram(bam: str | Path, ref: Reference, out: str | Path | None = None, *, threads: int = 2) -> Path:
    """NAME.cram (+ .crai) beside the BAM, or at `out`."""
    src = Path(bam)
    dst = Path(out) if out else src.with_suffix(".cram")
    tmp = dst.with_name(f".{dst.name}.part")
    tmp_idx = dst.with_name(f".{dst.name}.crai.part")
    with tempfile.TemporaryDirectory(prefix=".cram-", dir=dst.parent) as scratch:
        header = Path(scratch) / "header.sam"
        header.write_text(cram_header(src, ref))
        rh = subprocess.Popen(
            ["samtools", "reheader", str(header), str(src.resolve())], stdout=subprocess.PIPE
        )
        view = subprocess.run(
            ["samtools", "view", "-C", "-@", str(threads), "-T", str(ref.path), "--output-fmt-option",
             "embed_ref=1", "--write-index", "-o", f"{tmp}##idx##{tmp_idx}", "-"],
            stdin=rh.stdout, capture_output=True,
        )  # fmt: skip
        assert rh.stdout is not None
        rh.stdout.close()
        if rh.wait() or view.returncode:
            tmp.unlink(missing_ok=True)
            tmp_idx.unlink(missing_ok=True)
            raise StageError("cram", str(src), view.stderr.decode(errors="replace")[-1500:])
    os.replace(tmp_idx, f"{dst}.crai")
    os.replace(tmp, dst)
    return dst


__all__ = ["COMMENT", "cram_header", "sequence_md5", "write_cram"]
