"""DNA-seq genomics: FASTQ chunks -> aligned, duplicate-marked BAM -> sharded calls -> VCF, rows, report.

The modules in the order of the science: `fastq` (validating reader), `qc` (read QC and trimming),
`align` (minimap2 / bwa pipe to a sorted BAM), `bam` (merge, markdup, index, stats, coverage), `call`
(region-sharded bcftools / freebayes calling, normalisation), `tailing_caller` (shards that call from the
BAM while markdup writes it), `annotate` (gene, consequence, known variants), `report` (per-sample HTML);
`reference` checks the reference, `evaluate` scores a call set against a truth set. `chain` runs them as
plain calls (`labstream genomics call`), `live_sample` is real-time mode for one sample outside the
runtime, `stages` and `interim_calls` are the runtime stages (final and interim calls), `tables` the
lake tables.
"""

from __future__ import annotations

from labstream.core.lazy import lazy_exports

_EXPORTS = {
    "ChainOptions": "chain",
    "SampleResult": "chain",
    "call_sample": "chain",
    "evaluate": "evaluate",
    "open_reference": "reference",
    "genomics_pipeline": "stages",
    "parse_chunk_name": "stages",
}
__all__ = sorted(_EXPORTS)
__getattr__ = lazy_exports(__name__, _EXPORTS)  # names load on use: pysam and friends only when needed
