"""The cohort's allele statistics as one plain SQL query over `cohort_calls` (DuckDB, LakeSQL, or any engine
that reads the Delta table): the documented meaning of AC/AN, independent of the summary machinery.

Slower than `allele_stats` (it joins every site with every block that may cover it, using the maximum
block length to keep the join local) but it needs nothing but the table: run it through
`LakeSQL(lake).query(allele_sql())` or paste it into another engine.
"""

from __future__ import annotations

from labstream.cohort.gvcf import DEFAULT_MAX_BLOCK

__all__ = ["allele_sql"]


def allele_sql(max_block: int = DEFAULT_MAX_BLOCK, table: str = "cohort_calls") -> str:
    """Per site: contig, start (0-based), ref, alt, ac, an, af — from the rows alone."""
    m = int(max_block)
    return f"""
WITH v AS (SELECT * FROM {table} WHERE kind = 'var'),
b AS (SELECT contig, start, "end", an FROM {table} WHERE kind = 'ref' AND an > 0),
site AS (SELECT contig, start, ref, alt, sum(ac) AS ac FROM v GROUP BY contig, start, ref, alt),
pos AS (SELECT DISTINCT contig, start FROM v),
rec AS (SELECT contig, start, sum(m) AS an
        FROM (SELECT sample, contig, start, max(an) AS m FROM v GROUP BY sample, contig, start)
        GROUP BY contig, start),
blk AS (SELECT p.contig, p.start, sum(b.an) AS an FROM pos p JOIN b
          ON b.contig = p.contig AND b.start <= p.start AND p.start < b."end" AND b.start > p.start - {m}
        GROUP BY p.contig, p.start)
SELECT site.contig, site.start, site.ref, site.alt, CAST(site.ac AS BIGINT) AS ac,
       CAST(coalesce(blk.an, 0) + rec.an AS BIGINT) AS an,
       CASE WHEN coalesce(blk.an, 0) + rec.an > 0 THEN site.ac / (coalesce(blk.an, 0) + rec.an) END AS af
FROM site JOIN rec USING (contig, start) LEFT JOIN blk USING (contig, start)
ORDER BY site.contig, site.start, site.ref, site.alt"""
