"""A sample's gVCF as cohort rows: variant records and reference-confidence blocks (pure; no lake).

Reads what `bcftools call -m --gvcf BANDS` writes (blocks: `ALT` '.' or '<*>' with INFO/END; GT 0/0, or
./. where nothing could be called) and any gVCF of the same shape (GATK's `<NON_REF>` blocks too). Rules,
so that the cohort's AN at a position is the sum over samples of one number each:
- a record with real ALT alleles gives one 'var' row per allele: `ac` copies of that allele, `an` called
  alleles of the genotype (./. gives 0: a no-call is not hom-ref);
- a block gives 'ref' rows split at `max_block` bases, with `an` = called alleles of its GT;
- a block position where the same sample also has a variant record is cut out of the block (bcftools
  writes a block over the bases a deletion spans, and the record's own number wins);
- a position with neither was not covered: it adds nothing to AN.
"""

from __future__ import annotations

import bisect
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

from labstream.cohort.schema import calls_schema
from labstream.core.errors import InputError

__all__ = ["DEFAULT_MAX_BLOCK", "calls_table", "read_gvcf", "split_blocks", "trim_alleles"]

DEFAULT_MAX_BLOCK = 10_000
_BLOCK_ALTS = {None, (), ("<*>",), ("<NON_REF>",), ("<X>",)}


def split_blocks(
    starts: np.ndarray, ends: np.ndarray, max_block: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Cut half-open blocks into pieces of at most `max_block` bases: (starts, ends, source index)."""
    starts = np.asarray(starts, dtype=np.int64)
    ends = np.asarray(ends, dtype=np.int64)
    pieces = np.maximum(1, -(-(ends - starts) // max_block))
    src = np.repeat(np.arange(len(starts)), pieces)
    first = np.cumsum(pieces) - pieces
    k = np.arange(len(src)) - np.repeat(first, pieces)
    s = starts[src] + k * max_block
    e = np.minimum(s + max_block, ends[src])
    return s, e, src


def calls_table(
    sample: str, batch: str, var: dict[str, list], ref: dict[str, list], max_block: int
) -> pa.Table:
    """Rows of `cohort_calls` from column lists (`var`: contig,start,end,ref,alt,ac,an,dp,gq;
    `ref`: contig,start,end,an,dp,gq), blocks split at `max_block` (built as Arrow arrays: no per-row
    Python objects, so a sample of 10^5 rows takes milliseconds)."""
    s, e, src = split_blocks(np.asarray(ref["start"]), np.asarray(ref["end"]), max_block)
    pick = pa.array(src, pa.int64())
    nv, nb = len(var["start"]), len(s)

    def two(typ: pa.DataType, first: Any, second: pa.Array) -> pa.ChunkedArray:
        return pa.chunked_array([pa.array(first, typ), second.cast(typ)], typ)

    def both(name: str, typ: pa.DataType) -> pa.ChunkedArray:
        return two(typ, var[name], pa.array(ref[name], typ).take(pick))

    text = pa.string()
    cols = {
        "kind": pa.chunked_array([pa.repeat(pa.scalar("var"), nv), pa.repeat(pa.scalar("ref"), nb)]),
        "sample": pa.repeat(pa.scalar(sample), nv + nb),
        "contig": both("contig", text),
        "start": np.concatenate([np.asarray(var["start"], np.int64), s]),
        "end": np.concatenate([np.asarray(var["end"], np.int64), e]),
        "ref": two(text, var["ref"], pa.repeat(pa.scalar(""), nb)),
        "alt": two(text, var["alt"], pa.repeat(pa.scalar(""), nb)),
        "ac": np.concatenate([np.asarray(var["ac"], np.int8), np.zeros(nb, np.int8)]),
        "an": np.concatenate([np.asarray(var["an"], np.int8), np.asarray(ref["an"], np.int8)[src]]),
        "pos_an": np.concatenate([_pos_an(var), np.zeros(nb, np.int8)]),
        "dp": both("dp", pa.int32()),
        "gq": both("gq", pa.int32()),
        "batch": pa.repeat(pa.scalar(batch), nv + nb),
    }
    return pa.table(cols, schema=calls_schema())


def _pos_an(var: dict[str, list]) -> np.ndarray:
    """Per variant row, what it adds to the position's record alleles: the largest `an` among the
    sample's records at that position, on the first of them; 0 on the others (so AN sums need no
    per-sample grouping)."""
    an = np.asarray(var["an"], np.int8)
    out = np.zeros(len(an), np.int8)
    if len(an) == 0:
        return out
    contig = pa.array(var["contig"], pa.string()).dictionary_encode().indices.to_numpy()
    start = np.asarray(var["start"], np.int64)
    _, first, group = np.unique(
        np.stack([contig.astype(np.int64), start]), axis=1, return_index=True, return_inverse=True
    )
    group = group.reshape(-1)
    top = np.zeros(len(first), np.int8)
    np.maximum.at(top, group, an)
    out[first] = top
    return out


def trim_alleles(start: int, ref: str, alt: str) -> tuple[int, str, str]:
    """The shortest representation: drop bases shared at the end, then at the front (one kept), as
    `bcftools norm` does (callers write e.g. CAGTTA>CA for CAGTT>C). Left-alignment needs the reference
    and is not done here."""
    while len(ref) > 1 and len(alt) > 1 and ref[-1] == alt[-1]:
        ref, alt = ref[:-1], alt[:-1]
    while len(ref) > 1 and len(alt) > 1 and ref[0] == alt[0]:
        ref, alt, start = ref[1:], alt[1:], start + 1
    return start, ref, alt


def _punch(blocks: list[tuple[str, int, int, int, int | None, int | None]], var_starts: set[tuple[str, int]]):
    """Cut the positions where the sample has a variant record out of its blocks."""
    by_contig: dict[str, list[int]] = {}
    for c, p in var_starts:
        by_contig.setdefault(c, []).append(p)
    for v in by_contig.values():
        v.sort()
    out = []
    for contig, s, e, an, dp, gq in blocks:
        pos = by_contig.get(contig, [])
        cuts = pos[bisect.bisect_left(pos, s) : bisect.bisect_left(pos, e)]
        cur = s
        for p in cuts:
            if p > cur:
                out.append((contig, cur, p, an, dp, gq))
            cur = p + 1
        if e > cur:
            out.append((contig, cur, e, an, dp, gq))
    return out


def read_gvcf(
    path: str | Path, *, sample: str | None = None, batch: str = "", max_block: int = DEFAULT_MAX_BLOCK
) -> pa.Table:
    """One sample of a gVCF as `cohort_calls` rows (see the module docstring for the rules)."""
    import pysam

    path = Path(path)
    if not path.is_file():  # before htslib, which prints its own error line to stderr
        raise InputError(str(path), "no such file", hint="pass the path of the sample's .g.vcf.gz")
    try:
        fh = pysam.VariantFile(str(path))
    except (OSError, ValueError) as err:
        raise InputError(
            str(path), f"not a readable VCF/BCF ({err})", hint="pass the sample's .g.vcf.gz"
        ) from err
    with fh:
        names = list(fh.header.samples)
        if sample is None:
            if len(names) != 1:
                raise InputError(str(path), f"holds {len(names)} samples", hint="name one with --sample")
            sample = names[0]
        elif sample not in names:
            raise InputError(str(path), f"has no sample {sample!r} (it has {names})", hint="check --sample")
        var: dict[str, list] = {
            k: [] for k in ("contig", "start", "end", "ref", "alt", "ac", "an", "dp", "gq")
        }
        blocks: list[tuple[str, int, int, int, int | None, int | None]] = []
        for rec in fh:
            call = rec.samples[sample]
            gt = call.get("GT") or ()
            called = [a for a in gt if a is not None]
            dp = call.get("DP") if "DP" in call else None
            gq = call.get("GQ") if "GQ" in call else None
            alts = tuple(a for a in (rec.alts or ()) if a not in ("<*>", "<NON_REF>", "<X>"))
            if not alts:
                end = rec.stop  # pysam reads INFO/END (1-based inclusive) into a 0-based exclusive stop
                if "MinDP" in rec.info:
                    dp = rec.info["MinDP"]
                blocks.append((rec.chrom, rec.start, int(end), len(called), dp, gq))
                continue
            for i, alt in enumerate(alts, start=1):
                start, ref_allele, alt_allele = trim_alleles(rec.start, rec.ref, alt)
                var["contig"].append(rec.chrom)
                var["start"].append(start)
                var["end"].append(start + len(ref_allele))
                var["ref"].append(ref_allele)
                var["alt"].append(alt_allele)
                var["ac"].append(sum(1 for a in called if a == i))
                var["an"].append(len(called))
                var["dp"].append(dp)
                var["gq"].append(gq)
    blocks = _punch(blocks, set(zip(var["contig"], var["start"], strict=True)))
    ref = {k: [b[i] for b in blocks] for i, k in enumerate(("contig", "start", "end", "an", "dp", "gq"))}
    return calls_table(sample, batch, var, ref, max_block)
