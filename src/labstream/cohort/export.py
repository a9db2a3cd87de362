"""A region's genotype matrix as a multi-sample VCF (bgzipped, indexed) that bcftools and htslib read.

Each sample's genotype at a site follows the same rules as the statistics: its record there gives `ac`
copies of the ALT and the rest of its called alleles as REF (a record for another ALT at the same
position makes it REF for this one, like `bcftools norm -m-` splitting 1/2); else a block covering the
position gives its called alleles as REF (0/0); else the sample was not covered: `./.`. INFO/AC and
INFO/AN are the cohort's numbers, so `bcftools +fill-tags` recomputes the same values from the matrix.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow.dataset as pads

from labstream.cohort.query import Region, allele_stats, parse_region
from labstream.cohort.store import CohortStore
from labstream.core.errors import InputError

__all__ = ["export_vcf"]


def _gt(ac: int, an: int) -> str:
    alleles = ["1"] * ac + ["0"] * (an - ac) + ["."] * (2 - an)
    return "/".join(sorted(alleles, key=lambda a: (a == ".", a))) if an else "./."


def export_vcf(store: CohortStore, region: str | Region, out: str | Path) -> Path:
    """Write `out` (.vcf.gz + .tbi) for every site with an ALT call in `region`; returns the path."""
    import pysam

    r = parse_region(region) if isinstance(region, str) else region
    out = Path(out)
    if not out.name.endswith(".vcf.gz"):
        raise InputError(str(out), "is not a .vcf.gz name", hint="name the export NAME.vcf.gz")
    sites = allele_stats(store, r)
    samples = store.samples()
    col = {s: i for i, s in enumerate(samples)}
    pos = sites["start"].to_numpy()
    n_sites, n = len(pos), len(samples)
    an = np.zeros((n_sites, n), np.int8)
    ac = np.zeros((n_sites, n), np.int8)
    e = (pads.field("contig") == r.contig) & (pads.field("start") >= max(0, r.start - store.max_block))
    if r.end is not None:
        e = e & (pads.field("start") < r.end)
    rows = store._files().to_table(
        filter=e, columns=["kind", "sample", "start", "end", "ref", "alt", "ac", "an"]
    )
    key = {
        (p, a, b): i
        for i, (p, a, b) in enumerate(
            zip(pos, sites["ref"].to_pylist(), sites["alt"].to_pylist(), strict=True)
        )
    }
    for kind, sample, s, e_, ref, alt, c, a in zip(
        *[rows[k].to_pylist() for k in rows.column_names], strict=True
    ):
        j = col[sample]
        if kind == "ref":
            lo, hi = np.searchsorted(pos, s), np.searchsorted(pos, e_)
            an[lo:hi, j] = np.maximum(an[lo:hi, j], a)
            continue
        lo, hi = np.searchsorted(pos, s), np.searchsorted(pos, s, side="right")
        an[lo:hi, j] = np.maximum(an[lo:hi, j], a)  # its record's called alleles at every ALT of the position
        i = key.get((s, ref, alt))
        if i is not None:
            ac[i, j] = c
    raw = out.with_name(out.name[: -len(".gz")])
    with open(raw, "w") as fh:
        fh.write("##fileformat=VCFv4.2\n")
        fh.write(f"##contig=<ID={r.contig}>\n")
        fh.write('##INFO=<ID=AC,Number=A,Type=Integer,Description="Allele count in genotypes">\n')
        fh.write('##INFO=<ID=AN,Number=1,Type=Integer,Description="Total number of called alleles">\n')
        fh.write('##FORMAT=<ID=GT,Number=1,Type=String,Description="Genotype">\n')
        fh.write("#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\tFORMAT\t" + "\t".join(samples) + "\n")
        for i, site in enumerate(sites.to_pylist()):
            gts = "\t".join(_gt(int(c), int(a)) for c, a in zip(ac[i], an[i], strict=True))
            fh.write(
                f"{site['contig']}\t{site['start'] + 1}\t.\t{site['ref']}\t{site['alt']}\t.\t.\t"
                f"AC={site['ac']};AN={site['an']}\tGT\t{gts}\n"
            )
    pysam.tabix_index(str(raw), preset="vcf", force=True)
    return out
