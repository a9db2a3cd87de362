"""A MinKNOW run streams through `labstream watch --pipeline nanopore` batch by batch (issue 12).

Two barcodes' reads (simulated ONT errors: indel-heavy, homopolymer run-length errors) land as fastq_pass
batches while `watch` runs (the rest of the run lands once the first interim calls exist), with
fastq_fail and unclassified reads beside them and final_summary_*.txt last. Shown: interim calls exist
before the final ones (time to first variants below the turnaround); the final VCF of each barcode has
exactly the records of `genomics call-nanopore` on its batches concatenated in batch order; unclassified
reads are ignored (counted in `ont_runs`, not quarantined); the depth gate fails a thin barcode with its
reason and no variant rows; the calls score against the planted truth.
"""

from __future__ import annotations

import json
import shutil
import threading
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from labstream.catalog import Catalog
from labstream.cli.main import app
from labstream.core.settings import Settings
from labstream.genomics.evaluate import evaluate
from labstream.genomics.reference import open_reference
from labstream.instruments.nanopore import NanoporeConfig, simulate_nanopore, write_minknow_run
from labstream.lake import open_lake
from labstream.lake.sql import LakeSQL

LAMBDA = Path("/usr/share/doc/bowtie2/examples/reference/lambda_virus.fa.gz")


@pytest.mark.slow
def test_minknow_run_streams_to_the_batch_result(home: Path, tmp_path: Path, watch_cli, vcf_records) -> None:  # type: ignore[no-untyped-def]
    bc1 = simulate_nanopore(LAMBDA, tmp_path / "bc1", NanoporeConfig(coverage=30, seed=21, sample="BC1"))
    thin = simulate_nanopore(LAMBDA, tmp_path / "bc2", NanoporeConfig(coverage=4, seed=22, sample="BC2"))
    config = tmp_path / "cfg" / "nanopore.toml"
    config.parent.mkdir()
    shutil.copy(bc1.reference, config.parent / "ref.fa")
    config.write_text('reference = "ref.fa"\nrefresh_growth = 0\n')
    watched = tmp_path / "watched"
    run_dir = watched / "exp1" / "lib1" / "20261206_1200_MN00000_FLO12345_a1b2c3d4"
    written: dict[str, list[Path]] = {}
    failures: list[BaseException] = []

    objects = home / "objects"

    def first_calls_seen(batch: int) -> None:
        """After the first batch, wait (up to 120 s) for the first interim calls: the run goes on only
        then, so the order shown below does not depend on how loaded the machine is."""
        deadline = time.monotonic() + 120
        while batch == 0 and not list(objects.rglob("first_variants.json*")):
            if time.monotonic() > deadline:
                raise TimeoutError("no interim calls 120 s after the first batch landed")
            time.sleep(0.2)

    def sequencer() -> None:
        try:
            written.update(
                write_minknow_run(
                    run_dir, {"barcode01": bc1.fastq, "barcode02": thin.fastq}, reads_per_batch=80,
                    interval_s=0.5, on_batch=first_calls_seen,
                )
            )  # fmt: skip
        except BaseException as err:  # reported below
            failures.append(err)

    watched.mkdir()
    writer = threading.Thread(target=sequencer)
    writer.start()
    watch_cli(watched, "--pipeline", "nanopore", "--config", str(config))
    writer.join()
    assert not failures, failures
    assert len(written["barcode01"]) >= 3

    settings = Settings()
    sql = LakeSQL(open_lake(settings.lake_url))
    final = sql.query("SELECT sample, count(*) AS n FROM variants GROUP BY sample").to_pylist()
    assert {r["sample"]: r["n"] for r in final}.keys() == {"barcode01"}, final  # barcode02 failed its gate
    # a final row walks back to every batch file, the end marker and the reference (by sha256)
    lid = sql.query("SELECT lineage_id FROM variants LIMIT 1").to_pylist()[0]["lineage_id"]
    shown = CliRunner().invoke(app, ["lineage", lid, "--json"])
    assert shown.exit_code == 0, shown.output
    chain = json.loads(shown.output)
    walked = {i["uri"].rsplit("/", 1)[-1] for rec in chain for i in rec["inputs"]} | {
        r["stage"] for r in chain
    }
    assert {"ont_call", "ont_align", "ont_run", "ingest", "ref.fa"} <= walked, walked
    assert {p.name for p in written["barcode01"]} <= walked and any(
        w.startswith("final_summary_") for w in walked
    )
    interim = sql.query(
        "SELECT chunks_seen, elapsed_s FROM variants_interim WHERE sample = 'barcode01'"
    ).to_pylist()
    assert interim and min(r["chunks_seen"] for r in interim) < len(written["barcode01"]), interim
    first = json.loads(next(objects.rglob("barcode01/first_variants.json*")).read_text())
    assert first["batches_seen"] < len(written["barcode01"])

    problems = [(q.source, q.problem) for q in Catalog(settings.catalog_url).list_quarantine()]
    text = "\n".join(f"{s}: {p}" for s, p in problems)
    assert not any("unclassified" in s for s, _ in problems), text  # ignored, counted in ont_runs
    ignored = sql.query("SELECT unclassified_files_ignored AS n FROM ont_runs").to_pylist()
    assert ignored == [{"n": 1}], ignored
    assert any("barcode02" in s and "coverage" in p and "below the minimum" in p for s, p in problems), text
    assert not any("fastq_fail" in s for s, _ in problems), text  # failed reads are expected, not errors

    out = tmp_path / "batch"
    reads = [arg for p in written["barcode01"] for arg in ("--reads", str(p))]
    res = CliRunner().invoke(
        app,
        [
            "genomics",
            "call-nanopore",
            "--reference",
            str(bc1.reference),
            *reads,
            "--sample",
            "barcode01",
            "--out",
            str(out),
        ],
    )
    assert res.exit_code == 0, res.output
    streamed = list(objects.rglob("barcode01.vcf.gz"))
    assert len(streamed) == 1, streamed
    batch = vcf_records(out / "barcode01.vcf.gz")
    assert len(batch) > 30 and vcf_records(streamed[0]) == batch
    snp = evaluate(open_reference(bc1.reference), bc1.truth_vcf, out / "barcode01.vcf.gz")["SNP"]
    assert snp.precision > 0.9 and snp.recall > 0.85, snp  # the simulated errors stay honest: not trivial
