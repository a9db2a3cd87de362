"""Real-time mode for one sample outside the runtime: chunk BAMs accumulate as FASTQ lands, calls refresh,
the end = batch. (On the runtime, interim_calls.py does the same job as a stage.)
"""

from __future__ import annotations

import shutil
import tempfile
import time
from pathlib import Path

from labstream.core.events import new_id
from labstream.genomics.align import align_reads
from labstream.genomics.bam import (
    merge_markdup,
)
from labstream.genomics.call import call_variants
from labstream.genomics.chain import ChainOptions, SampleJob, SampleResult, finish_sample, make_annotator
from labstream.genomics.qc import QCStats
from labstream.genomics.reference import open_reference
from labstream.genomics.tailing_caller import merge_and_call


class StreamingSample:
    """Real-time mode for one sample: add chunks as they land, refresh calls, finish when the run ends."""

    def __init__(
        self,
        reference: str | Path,
        out_dir: str | Path,
        *,
        sample: str,
        run: str | None = None,
        opts: ChainOptions | None = None,
    ) -> None:
        self.ref = open_reference(reference)
        self.annotator = make_annotator(self.ref, opts or ChainOptions())
        self.out = Path(out_dir)
        self.out.mkdir(parents=True, exist_ok=True)
        self.sample = sample
        self.run = run or new_id()[:12]
        self.opts = opts or ChainOptions()
        self.scratch = Path(tempfile.mkdtemp(prefix=f".{sample}-stream-", dir=self.out))
        self.chunks: list[Path] = []
        self.qc = QCStats()
        self.started = time.perf_counter()
        self.first_variants_s: float | None = None
        self.refreshes: list[dict[str, float]] = []
        self.align_seconds = 0.0

    def add_chunk(self, r1: str | Path, r2: str | Path | None) -> Path:
        res = align_reads(
            self.ref,
            r1,
            r2,
            self.scratch / f"chunk{len(self.chunks):05d}.bam",
            sample=self.sample,
            threads=self.opts.threads,
            aligner=self.opts.aligner,
        )
        self.align_seconds += res.seconds
        self.qc = self.qc.merge(res.qc)
        self.chunks.append(res.bam)
        return res.bam

    def refresh(self) -> Path:
        """Interim calls over the chunks so far, at `<out>/<sample>.partial.vcf.gz` (never the final name)."""
        snap = self.scratch / "snapshot"
        snap.mkdir(exist_ok=True)
        if self.opts.caller == "bcftools":  # calling overlaps merge | markdup, as in finish()
            _bam, vcf = merge_and_call(
                self.ref,
                self.chunks,
                snap / f"{self.sample}.bam",
                self.out / f"{self.sample}.partial.vcf.gz",
                threads=self.opts.threads,
                shards=self.opts.shards,
            )
        else:
            bam = merge_markdup(self.chunks, snap / f"{self.sample}.bam", threads=self.opts.threads)
            vcf = call_variants(
                self.ref,
                bam,
                self.out / f"{self.sample}.partial.vcf.gz",
                threads=self.opts.threads,
                shards=self.opts.shards,
                caller=self.opts.caller,
            )
        elapsed = time.perf_counter() - self.started
        if self.first_variants_s is None:
            self.first_variants_s = elapsed
        self.refreshes.append({"chunks": float(len(self.chunks)), "elapsed_s": elapsed})
        return vcf

    def finish(self) -> SampleResult:
        timings = {"qc_align_sort": self.align_seconds}
        try:
            job = SampleJob(self.sample, self.run, new_id(), self.opts)
            result = finish_sample(
                self.ref, self.chunks, self.qc, self.out, job, timings=timings, annotator=self.annotator
            )
        finally:
            shutil.rmtree(self.scratch, ignore_errors=True)
            for p in (
                self.out / f"{self.sample}.partial.vcf.gz",
                self.out / f"{self.sample}.partial.vcf.gz.tbi",
            ):
                p.unlink(missing_ok=True)
        timings["total"] = time.perf_counter() - self.started
        if self.first_variants_s is not None:
            timings["time_to_first_variants"] = self.first_variants_s
        return result
