"""References are checked where they enter (issue 11): a duplicated contig name, an empty contig or
non-nucleotide characters are refused naming the reference file and the contig (not the reads file),
and a stale `.fai` from other contigs is rebuilt instead of yielding a silent "0 variants"."""

from __future__ import annotations

import os
import random
from pathlib import Path

import pytest
from typer.testing import CliRunner

from labstream.cli.main import app
from labstream.instruments.sequencer import SimConfig, SimulatedRun, simulate_run


def random_seq(rng: random.Random, n: int) -> str:
    return "".join(rng.choice("ACGT") for _ in range(n))


def write_fasta(path: Path, contigs: list[tuple[str, str]]) -> Path:
    path.write_text(
        "".join(
            f">{name} test contig\n" + "\n".join(seq[i : i + 60] for i in range(0, len(seq), 60)) + "\n"
            for name, seq in contigs
        )
    )
    return path


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> tuple[SimulatedRun, list[tuple[str, str]]]:
    rng = random.Random(5)
    folder = tmp_path_factory.mktemp("tinyref")
    contigs = [("ctgA", random_seq(rng, 6000)), ("ctgB", random_seq(rng, 4000))]
    ref = write_fasta(folder / "source.fa", contigs)
    run = simulate_run(ref, folder / "sim", SimConfig(coverage=20, snps=12, indels=0, seed=3, sample="TINY"))
    return run, contigs


def call(reference: Path, run: SimulatedRun, out: Path):  # type: ignore[no-untyped-def]
    args = ["genomics", "call", "--reference", str(reference), "--reads", str(run.r1), "--reads", str(run.r2),
            "--sample", "TINY", "--out", str(out), "--no-lake", "--threads", "1"]  # fmt: skip
    return CliRunner().invoke(app, args)


def error_line(res) -> str:  # type: ignore[no-untyped-def]
    assert res.exit_code == 2, res.output
    assert "Traceback" not in res.output
    return next(line for line in res.output.splitlines() if line.startswith("error: "))


@pytest.mark.parametrize(
    ("mutate", "expected"),
    [
        (lambda c: c + [("ctgA", c[0][1][:500])], "contig 'ctgA' appears twice"),
        (lambda c: c[:1] + [("ctgE", "")] + c[1:], "contig 'ctgE' has an empty sequence"),
        (lambda c: [(c[0][0], c[0][1][:100] + "ZZ<>" + c[0][1][104:])] + c[1:], "not IUPAC nucleotide"),
    ],
)
def test_bad_reference_is_refused_naming_it_and_the_contig(
    tiny, tmp_path: Path, mutate, expected: str
) -> None:  # type: ignore[no-untyped-def]
    run, contigs = tiny
    ref = write_fasta(tmp_path / "bad.fa", mutate(contigs))
    line = error_line(call(ref, run, tmp_path / "out"))
    assert str(ref) in line and expected in line, line
    assert str(run.r1) not in line and "ZZ<>" not in line
    assert not (tmp_path / "out" / "TINY.vcf.gz").exists()


def test_stale_fai_from_other_contigs_is_rebuilt(tiny, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    run, contigs = tiny
    ref = write_fasta(tmp_path / "ref.fa", contigs)
    fai = Path(str(ref) + ".fai")
    fai.write_text("chr1\t10000\t6\t60\t61\nchr2\t4000\t10180\t60\t61\n")  # other contigs
    later = ref.stat().st_mtime + 60
    os.utime(fai, (later, later))  # newer than the FASTA: an mtime check alone trusts it
    res = call(ref, run, tmp_path / "out")
    assert res.exit_code == 0, res.output
    assert [line.split("\t")[0] for line in fai.read_text().splitlines()] == ["ctgA", "ctgB"]
    variants = next(line for line in res.output.splitlines() if "variants" in line)
    assert int(variants.rsplit("variants", 1)[1].split()[0]) > 0, res.output
