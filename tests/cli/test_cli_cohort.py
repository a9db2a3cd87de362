"""`labstream cohort add|stats|query|compact|withdraw` on simulated gVCFs; errors are one line."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pysam
from typer.testing import CliRunner

from labstream.cli.main import app
from labstream.instruments.cohort_sim import simulate_cohort, write_gvcf, write_reference


def test_cohort_cli_round_trip(tmp_path: Path) -> None:
    c = simulate_cohort(4, 20_000, seed=21)
    ref = write_reference(c, tmp_path / "ref.fa")
    paths = [str(write_gvcf(c, j, ref, tmp_path / f"{n}.g.vcf.gz")) for j, n in enumerate(c.names)]
    lake = str(tmp_path / "lake")
    run = CliRunner().invoke
    r = run(app, ["cohort", "add", *paths[:2], "--lake", lake, "--project", "alpha"])
    assert r.exit_code == 0 and r.output.count("added") == 2, r.output
    r = run(app, ["cohort", "add", *paths[2:], paths[0], "--lake", lake, "--project", "beta"])
    assert r.exit_code == 0, r.output
    assert r.output.count("added") == 2 and "skipped" in r.output.splitlines()[-1]
    r = run(app, ["cohort", "stats", "--lake", lake, "--limit", "0", "--project", "alpha"])
    assert r.exit_code == 0 and r.output.startswith("# samples=2"), r.output
    called = np.stack([c.covered(j) for j in (0, 1)], axis=1) & ~c.nocall[:, :2]
    alpha = {
        int(p): (int(a), int(n))
        for p, a, n in zip(c.positions, (c.genotypes[:, :2] * called).sum(1), 2 * called.sum(1), strict=True)
    }
    rows = [line.split("\t") for line in r.output.splitlines()[2:]]
    assert rows and all(alpha[int(x[1]) - 1] == (int(x[4]), int(x[5])) for x in rows)
    r = run(app, ["cohort", "stats", "--lake", lake, "--limit", "0"])
    lines = r.output.splitlines()
    assert r.exit_code == 0 and lines[0].startswith("# samples=4")
    ac, an = c.truth()
    first = lines[2].split("\t")
    i = list(c.positions).index(int(first[1]) - 1)
    assert (int(first[4]), int(first[5])) == (int(ac[i]), int(an[i]))
    r = run(app, ["cohort", "query", f"{c.contig}:{first[1]}", "--lake", lake])
    site = json.loads(r.output)[0]
    assert site["ac"] == int(ac[i]) and sum(x["ac"] for x in site["carriers"]) == site["ac"]
    assert json.loads(run(app, ["cohort", "compact", "--lake", lake]).output)["mode"] == "folded"
    r = run(
        app, ["cohort", "export", f"{c.contig}:1-20000", "--out", str(tmp_path / "x.vcf.gz"), "--lake", lake]
    )
    assert r.exit_code == 0 and (tmp_path / "x.vcf.gz.tbi").exists()
    with pysam.VariantFile(str(tmp_path / "x.vcf.gz")) as fh:
        assert list(fh.header.samples) == c.names and sum(1 for _ in fh) == len(lines) - 2
    r = run(app, ["cohort", "withdraw", c.names[0], "--reason", "consent withdrawn", "--lake", lake])
    assert r.exit_code == 0 and "reason recorded" in r.output
    r = run(app, ["cohort", "withdraw", c.names[0], "--reason", "again", "--lake", lake])
    assert r.exit_code == 2 and "not in the cohort" in r.output and "Traceback" not in r.output
    r = run(app, ["cohort", "stats", "--region", "chr1:9-3", "--lake", lake])
    assert r.exit_code == 2 and r.output.count("\n") == 1


def test_cohort_add_of_a_missing_or_foreign_file_is_one_line(tmp_path: Path) -> None:
    lake = str(tmp_path / "lake")
    (tmp_path / "notes.txt").write_text("not a gVCF\n")
    for path, problem in (
        (tmp_path / "absent.g.vcf.gz", "no such file"),
        (tmp_path / "notes.txt", "not a readable"),
    ):
        r = CliRunner().invoke(app, ["cohort", "add", str(path), "--lake", lake])
        lines = [line for line in r.output.splitlines() if line.strip()]
        assert r.exit_code == 2 and len(lines) == 1 and problem in lines[0], r.output
