"""Results a pipeline run registered (not a fixture) are read by real GA4GH clients: `labstream genomics
call --project` registers its BAM, VCF and report as DRS objects; samtools and bcftools (htslib's htsget
support), the `htsget` PyPI client and DRS return what the run wrote; errors have the htsget shape."""

from __future__ import annotations

import hashlib
import os
import subprocess
from pathlib import Path
from urllib.parse import quote

import htsget
import httpx
import pysam
import pytest
from typer.testing import CliRunner

from conftest import World, auth

pytestmark = [pytest.mark.integration, pytest.mark.slow]
LAMBDA = Path("/usr/share/doc/bowtie2/examples/reference/lambda_virus.fa.gz")


@pytest.fixture(scope="module")
def called(world: World, tmp_path_factory: pytest.TempPathFactory) -> dict[str, object]:
    """One `labstream genomics call --project alpha` on a simulated lambda run (~3 s)."""
    from labstream.cli.main import app
    from labstream.instruments.sequencer import SimConfig, simulate_run

    tmp = tmp_path_factory.mktemp("called")
    sim = simulate_run(LAMBDA, tmp / "sim", SimConfig(coverage=15, seed=5, sample="GA1"))
    args = ["genomics", "call", "--reference", str(sim.reference), "--reads", str(sim.r1), "--reads",
            str(sim.r2), "--sample", "GA1", "--out", str(tmp / "out"), "--no-lake", "--project", "alpha",
            "--annotation", str(sim.gff3), "--known", str(sim.known_vcf), "--cram"]  # fmt: skip
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("LABSTREAM_HOME", str(world.home))
        res = CliRunner().invoke(app, args)
    assert res.exit_code == 0, res.output
    line = next(x for x in res.output.splitlines() if x.startswith("DRS objects:"))
    words = line.split()
    ids = {words[i]: words[i + 1] for i in (2, 4, 6, 8)}
    with pysam.AlignmentFile(str(tmp / "out" / "GA1.bam")) as f:
        contig = f.references[0]
    return {"ids": ids, "out": tmp / "out", "contig": contig, "tmp": tmp, "reference": sim.reference}


def _env(world: World, tmp: Path) -> dict[str, str]:
    token = tmp / "token"
    token.write_text(world.tokens["viewer_alpha"])
    return {
        **os.environ,
        "HTS_AUTH_LOCATION": str(token),
        "HTS_ALLOW_UNENCRYPTED_AUTHORIZATION_HEADER": "I understand the risks",
    }


def test_drs_object_is_what_the_run_wrote(client, world: World, called) -> None:  # type: ignore[no-untyped-def]
    h = auth(world, "viewer_alpha")
    for kind, name in (("bam", "GA1.bam"), ("vcf", "GA1.vcf.gz"), ("report", "GA1.report.html")):
        obj = client.get(f"/ga4gh/drs/v1/objects/{called['ids'][kind]}", headers=h).json()
        local = (called["out"] / name).read_bytes()
        assert obj["name"] == name and obj["size"] == len(local)
        assert obj["checksums"] == [{"checksum": hashlib.sha256(local).hexdigest(), "type": "sha-256"}]
        url = client.get(f"/ga4gh/drs/v1/objects/{obj['id']}/access/https", headers=h).json()["url"]
        assert client.get(url).content == local
    # the other project sees none of them
    other = auth(world, "viewer_beta")
    assert client.get(f"/ga4gh/drs/v1/objects/{called['ids']['bam']}", headers=other).status_code == 404


def test_samtools_and_bcftools_read_the_run_through_htsget(server: str, world: World, called) -> None:  # type: ignore[no-untyped-def]
    contig, out = called["contig"], called["out"]
    env = _env(world, called["tmp"])
    url = f"{server}/reads/{called['ids']['bam']}?referenceName={quote(contig, safe='')}&start=1000&end=9000"
    got = subprocess.run(["samtools", "view", url], capture_output=True, text=True, env=env, timeout=60)
    assert got.returncode == 0, got.stderr
    want = subprocess.run(["samtools", "view", str(out / "GA1.bam"), f"{contig}:1001-9000"],
                          capture_output=True, text=True, check=True).stdout  # fmt: skip
    assert got.stdout == want and want.count("\n") > 100
    vurl = f"{server}/variants/{called['ids']['vcf']}?referenceName={quote(contig, safe='')}"
    got = subprocess.run(
        ["bcftools", "view", "-H", vurl], capture_output=True, text=True, env=env, timeout=60
    )
    assert got.returncode == 0, got.stderr
    want = subprocess.run(["bcftools", "view", "-H", str(out / "GA1.vcf.gz")],
                          capture_output=True, text=True, check=True).stdout  # fmt: skip
    assert got.stdout == want and want


def test_htsget_client_reads_the_run(server: str, world: World, called, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    got = tmp_path / "got.bam"
    with open(got, "wb") as fh:
        htsget.get(
            f"{server}/reads/{called['ids']['bam']}", fh, reference_name=called["contig"], start=20000,
            end=21000, data_format="BAM", bearer_token=world.tokens["viewer_alpha"], max_retries=0,
        )  # fmt: skip
    want = pysam.view(str(called["out"] / "GA1.bam"), f"{called['contig']}:20001-21000").splitlines()
    assert pysam.view(str(got)).splitlines() == want and want


def _records(sam: str) -> list[tuple[str, ...]]:
    """SAM lines with their tags as a set, MD left out: CRAM decoding regenerates MD and orders tags its
    own way; everything else must be identical."""
    out = []
    for line in sam.splitlines():
        cols = line.split("\t")
        out.append((*cols[:11], *sorted(t for t in cols[11:] if not t.startswith("MD:"))))
    return out


def test_the_runs_cram_names_its_reference_and_reads_through_htsget(
    server: str, world: World, called
) -> None:  # type: ignore[no-untyped-def]
    from labstream.core.hashing import sha256_file

    contig, out = called["contig"], called["out"]
    header = pysam.view("-H", str(out / "GA1.cram"))
    with pysam.FastaFile(str(called["reference"])) as fa:
        md5 = hashlib.md5(fa.fetch(contig).upper().encode()).hexdigest()  # noqa: S324 - the SAM M5 tag
    assert f"M5:{md5}" in header and f"sha256:{sha256_file(called['reference'])[0]}" in header
    env = {
        **_env(world, called["tmp"]),
        "REF_PATH": "/nonexistent",
        "REF_CACHE": "/nonexistent",
    }  # no lookups
    want = _records(
        subprocess.run(
            ["samtools", "view", str(out / "GA1.bam"), f"{contig}:1001-9000"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout  # fmt: skip
    )
    region = f"referenceName={quote(contig, safe='')}&start=1000&end=9000"
    for obj, fmt in (("cram", "CRAM"), ("cram", "BAM"), ("bam", "CRAM")):
        url = f"{server}/reads/{called['ids'][obj]}?{region}&format={fmt}"
        got = subprocess.run(["samtools", "view", url], capture_output=True, text=True, env=env, timeout=60)
        assert got.returncode == 0, (obj, fmt, got.stderr)
        assert _records(got.stdout) == want and len(want) > 100, (obj, fmt)
    bad = httpx.get(f"{server}/reads/{called['ids']['cram']}", params={"format": "SAM"},
                    headers=auth(world, "viewer_alpha"))  # fmt: skip
    assert bad.status_code == 400 and bad.json()["htsget"]["error"] == "UnsupportedFormat"


def test_errors_have_the_htsget_shape(server: str, world: World, called) -> None:  # type: ignore[no-untyped-def]
    h = auth(world, "viewer_alpha")
    bam = called["ids"]["bam"]
    r = httpx.get(f"{server}/reads/{bam}", params={"referenceName": "chrNope"}, headers=h)
    assert r.status_code == 404 and r.json()["htsget"]["error"] == "NotFound"  # at the ticket
    r = httpx.get(f"{server}/variants/{called['ids']['vcf']}", params={"referenceName": "chrNope"}, headers=h)
    assert r.status_code == 404 and r.json()["htsget"]["error"] == "NotFound"
    r = httpx.get(f"{server}/reads/{bam}", params={"referenceName": called["contig"], "start": -5}, headers=h)
    assert (
        r.status_code == 400
        and r.json()["htsget"]["error"] == "InvalidInput"
        and r.json()["htsget"]["message"]
    )
    r = httpx.get(f"{server}/reads/nope", headers=h)
    assert r.status_code == 404 and r.json()["htsget"]["error"] == "NotFound"


def test_registering_again_adds_nothing(world: World, called) -> None:  # type: ignore[no-untyped-def]
    from labstream.governance.results import register_results

    out = called["out"]
    again = register_results(
        world.gov, "alpha", sample="GA1", run_id="x", bam=out / "GA1.bam", vcf=out / "GA1.vcf.gz",
        report=out / "GA1.report.html", cram=out / "GA1.cram",
    )  # fmt: skip
    assert again.ids() == called["ids"]


DRS_SUITE = ("drs-compliance-suite==1.0.3", "jsonschema", "werkzeug<3")


@pytest.fixture(scope="module")
def drs_suite(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """The GA4GH drs-compliance-suite in its own venv (~20 s): its wheel imports a module it does not
    ship (`supported_drs_versions`, a one-line shim here), needs jsonschema, and its Flask needs
    werkzeug < 3."""
    import sys

    base = tmp_path_factory.mktemp("drs-suite")
    venv = base / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120)
    pip = subprocess.run(
        [str(venv / "bin" / "pip"), "install", "-q", *DRS_SUITE],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    if pip.returncode != 0:
        pytest.skip(f"drs-compliance-suite could not be installed: {pip.stderr[-300:]}")
    shim = base / "shim"
    shim.mkdir()
    (shim / "supported_drs_versions.py").write_text('SUPPORTED_DRS_VERSIONS = ["1.2.0"]\n')
    return venv / "bin" / "drs-compliance-suite", shim


def test_drs_compliance_suite_passes_on_the_runs_objects(
    server: str, world: World, called, drs_suite
) -> None:  # type: ignore[no-untyped-def]
    import json

    exe, shim = drs_suite
    token = world.tokens["viewer_alpha"]
    objs = [{"drs_id": i, "auth_type": "bearer", "auth_token": token, "is_bundle": False}
            for i in called["ids"].values()]  # fmt: skip
    config = called["tmp"] / "drs-config.json"
    config.write_text(json.dumps({
        "service_info": {"auth_type": "none", "auth_token": ""},
        "drs_object_info": objs,
        "drs_object_access": objs,
    }))  # fmt: skip
    report = called["tmp"] / "drs-report.json"
    run = subprocess.run(
        [str(exe), "--server_base_url", f"{server}/ga4gh/drs/v1", "--platform_name", "labstream",
         "--platform_description", "labstream DRS", "--drs_version", "1.2.0", "--config_file", str(config),
         "--report_path", str(report)],
        capture_output=True, text=True, timeout=300, env={**os.environ, "PYTHONPATH": str(shim)},
    )  # fmt: skip
    assert report.exists(), run.stdout[-2000:] + run.stderr[-2000:]  # the suite exits 0 even when it fails
    summary = json.loads(report.read_text())["summary"]
    assert summary["failed"] == 0 and summary["passed"] > 0, summary
