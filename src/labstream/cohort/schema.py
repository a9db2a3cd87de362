"""The cohort's lake tables, with their data dictionary.

- `cohort_calls` holds what each sample's gVCF says, one immutable append (one Delta version, one file
  per `kind` partition) per added sample or batch: `kind='var'` rows are variant records (one per
  alternate allele), `kind='ref'` rows are reference-confidence blocks no longer than the store's
  maximum block length (so a point query only looks `max_block` bases back). A position a sample has
  neither a block nor a record for was not covered: it adds nothing to AN.
- `cohort_summary` is derived (rebuilt or folded forward by `CohortStore.compact`): per-site sums
  (`kind='site'`), per-position called-allele sums of variant records (`kind='pos'`) and the step
  function of block-covered allele numbers (`kind='cov'`) for every sample in `cohort_calls` at
  version `through`. Samples added after `through` are summed at read time from their own files.
- `cohort_withdrawals` records who was taken out of the cohort and why (consent withdrawn, QC fail).
"""

from __future__ import annotations

import pyarrow as pa

from labstream.lake.schema import TableSchema, register_schema

__all__ = ["CALLS", "SUMMARY", "WITHDRAWALS", "calls_schema", "summary_schema"]

_POS = "0-based start of the record/block/step on `contig` (half-open with `end`)"

CALLS = register_schema(
    TableSchema(
        "cohort_calls",
        pa.schema(
            [
                ("kind", pa.string()),
                ("sample", pa.string()),
                ("contig", pa.string()),
                ("start", pa.int64()),
                ("end", pa.int64()),
                ("ref", pa.string()),
                ("alt", pa.string()),
                ("ac", pa.int8()),
                ("an", pa.int8()),
                ("pos_an", pa.int8()),
                ("dp", pa.int32()),
                ("gq", pa.int32()),
                ("batch", pa.string()),
            ]
        ),
        partition_by=["kind"],
        description="per-sample variant records and reference-confidence blocks (gVCF), append-only",
        docs={
            "kind": "'var': a variant record (one row per ALT allele); 'ref': a reference-confidence block",
            "sample": "the sample id as added to the cohort",
            "contig": "reference sequence name",
            "start": _POS,
            "end": "0-based exclusive end: start + len(ref) for 'var', the block's END for 'ref'",
            "ref": "reference allele ('var'); empty for blocks",
            "alt": "this row's alternate allele ('var'); empty for blocks",
            "ac": "copies of `alt` in the sample's genotype (0..ploidy); 0 for blocks",
            "an": "called alleles in the genotype (./. = 0, 0/0 = 2); what the row adds to AN",
            "pos_an": "'var': what the row adds to AN at its position: the largest `an` of the sample's "
            "records there, on the first of them, else 0 (a sample counts once per position); 0 for blocks",
            "dp": "read depth (FORMAT/DP; MinDP for a block: the block's depth band)",
            "gq": "genotype quality (FORMAT/GQ); null where the caller gives none",
            "batch": "id of the add that wrote the row (one Delta version)",
        },
    )
)

SUMMARY = register_schema(
    TableSchema(
        "cohort_summary",
        pa.schema(
            [
                ("kind", pa.string()),
                ("contig", pa.string()),
                ("start", pa.int64()),
                ("ref", pa.string()),
                ("alt", pa.string()),
                ("ac", pa.int64()),
                ("an", pa.int64()),
                ("n_het", pa.int64()),
                ("n_homalt", pa.int64()),
                ("through", pa.int64()),
            ]
        ),
        partition_by=["kind"],
        description="derived per-site allele counts and coverage steps of cohort_calls (see `through`)",
        docs={
            "kind": "'site': allele counts; 'pos': called alleles of variant records; 'cov': a step; "
            "'sample': one row per summarised sample (its id in `ref`)",
            "start": _POS + "; for 'cov' rows the step's first position",
            "ac": "'site': alternate allele count over the summarised samples",
            "an": "'pos': sum over samples of called alleles of their records starting here; "
            "'cov': called alleles from blocks covering [start, next step)",
            "n_het": "'site': samples heterozygous for alt (ac=1, an=2)",
            "n_homalt": "'site': samples homozygous for alt (ac=an=2)",
            "through": "the cohort_calls version this summary covers",
        },
    )
)

WITHDRAWALS = register_schema(
    TableSchema(
        "cohort_withdrawals",
        pa.schema([("sample", pa.string()), ("reason", pa.string()), ("by", pa.string())]),
        description="samples removed from the cohort, and why (append-only)",
        docs={
            "sample": "the withdrawn sample; its rows are deleted from cohort_calls",
            "reason": "why (e.g. 'consent withdrawn'), as given to `labstream cohort withdraw`",
            "by": "who withdrew it",
        },
    )
)


def calls_schema() -> pa.Schema:
    """The columns an add writes (without the platform columns)."""
    return CALLS.columns


def summary_schema() -> pa.Schema:
    return SUMMARY.columns
