"""The fast path of the batch chain gives the same records as the slow one it replaced.

`align_reads` maps in 2-Mbase mini-batches (so minimap2 overlaps our QC pass) and, with `markdup=True`,
marks duplicates inside the alignment pipe; both must leave the BAM records exactly as before.
"""

from __future__ import annotations

from pathlib import Path

import pysam
import pytest

import labstream.genomics.align as align_mod
from labstream.genomics.align import align_reads
from labstream.genomics.bam import merge_markdup
from labstream.genomics.reference import open_reference


def records(bam: Path) -> list[str]:
    """SAM body lines (no header: @PG lines name the commands, which differ by design)."""
    return [line for line in pysam.view(str(bam)).splitlines() if line]


def test_minibatch_does_not_change_alignments(
    sim_run, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:  # type: ignore[no-untyped-def]
    ref = open_reference(sim_run.reference)
    fast = align_reads(ref, sim_run.r1, sim_run.r2, tmp_path / "k2m.bam", sample="S", threads=2)
    assert "-K" in fast.command and align_mod.MINIBATCH in fast.command
    monkeypatch.setattr(align_mod, "MINIBATCH", "500M")  # minimap2's default: the whole input in one batch
    whole = align_reads(ref, sim_run.r1, sim_run.r2, tmp_path / "k500m.bam", sample="S", threads=2)
    assert "500M" in whole.command
    got, want = records(fast.bam), records(whole.bam)
    assert len(got) >= 2 * sim_run.pairs * 0.9
    assert got == want


def test_markdup_in_the_pipe_equals_merge_markdup(sim_run, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    ref = open_reference(sim_run.reference)
    piped = align_reads(
        ref, sim_run.r1, sim_run.r2, tmp_path / "piped.bam", sample="S", threads=2, markdup=True
    )
    chunk = align_reads(ref, sim_run.r1, sim_run.r2, tmp_path / "chunk.bam", sample="S", threads=2)
    merged = merge_markdup([chunk.bam], tmp_path / "merged.bam", threads=2)
    got, want = records(piped.bam), records(merged)
    assert got == want
    # the index came with it and works; nothing temporary is left beside the outputs
    assert Path(str(piped.bam) + ".bai").exists()
    with pysam.AlignmentFile(str(piped.bam)) as fh:
        contig = fh.references[0]
        assert fh.count(contig, 0, 1000) > 0
    assert not [p.name for p in tmp_path.iterdir() if p.name.startswith(".")]
    with pysam.AlignmentFile(str(piped.bam)) as fh:
        header = fh.header.to_dict()
    assert header["HD"]["SO"] == "coordinate"
    assert any(pg.get("CL", "").startswith("samtools markdup") for pg in header["PG"])


def test_large_genomes_map_against_a_saved_index_with_the_same_records(
    sim_run, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:  # type: ignore[no-untyped-def]
    import shutil

    fasta = tmp_path / "ref" / "lambda.fa"
    fasta.parent.mkdir()
    shutil.copy(sim_run.reference, fasta)
    ref = open_reference(fasta)
    plain = align_reads(ref, sim_run.r1, sim_run.r2, tmp_path / "fa.bam", sample="S")
    assert str(fasta) in plain.command  # a phage is indexed at start, in milliseconds
    monkeypatch.setattr(align_mod, "MMI_MIN_BASES", 1)  # treat it as a large genome
    first = align_reads(ref, sim_run.r1, sim_run.r2, tmp_path / "mmi.bam", sample="S")
    mmi = fasta.with_name("lambda.fa.sr.mmi")
    assert str(mmi) in first.command and mmi.exists()
    built = mmi.stat().st_mtime_ns
    again = align_reads(ref, sim_run.r1, sim_run.r2, tmp_path / "mmi2.bam", sample="S")
    assert mmi.stat().st_mtime_ns == built and str(mmi) in again.command  # built once, then reused
    assert records(first.bam) == records(plain.bam) == records(again.bam)
    assert not [p.name for p in fasta.parent.iterdir() if p.name.startswith(".")]
