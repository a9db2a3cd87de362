"""Shard callers that tail the BAM while it is written: failures on either side leave nothing behind."""

from __future__ import annotations

from pathlib import Path

import pytest

from labstream.core.errors import InputError, StageError
from labstream.genomics.align import align_reads
from labstream.genomics.call import shard_regions
from labstream.genomics.reference import open_reference
from labstream.genomics.streamcall import StreamCallers


@pytest.mark.chaos
def test_a_dead_shard_fails_the_calls_and_leaves_no_vcf(sim_run, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    ref = open_reference(sim_run.reference)
    callers = StreamCallers(ref, shard_regions(ref, 2), tmp_path)
    callers._pipes[1][0].kill()  # shard 2's mpileup dies before the BAM is written
    res = align_reads(
        ref, sim_run.r1, sim_run.r2, tmp_path / "S.bam", sample="S", markdup=True, follow=callers.follow
    )
    assert res.bam.exists()  # the BAM does not depend on its readers
    with pytest.raises(StageError):
        callers.finish(tmp_path / "S.vcf.gz")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["S.bam", "S.bam.bai"]


@pytest.mark.chaos
def test_bad_reads_stop_the_shards_and_leave_nothing(sim_run, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    ref = open_reference(sim_run.reference)
    bad = tmp_path / "in" / "bad_R2.fastq.gz"
    bad.parent.mkdir()
    data = Path(sim_run.r2).read_bytes()
    bad.write_bytes(data[: len(data) // 2])  # truncated gzip
    out = tmp_path / "out"
    out.mkdir()
    callers = StreamCallers(ref, shard_regions(ref, 2), out)
    with pytest.raises(InputError):
        align_reads(ref, sim_run.r1, bad, out / "S.bam", sample="S", markdup=True, follow=callers.follow)
    callers.abort()
    assert list(out.iterdir()) == []


def test_finish_without_a_bam_is_an_error(sim_run, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    ref = open_reference(sim_run.reference)
    callers = StreamCallers(ref, shard_regions(ref, 2), tmp_path)
    with pytest.raises(StageError):
        callers.finish(tmp_path / "S.vcf.gz")
    callers.abort()
    assert list(tmp_path.iterdir()) == []
