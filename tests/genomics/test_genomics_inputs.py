"""Bad input: each case is an InputError naming the file (and record), and no output looks complete."""

from __future__ import annotations

import gzip
import shutil
from pathlib import Path

import pytest

from labstream.core.errors import InputError
from labstream.genomics.align import align_reads
from labstream.genomics.chain import ChainOptions, call_sample
from labstream.genomics.fastq import iter_batches, iter_pairs
from labstream.genomics.reference import open_reference


def _fq(path: Path, records: list[tuple[str, str, str]], gz: bool = True) -> Path:
    text = "".join(f"@{n}\n{s}\n+\n{q}\n" for n, s, q in records).encode()
    if gz:
        with gzip.open(path, "wb") as fh:
            fh.write(text)
    else:
        path.write_bytes(text)
    return path


def _drain(it) -> None:  # type: ignore[no-untyped-def]
    for _ in it:
        pass


GOOD = [(f"r{i}", "ACGTACGTAC", "IIIIIIIIII") for i in range(5)]


def test_truncated_gzip_names_file_and_last_record(sim_run, tmp_path: Path) -> None:
    data = sim_run.r1.read_bytes()
    cut = tmp_path / "cut_R1.fastq.gz"
    cut.write_bytes(data[: len(data) // 3])
    with pytest.raises(InputError) as ei:
        _drain(iter_batches(cut))
    assert "cut_R1.fastq.gz" in str(ei.value) and "truncated" in str(ei.value)
    assert ei.value.record is not None and int(ei.value.record) > 0


def test_seq_qual_length_mismatch(tmp_path: Path) -> None:
    p = _fq(tmp_path / "a.fq.gz", [*GOOD[:2], ("bad", "ACGTAC", "IIII"), *GOOD[2:]])
    with pytest.raises(InputError) as ei:
        _drain(iter_batches(p))
    assert "a.fq.gz" in str(ei.value) and ei.value.record == "3 bad" and "length" in ei.value.problem


def test_non_iupac_base(tmp_path: Path) -> None:
    p = _fq(tmp_path / "b.fq", [*GOOD[:3], ("weird", "ACGTXCGTAC", "IIIIIIIIII")], gz=False)
    with pytest.raises(InputError) as ei:
        _drain(iter_batches(p))
    assert ei.value.record == "4 weird" and "non-IUPAC" in ei.value.problem and "b.fq" in ei.value.source


def test_empty_file(tmp_path: Path) -> None:
    p = tmp_path / "empty.fq.gz"
    with gzip.open(p, "wb"):
        pass
    with pytest.raises(InputError, match="empty"):
        _drain(iter_batches(p))


def test_record_cut_short(tmp_path: Path) -> None:
    p = tmp_path / "short.fq"
    p.write_text("@r1\nACGT\n+\nIIII\n@r2\nACGT\n")
    with pytest.raises(InputError) as ei:
        _drain(iter_batches(p))
    assert ei.value.record == "2 r2"


def test_pairs_with_different_counts(tmp_path: Path) -> None:
    r1 = _fq(tmp_path / "x_R1.fq.gz", GOOD)
    r2 = _fq(tmp_path / "x_R2.fq.gz", GOOD[:4])
    with pytest.raises(InputError) as ei:
        _drain(iter_pairs(r1, r2))
    assert "x_R1.fq.gz" in str(ei.value) and "x_R2.fq.gz" in str(ei.value) and "read counts" in str(ei.value)


def test_pairs_with_different_names(tmp_path: Path) -> None:
    r1 = _fq(tmp_path / "y_R1.fq.gz", GOOD)
    r2 = _fq(tmp_path / "y_R2.fq.gz", [*GOOD[:3], ("other", "ACGTACGTAC", "IIIIIIIIII"), GOOD[4]])
    with pytest.raises(InputError) as ei:
        _drain(iter_pairs(r1, r2))
    assert ei.value.record == "4" and "'r3' vs 'other'" in ei.value.problem


def test_mate_suffixes_are_accepted(tmp_path: Path) -> None:
    r1 = _fq(tmp_path / "z_R1.fq", [(f"q{i}/1", "ACGT", "IIII") for i in range(3)], gz=False)
    r2 = _fq(tmp_path / "z_R2.fq", [(f"q{i}/2 extra", "ACGT", "IIII") for i in range(3)], gz=False)
    pairs = list(iter_pairs(r1, r2))
    assert pairs[0][0].names == [b"q0", b"q1", b"q2"]


def test_missing_reference(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="does not exist"):
        open_reference(tmp_path / "nope.fa")


def test_unindexable_reference_says_so(tmp_path: Path) -> None:
    p = tmp_path / "ref.fa.gz"
    with gzip.open(p, "wt") as fh:  # plain gzip, not bgzip: samtools cannot index it
        fh.write(">c1\nACGTACGTACGT\n")
    with pytest.raises(InputError) as ei:
        open_reference(p)
    assert "ref.fa.gz" in str(ei.value) and "index" in str(ei.value)


def test_unindexed_reference_gets_indexed(sim_run, tmp_path: Path) -> None:
    p = tmp_path / "copy.fa"
    shutil.copy(sim_run.reference, p)
    ref = open_reference(p)
    assert Path(str(p) + ".fai").exists() and sum(ref.contigs.values()) > 40_000


def test_bad_reads_leave_no_bam(sim_run, tmp_path: Path) -> None:
    bad = tmp_path / "bad_R2.fq.gz"
    data = sim_run.r2.read_bytes()
    bad.write_bytes(data[: len(data) // 2])
    out = tmp_path / "o" / "x.bam"
    with pytest.raises(InputError, match="bad_R2"):
        align_reads(open_reference(sim_run.reference), sim_run.r1, bad, out, sample="X")
    assert not out.exists()
    assert list(out.parent.iterdir()) == []  # no temporary files left either


def test_contig_names_that_do_not_match(sim_run, tmp_path: Path) -> None:
    """Known VCF on other contig names: the error names the file and the contig; nothing is produced."""
    known = tmp_path / "known.vcf"
    known.write_text(
        "##fileformat=VCFv4.2\n##contig=<ID=chr1,length=1000>\n"
        "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\nchr1\t10\t.\tA\tG\t.\tPASS\t.\n"
    )
    out = tmp_path / "out"
    with pytest.raises(InputError) as ei:
        call_sample(
            sim_run.reference, sim_run.r1, sim_run.r2, sample="M", out_dir=out, opts=ChainOptions(known=known)
        )
    assert "known.vcf" in str(ei.value) and "chr1" in str(ei.value)
    assert not (out / "M.qc.json").exists() and not (out / "M.bam").exists()  # failed before any work
