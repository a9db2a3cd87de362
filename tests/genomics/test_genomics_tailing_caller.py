"""Shard callers that tail the BAM while it is written: failures on either side leave nothing behind."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pysam
import pytest

from labstream.core.errors import InputError, StageError
from labstream.genomics.align import align_reads
from labstream.genomics.bam import merge_markdup
from labstream.genomics.call import call_variants, shard_regions
from labstream.genomics.reference import open_reference
from labstream.genomics.tailing_caller import StreamCallers, merge_and_call
from labstream.instruments.sequencer import stream_chunks


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


@pytest.fixture(scope="module")
def chunk_bams(sim_run, tmp_path_factory: pytest.TempPathFactory) -> list[Path]:  # type: ignore[no-untyped-def]
    root = tmp_path_factory.mktemp("chunks")
    ref = open_reference(sim_run.reference)
    landed = stream_chunks(
        sim_run.r1, sim_run.r2, root / "in", sample="S", pairs_per_chunk=1500, total_pairs=sim_run.pairs
    )
    return [
        align_reads(ref, landed[i], landed[i + 1], root / f"c{i}.bam", sample="S").bam
        for i in range(0, len(landed), 2)
    ]


def _records(path: Path, *args: str) -> list[str]:
    out = subprocess.run([*args, str(path)], capture_output=True, text=True, check=True).stdout
    return out.splitlines()


@pytest.mark.parametrize("n", [1, 3])
def test_merge_and_call_equals_merge_then_call(sim_run, chunk_bams, tmp_path: Path, n: int) -> None:  # type: ignore[no-untyped-def]
    ref = open_reference(sim_run.reference)
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    bam_a = merge_markdup(chunk_bams[:n], tmp_path / "a" / "S.bam")
    vcf_a = call_variants(ref, bam_a, tmp_path / "a" / "S.vcf.gz")
    bam_b, vcf_b = merge_and_call(ref, chunk_bams[:n], tmp_path / "b" / "S.bam", tmp_path / "b" / "S.vcf.gz")
    assert _records(bam_b, "samtools", "view") == _records(bam_a, "samtools", "view")
    calls = _records(vcf_b, "bcftools", "view", "-H")
    assert calls == _records(vcf_a, "bcftools", "view", "-H") and len(calls) > 10
    assert sorted(p.name for p in (tmp_path / "b").iterdir()) == [
        "S.bam",
        "S.bam.bai",
        "S.vcf.gz",
        "S.vcf.gz.tbi",
    ]
    with pysam.AlignmentFile(str(bam_b)) as fh:  # the index markdup wrote alongside is usable
        assert fh.count(next(iter(ref.contigs))) > 0


@pytest.mark.chaos
def test_a_corrupt_chunk_fails_merge_and_call_and_leaves_nothing(sim_run, chunk_bams, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    ref = open_reference(sim_run.reference)
    bad = tmp_path / "in" / "bad.bam"
    bad.parent.mkdir()
    data = chunk_bams[1].read_bytes()
    bad.write_bytes(data[: len(data) // 2])  # truncated BGZF
    out = tmp_path / "out"
    out.mkdir()
    with pytest.raises(StageError):
        merge_and_call(ref, [chunk_bams[0], bad, chunk_bams[2]], out / "S.bam", out / "S.vcf.gz")
    assert list(out.iterdir()) == []
