"""Reference confidence: a sample's gVCF from `bcftools mpileup | bcftools call -m --gvcf BANDS`.

Besides variant records, the caller writes blocks of reference calls banded by depth (`BANDS`, e.g.
0,5,10,20: a new block starts where the minimum depth crosses a band), and `./.` blocks where nothing can
be called. Positions with no reads get no record at all. That is what lets the cohort tell a hom-ref
sample (a 0/0 block) from one that was not covered (nothing) when it counts allele numbers.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from labstream.core.errors import InputError
from labstream.genomics.call import publish_vcf, start_pipe, wait_pipe
from labstream.genomics.reference import Reference

__all__ = ["DEFAULT_BANDS", "call_gvcf", "gvcf_commands"]

DEFAULT_BANDS = (0, 5, 10, 20)


def gvcf_commands(
    ref: Reference, bam: Path, bands: tuple[int, ...] = DEFAULT_BANDS, region: str | None = None
) -> list[list[str]]:
    where = ["-r", region] if region else []
    return [
        ["bcftools", "mpileup", "-f", str(ref.path), "-a", "FORMAT/AD,FORMAT/DP", "-Ou", *where, str(bam)],
        ["bcftools", "call", "-m", "--gvcf", ",".join(str(b) for b in bands), "-a", "GQ", "-Oz"],
    ]


def call_gvcf(
    ref: Reference,
    bam: str | Path,
    out: str | Path,
    *,
    bands: tuple[int, ...] = DEFAULT_BANDS,
    region: str | None = None,
) -> Path:
    """Write `out` (.g.vcf.gz) and its .tbi; both appear only when complete."""
    bam, out = Path(bam), Path(out)
    if not bam.exists():
        raise InputError(str(bam), "no such BAM", hint="align the sample first")
    if list(bands) != sorted(set(bands)) or not bands or bands[0] < 0:
        raise InputError(
            str(bands), "depth bands must be increasing and start at 0 or more", hint="e.g. 0,5,10,20"
        )
    out.parent.mkdir(parents=True, exist_ok=True)
    with publish_vcf(out) as tmp, tempfile.TemporaryFile() as err:
        wait_pipe(start_pipe(gvcf_commands(ref, bam, bands, region), tmp, err), err, out.name)
    return out
