"""The cohort variant lake: every sample's gVCF rows, appended without rewriting, and exact AC/AN/AF.

store = CohortStore(open_lake(url))
store.add_gvcf("S1.g.vcf.gz")                 # one Delta version; adding S1 again changes nothing
allele_stats(store, "chr1:1000-2000")         # ac, an, af, n_het, n_homalt, call_rate per site
allele_stats(store, samples=["S1", "S7"])     # any sub-cohort
store.compact()                               # fold new samples into the summary (readers unaffected)
store.withdraw("S7", "consent withdrawn")     # gone from every statistic; the reason is kept
"""

from labstream.cohort.export import export_vcf
from labstream.cohort.gvcf import DEFAULT_MAX_BLOCK, calls_table, read_gvcf, split_blocks
from labstream.cohort.query import Region, allele_stats, carriers, parse_region
from labstream.cohort.schema import CALLS, SUMMARY, WITHDRAWALS
from labstream.cohort.sql import allele_sql
from labstream.cohort.stats import Summary, finalize, merge, summarize
from labstream.cohort.store import AddResult, CohortStore

__all__ = [
    "CALLS",
    "DEFAULT_MAX_BLOCK",
    "SUMMARY",
    "WITHDRAWALS",
    "AddResult",
    "CohortStore",
    "Region",
    "Summary",
    "allele_sql",
    "allele_stats",
    "calls_table",
    "carriers",
    "export_vcf",
    "finalize",
    "merge",
    "parse_region",
    "read_gvcf",
    "split_blocks",
    "summarize",
]
