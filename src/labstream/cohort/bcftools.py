"""The established reference: `bcftools merge --gvcf` + `norm -m-any` + `+fill-tags` on per-sample gVCFs.

Used by the tests and the bench to check the cohort's AC/AN against an independent implementation, and
as the baseline to beat (a full multi-sample merge, redone from scratch for every new sample).
"""

from __future__ import annotations

import subprocess
import tempfile
from pathlib import Path

from labstream.core.errors import StageError

__all__ = ["bcftools_allele_counts"]


def bcftools_allele_counts(
    gvcfs: list[Path], reference: Path, *, threads: int = 1
) -> dict[tuple[str, int, str, str], tuple[int, int]]:
    """{(contig, 0-based start, ref, alt): (AC, AN)} of the merged cohort, variant sites only."""
    with tempfile.TemporaryDirectory(prefix="cohort-bcftools-") as tmp:
        lst = Path(tmp) / "files.txt"
        lst.write_text("".join(f"{p}\n" for p in gvcfs))
        script = (
            f"bcftools merge --threads {threads} --gvcf {reference} -l {lst} -Ou"
            f" | bcftools norm -m-any -Ou"
            f' | bcftools view -i \'ALT!="." && ALT!="<*>"\' -Ou'
            f" | bcftools +fill-tags -Ou -- -t AN,AC"
            " | bcftools query -f '%CHROM\\t%POS\\t%REF\\t%ALT\\t%INFO/AC\\t%INFO/AN\\n'"
        )
        done = subprocess.run(["bash", "-o", "pipefail", "-c", script], capture_output=True, text=True)
        if done.returncode:
            raise StageError("bcftools-merge", str(gvcfs[0].parent), done.stderr[-1500:])
    out: dict[tuple[str, int, str, str], tuple[int, int]] = {}
    for line in done.stdout.splitlines():
        contig, pos, ref, alt, ac, an = line.split("\t")
        out[(contig, int(pos) - 1, ref, alt)] = (int(ac), int(an))
    return out
