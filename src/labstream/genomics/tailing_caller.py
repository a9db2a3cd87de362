"""Region-sharded calling that reads the final BAM while markdup is still writing it.

Why: the batch chain used to wait for the complete, indexed BAM before starting `bcftools mpileup` per
shard, so the end of alignment (sort's merge, markdup, compression, index) and the start of calling ran
one after the other with a core idle. Here every shard's `mpileup | call` starts with the alignment; a
thread per shard tails the growing BAM file into its stdin, and mpileup keeps its window by targets
(`-t`): it drops reads outside the window before BAQ, so a shard does the work it does on the indexed
BAM with `-r` and gives the same records (tested field for field). Each shard reads the file at its own
pace (no lockstep between shards, memory flat: the BAM on disk is the buffer); the cost is inflating
the other shards' blocks too (level-1 BAM: ~0.03 CPU s per shard on the bench's 12 MB).

Use: `callers = StreamCallers(ref, regions, scratch_dir)`, `align_reads(..., markdup=True,
follow=callers.follow)` (or `merge_markdup(chunk_bams, out, follow=callers.follow)`), then
`callers.finish(out_vcf)`; `callers.abort()` if alignment failed. `merge_and_call` does the chunk case
(real-time refreshes and the final call of a streamed sample).
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
import threading
import time
from pathlib import Path
from typing import IO

from labstream.core.errors import StageError
from labstream.genomics.bam import merge_markdup
from labstream.genomics.call import caller_commands, merge_shards, shard_regions, start_pipe, wait_pipe
from labstream.genomics.reference import Reference

POLL_S = (0.002, 0.02)  # a caught-up tailing thread sleeps 2 ms, doubling to 20 ms while nothing comes


def _tail(
    src: IO[bytes], writer: subprocess.Popen[bytes], sink: IO[bytes], box: dict[str, BaseException]
) -> None:
    """Copy the file open as `src` into `sink` as it grows, until `writer` has exited and all is copied."""
    try:
        nap = POLL_S[0]
        with src:
            while True:
                chunk = src.read(1 << 20)
                if chunk:
                    sink.write(chunk)
                    nap = POLL_S[0]
                elif writer.poll() is not None:  # exited: whatever it wrote is on disk; drain it
                    while chunk := src.read(1 << 20):
                        sink.write(chunk)
                    return
                else:  # idle through the whole alignment, so back off instead of spinning
                    time.sleep(nap)
                    nap = min(2 * nap, POLL_S[1])
    except BaseException as err:  # a shard died (broken pipe): finish() reports its exit code
        box["error"] = err
    finally:
        try:
            sink.close()
        except BrokenPipeError:
            pass


class StreamCallers:
    """`bcftools mpileup | call` per region shard, fed the final BAM while it is written (see module doc)."""

    def __init__(self, ref: Reference, regions: list[str], scratch_parent: str | Path) -> None:
        self.ref = ref
        self.regions = regions
        self.scratch = Path(tempfile.mkdtemp(prefix=".call-", dir=scratch_parent))
        self.parts = [self.scratch / f"shard{i:05d}.bcf" for i in range(len(regions))]
        self._errs: list[IO[bytes]] = []
        self._pipes: list[list[subprocess.Popen[bytes]]] = []
        self._threads: list[threading.Thread] = []
        self._box: dict[str, BaseException] = {}
        try:
            for region, part in zip(regions, self.parts, strict=True):
                err = tempfile.TemporaryFile()
                self._errs.append(err)
                cmds = caller_commands("bcftools", ref, None, region)
                self._pipes.append(start_pipe(cmds, part, err, stdin=subprocess.PIPE))
        except BaseException:
            self.abort()
            raise

    def follow(self, bam: Path, writer: subprocess.Popen[bytes]) -> None:
        """Tail `bam`, which `writer` is writing, into every shard: `align_reads(follow=...)`.

        The file must exist already (align_reads creates it empty before starting the writer, which
        truncates the same inode), so each shard's descriptor is opened here and stays valid when the
        finished BAM is renamed, however late a thread gets to run.
        """
        for pipe in self._pipes:
            assert pipe[0].stdin is not None
            src = open(bam, "rb", buffering=0)  # noqa: SIM115 - closed by the tailing thread
            args = (src, writer, pipe[0].stdin, self._box)
            t = threading.Thread(target=_tail, args=args, daemon=True)
            t.start()
            self._threads.append(t)

    def finish(self, out_vcf: str | Path) -> Path:
        """Wait for every shard (the BAM must be complete), then concatenate, normalise and index."""
        try:
            if not self._threads:
                raise StageError(
                    "call", str(out_vcf), "shard callers were never fed a BAM (follow not called)"
                )
            for t in self._threads:
                t.join()
            for pipe, err, region in zip(self._pipes, self._errs, self.regions, strict=True):
                wait_pipe(pipe, err, region)
            if self._box:
                raise StageError("call", str(out_vcf), f"feeding the shards failed: {self._box['error']!r}")
            return merge_shards(self.ref, self.parts, out_vcf, self.scratch)
        finally:
            self._close()

    def abort(self) -> None:
        """Stop every shard and remove their files (alignment failed: nothing is called)."""
        for pipe in self._pipes:
            for p in pipe:
                p.kill()
        for t in self._threads:
            t.join()
        for pipe in self._pipes:
            for p in pipe:
                p.wait()
        self._close()

    def _close(self) -> None:
        for pipe in self._pipes:
            stdin = pipe[0].stdin
            if stdin is not None and not stdin.closed:
                try:
                    stdin.close()
                except BrokenPipeError:
                    pass
        for err in self._errs:
            err.close()
        shutil.rmtree(self.scratch, ignore_errors=True)


def merge_and_call(
    ref: Reference,
    chunk_bams: list[Path],
    out_bam: str | Path,
    out_vcf: str | Path,
    *,
    threads: int = 2,
    shards: int | None = None,
) -> tuple[Path, Path]:
    """Merge + markdup the chunk BAMs into `out_bam` while bcftools shards call from it: (BAM, VCF).

    The same records as `merge_markdup` then `call_variants` (tested), with calling overlapped with
    the merge instead of waiting for the complete, indexed BAM."""
    regions = shard_regions(ref, shards or max(1, threads))
    callers = StreamCallers(ref, regions, Path(out_vcf).parent)
    try:
        bam = merge_markdup(chunk_bams, out_bam, threads=threads, follow=callers.follow)
    except BaseException:
        callers.abort()
        raise
    return bam, callers.finish(out_vcf)


__all__ = ["POLL_S", "StreamCallers", "merge_and_call"]
