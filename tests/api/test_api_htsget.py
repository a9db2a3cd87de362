"""htsget 1.3 end to end: the GA4GH reference client (PyPI `htsget`) fetches regions of a BAM and a VCF
from a real uvicorn server on 127.0.0.1; the records must equal `samtools view` / `bcftools view` of
the same region on the original (unencrypted) files."""

from __future__ import annotations

import subprocess
from pathlib import Path

import htsget
import pysam
import pytest

from conftest import World

pytestmark = pytest.mark.integration

REGIONS = [
    ("chr1", 0, 20000),
    ("chr1", 1500, 4000),
    ("chr2", 10000, 10100),
    ("chr2", 14990, 15000),
    ("chr1", None, None),
]


def _samtools(bam: Path, region: str) -> list[str]:
    out = subprocess.run(["samtools", "view", str(bam), region], capture_output=True, text=True, check=True)
    return out.stdout.splitlines()


def _bcftools(vcf: Path, region: str) -> list[str]:
    out = subprocess.run(
        ["bcftools", "view", "-H", "-r", region, str(vcf)], capture_output=True, text=True, check=True
    )
    return out.stdout.splitlines()


def _region(ref: str, start: int | None, end: int | None) -> str:
    return ref if start is None else f"{ref}:{start + 1}-{end}"


@pytest.mark.parametrize("ref,start,end", REGIONS)
def test_reads_region_matches_samtools(server: str, world: World, tmp_path: Path, ref, start, end) -> None:
    out = tmp_path / "got.bam"
    with open(out, "wb") as fh:
        htsget.get(
            f"{server}/reads/{world.objects['alpha']['bam']}",
            fh,
            reference_name=ref,
            start=start,
            end=end,
            data_format="BAM",
            bearer_token=world.tokens["viewer_alpha"],
            max_retries=0,
        )
    got = pysam.view(str(out)).splitlines()
    want = _samtools(world.files["bam"], _region(ref, start, end))
    assert got == want
    assert want or (ref, start) == ("chr2", 14990)  # the regions are not all empty


@pytest.mark.parametrize("ref,start,end", REGIONS)
def test_variants_region_matches_bcftools(server: str, world: World, tmp_path: Path, ref, start, end) -> None:
    out = tmp_path / "got.vcf.gz"
    with open(out, "wb") as fh:
        htsget.get(
            f"{server}/variants/{world.objects['alpha']['vcf']}",
            fh,
            reference_name=ref,
            start=start,
            end=end,
            data_format="VCF",
            bearer_token=world.tokens["viewer_alpha"],
            max_retries=0,
        )
    got = subprocess.run(["bcftools", "view", "-H", str(out)], capture_output=True, text=True, check=True)
    assert got.stdout.splitlines() == _bcftools(world.files["vcf"], _region(ref, start, end))


def test_other_projects_data_and_bad_tokens_are_refused(server: str, world: World, tmp_path: Path) -> None:
    from htsget.exceptions import ClientError

    with open(tmp_path / "x.bam", "wb") as fh, pytest.raises(ClientError):
        htsget.get(
            f"{server}/reads/{world.objects['beta']['bam']}",
            fh,
            reference_name="chr1",
            bearer_token=world.tokens["viewer_alpha"],
            max_retries=0,
        )
    with open(tmp_path / "y.bam", "wb") as fh, pytest.raises(ClientError):
        htsget.get(
            f"{server}/reads/{world.objects['alpha']['bam']}", fh, bearer_token="ls_forged", max_retries=0
        )


def test_header_class_and_errors(server: str, world: World) -> None:
    import httpx

    h = {"Authorization": f"Bearer {world.tokens['viewer_alpha']}"}
    bam = world.objects["alpha"]["bam"]
    r = httpx.get(f"{server}/reads/{bam}", params={"format": "SAM"}, headers=h)
    assert r.status_code == 400 and r.json()["htsget"]["error"] == "UnsupportedFormat"
    r = httpx.get(
        f"{server}/reads/{bam}", params={"referenceName": "chr1", "start": 50, "end": 10}, headers=h
    )
    assert r.status_code == 400 and r.json()["htsget"]["error"] == "InvalidRange"
    r = httpx.get(f"{server}/reads/{bam}", params={"class": "header"}, headers=h)
    data = httpx.get(r.json()["htsget"]["urls"][0]["url"])
    assert data.status_code == 200
    p = Path(world.home) / "scratch" / "header-check.bam"
    p.write_bytes(data.content)
    with pysam.AlignmentFile(str(p)) as f:
        assert list(f.references) == ["chr1", "chr2"] and list(f.fetch(until_eof=True)) == []
    p.unlink()


@pytest.mark.slow
def test_archived_object_through_live_drs_and_htsget(
    server: str, world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An archived governed BAM read through the live server: the htsget ticket (it reads the header)
    and the DRS access URL answer 503 "archived, restore requested, ready in about N" with Retry-After
    (never the object's location); once the restore is ready the same requests read it, equal to the
    original."""
    import time

    import httpx

    from labstream.api import routes_htsget
    from labstream.governance.objects import get_object
    from labstream.objects.fsspec_store import FsspecStore
    from labstream.objects.tiers import open_tiers

    monkeypatch.setenv("LABSTREAM_RESTORE_DELAY_S", "2")
    # the ticket reads the object's header for its reference names unless an earlier test cached them
    monkeypatch.setattr(routes_htsget, "_REFS", {})
    h = {"Authorization": f"Bearer {world.tokens['viewer_alpha']}"}
    bam = world.objects["alpha"]["bam"]
    obj = get_object(world.gov, bam)
    assert obj is not None
    open_tiers(FsspecStore(world.settings.objects_url)).transition(obj.uri, "archive")
    first = httpx.get(f"{server}/reads/{bam}", params={"referenceName": "chr1"}, headers=h, timeout=30)
    assert first.status_code == 503, first.text  # the ticket needs the archived header
    assert first.headers["Retry-After"] in ("1", "2") and "restore requested now" in first.text
    assert "archived" in first.text and "file://" not in first.text and "objects/" not in first.text
    access = httpx.get(f"{server}/ga4gh/drs/v1/objects/{bam}/access/https", headers=h, timeout=30)
    assert access.status_code == 200, access.text
    second = httpx.get(access.json()["url"], timeout=30)
    assert second.status_code == 503 and "restore already under way" in second.text
    assert "file://" not in second.text and "objects/" not in second.text
    time.sleep(float(second.headers["Retry-After"]))  # rounded up by the server: enough on its own
    again = httpx.get(access.json()["url"], timeout=30)
    assert again.status_code == 200 and again.content == Path(world.files["bam"]).read_bytes()
    ticket = httpx.get(f"{server}/reads/{bam}", params={"referenceName": "chr1"}, headers=h, timeout=30)
    assert ticket.status_code == 200, ticket.text
    data = httpx.get(ticket.json()["htsget"]["urls"][0]["url"], timeout=30)
    assert data.status_code == 200, data.text
