"""Two sites on one machine, each with its own home, stream, object store and executor:

- the edge (sqlite stream, file object store) runs the image stage on its own process pool, keeps the
  raw images and publishes one small event per field of view (and per FASTQ chunk of a sequencing run);
- a replicator process copies what the policy allows into the cloud's S3 object store (a real S3 API
  server) over a link the test cuts mid-run, and publishes one event per edge record to the cloud's own
  stream (exactly once by its destination cursor); it is also SIGKILLed right after publishing a batch,
  before committing the edge offsets, and restarted;
- the cloud's PipelineRunner (its own catalog, its own process pool, placement by SitePlacer) consumes
  that stream and writes the cloud's Delta lake on S3.

The cloud's lake must equal a single-site run of the same images (for the data the policy lets
through), with nothing lost or doubled, and nothing of a project whose data may not leave its region."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from urllib.parse import urlparse

import numpy as np
import pandas as pd
import pytest

from labstream.compute import open_executor
from labstream.core.settings import Settings
from labstream.instruments.microscope import MicroscopeSimulator, PlateSetSpec
from labstream.instruments.sequencer import SimConfig, read_fasta, simulate_pairs
from labstream.lake.delta import Lake
from labstream.objects import open_store
from labstream.ops.pricebook import load_price_book
from labstream.phenomics.model import SiteImage
from labstream.phenomics.site import measure_site
from labstream.runtime import PipelineRunner
from labstream.sites import sites_from_mapping
from labstream.sites.cloud import cloud_pipeline
from labstream.sites.edge import EdgePolicy, edge_rows_event, read_qc_rows, run_edge_site
from labstream.sites.link import CuttableLink
from labstream.sites.relay import EDGE_OFFSET, EDGE_PARTITION
from labstream.sites.replicate import ReplicationConfig
from labstream.sites.runtime import SitePlacer
from labstream.stream import open_stream
from labstream.testing.process import stop_process

SRC = Path(__file__).resolve().parents[2] / "src"
KEY = ["Metadata_Plate", "Metadata_Well", "Metadata_Site", "Metadata_Object"]
BOOK = load_price_book("labstream-2026-12")
FIELDS = 6  # fields of view streamed (one of them of a project that may not leave its region)
POLICY = EdgePolicy(features=True, thumbnails=True, raw_fraction=0.25, thumbnail_factor=8)


MT_HUMAN = Path("/usr/share/doc/minimap2/test/MT-human.fa.gz")  # real sequence (Debian's minimap2)


def _fastq_chunks(folder: Path, chunks: int) -> list[tuple[Path, Path]]:
    """A sequencing run of paired reads simulated from the human mitochondrion, cut into FASTQ chunks."""
    ref = read_fasta(MT_HUMAN)
    batches = list(simulate_pairs([ref], SimConfig(coverage=12, seed=5), np.random.default_rng(5), 200))
    out = []
    for c in range(chunks):
        r1, r2 = folder / f"run1_c{c}_R1.fastq", folder / f"run1_c{c}_R2.fastq"
        with r1.open("wb") as f1, r2.open("wb") as f2:
            for names, s1, q1, s2, q2 in batches[c::chunks]:
                for i, name in enumerate(names):
                    f1.write(b"@" + name + b"/1\n" + s1[i].tobytes() + b"\n+\n" + q1[i].tobytes() + b"\n")
                    f2.write(b"@" + name + b"/2\n" + s2[i].tobytes() + b"\n+\n" + q2[i].tobytes() + b"\n")
        out.append((r1, r2))
    return out


def _start(cfg_path: Path, stop: Path, env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "labstream.sites.replicate", str(cfg_path), str(stop)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=log.open("ab"),
    )


def _wait_stats(cfg: ReplicationConfig, pred, timeout: float) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    path = Path(cfg.stats_path)
    while time.monotonic() < deadline:
        if path.exists() and any(pred(json.loads(x)) for x in path.read_text().splitlines()):
            return
        time.sleep(0.1)
    raise AssertionError(f"the replicator never reported what the test waits for ({path})")


def _wait_caught_up(stream, group: str, topic: str, timeout: float) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        end = stream.end_offsets(topic)
        done = stream.committed_offsets(group, topic, list(end))
        if all((done.get(p) or 0) >= e for p, e in end.items()):
            return
        time.sleep(0.3)
    raise AssertionError(f"replicator did not catch up: end {end}, committed {done}")


def _wait_idle(runner, timeout: float) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not runner.is_idle():
        assert time.monotonic() < deadline, f"the cloud runner did not finish: {runner.status()}"
        time.sleep(0.2)


CLOUD = {
    "cloud-eu": {
        "region": "eu-west-1",
        "executor": "local?cpu=2&start=forkserver",
        "classes": {"cpu": {"cpu": 4, "memory_mb": 8192}},
    }
}
ALLOWED = {"screen": ["eu-west-1"], "clinical": ["eu-central-1"]}


def _read_topic(stream, topic: str) -> list:  # type: ignore[no-untyped-def]
    consumer = stream.consumer("test-reader", [topic])
    out = []
    while batch := consumer.poll(500, timeout=0.3):
        out += batch
    consumer.close()
    return out


@pytest.mark.slow
def test_edge_to_cloud_through_a_cut_link_and_a_killed_replicator(tmp_path, s3_server, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    for name, value in s3_server.env.items():  # the cloud's own processes reach its S3 directly
        monkeypatch.setenv(name, value)
    # each site's executor forks its workers from a clean fork server (this process runs servers' threads)
    edge_ex = open_executor("local?cpu=1&start=forkserver")
    cloud_ex = open_executor("local?cpu=2&start=forkserver")
    edge, cloud_home = tmp_path / "edge", tmp_path / "cloud"
    edge.mkdir()
    stream_url, objects_url = f"sqlite:///{edge}/stream.db", f"file://{edge}/objects"
    stream, store = open_stream(stream_url), open_store(objects_url)
    stream.create_topic("edge.sites", partitions=2)
    bucket = s3_server.create_bucket()
    cloud = Settings(
        home=cloud_home,
        stream_url=f"sqlite:///{cloud_home}/stream.db",
        objects_url=f"s3://{bucket}/objects",
        lake_url=f"s3://{bucket}/lake",
    )
    cloud.ensure_home()
    host_port = urlparse(s3_server.endpoint_url)
    with CuttableLink((host_port.hostname, host_port.port)) as link:
        cloud_env = {**s3_server.env, "AWS_ENDPOINT_URL": f"http://127.0.0.1:{link.port}"}
        cfg = ReplicationConfig(
            edge_site="edge-lab",
            edge_stream=stream_url,
            edge_objects=objects_url,
            topic="edge.sites",
            cloud_site="cloud-eu",
            cloud_region="eu-west-1",
            cloud_objects=f"s3://{bucket}/objects",
            cloud_lake="",
            allowed_regions=ALLOWED,
            policy=POLICY.to_dict(),
            stats_path=str(tmp_path / "stats.jsonl"),
            cloud_stream=cloud.stream_url,
            cloud_topic="edge.cloud",
        )
        cfg_path, stop, log = tmp_path / "cfg.json", tmp_path / "stop", tmp_path / "replicator.log"
        cfg_path.write_text(cfg.to_json())
        env = {**os.environ, **cloud_env, "PYTHONPATH": str(SRC)}
        # the first replicator SIGKILLs itself right after publishing its first batch to the cloud
        proc = _start(cfg_path, stop, {**env, "LABSTREAM_FAULT": "after_publish:1"}, log)
        sites = sites_from_mapping({"sites": CLOUD}, BOOK)
        placer = SitePlacer(sites, BOOK, ALLOWED, executors={"cloud-eu": cloud_ex})
        runner = PipelineRunner(cloud, cloud_pipeline("edge.cloud"), executor=cloud_ex, placer=placer)
        done = threading.Event()  # the cloud runner consumes its stream as events arrive
        cloud_thread = threading.Thread(target=runner.run_forever, args=(done,), daemon=True)
        cloud_thread.start()
        sim = MicroscopeSimulator(
            PlateSetSpec(
                plates=1,
                complexes=2,
                genes_per_complex=2,
                nulls=0,
                negative_controls=1,
                positive_controls=1,
                sites_per_well=2,
                size=128,
                seed=11,
            )
        )
        images, events = [], []
        chunks = _fastq_chunks(edge, 4)
        restarted = 0.0
        try:
            for i, key in enumerate(list(sim.sites())[:FIELDS]):
                pixels, _ = sim.render(key)
                img = SiteImage(key, pixels)
                project = "clinical" if i % 5 == 2 else "screen"
                images.append((img, project))
                ev = edge_ex.submit(
                    run_edge_site, img, project=project, objects_url=objects_url, policy=POLICY
                ).result(timeout=120)  # the image stage runs in the edge's own pool
                stream.publish("edge.sites", json.dumps(ev).encode(), key=ev["key"])
                stream.flush()
                events.append(ev)
                if i == 1:  # the replicator died after a publish, before its edge commit: restart it
                    assert proc.wait(timeout=60) == -signal.SIGKILL
                    restarted = time.time()
                    proc = _start(cfg_path, stop, env, log)
                if i == 3:  # once the new replicator is replicating, partition the sites
                    _wait_stats(cfg, lambda s: s["t"] > restarted and s.get("records", 0) > 0, timeout=60)
                    link.cut()
                if i == 5:  # the edge kept producing; restore once the replicator has felt the cut
                    _wait_stats(cfg, lambda s: "error" in s, timeout=60)
                    link.restore()
            for c, (r1, r2) in enumerate(chunks):  # the sequencing run: read QC goes, the reads stay
                rows = read_qc_rows(r1, r2, run="run1", chunk=c)
                events.append(
                    edge_rows_event(
                        rows,
                        r1.read_bytes() + r2.read_bytes(),
                        key=f"run1/c{c}",
                        table="edge_read_qc",
                        project="screen",
                        store=store,
                        stream=stream,
                        topic="edge.sites",
                        suffix=".fastq",
                    )
                )
            stream.flush()
            _wait_caught_up(stream, cfg.group, "edge.sites", timeout=90)
            _wait_idle(runner, timeout=120)
            done.set()
            cloud_thread.join(timeout=30)
            status = runner.status()["cloud_edge_rows"]
            lineage = runner.catalog.list_lineage(stage="cloud_edge_rows")
        finally:
            done.set()
            stop.touch()  # the replicator's own stop signal: no SIGTERM unless it ignores that
            stop_process(proc, 20, terminate=False)
            runner.close()
            placer.close()
            edge_ex.close()
            cloud_ex.close()
        bytes_over_link = link.bytes_up

    # the stream leg: one cloud event per edge record the policy lets through, none twice
    cloud_stream = open_stream(cloud.stream_url)
    relayed = _read_topic(cloud_stream, "edge.cloud")
    pairs = [(r.headers[EDGE_PARTITION], r.headers[EDGE_OFFSET]) for r in relayed]
    assert len(pairs) == len(set(pairs)) == sum(ev["project"] == "screen" for ev in events)
    assert status["duplicates"] == 0 and status["dlq"] == 0 and not runner.errors
    assert status["processed"] == len(pairs)
    # the cloud runner placed every task (data-local: the inputs are in the cloud's store) and said why
    assert {r.request["placement"]["site"] for r in lineage} == {"cloud-eu"}
    assert all("data-local at cloud-eu" in r.request["placement"]["reason"] for r in lineage)

    # the single-site run: the same images measured in one place, restricted to what the policy sends
    single = pd.concat(
        [measure_site(img).cells for img, project in images if project == "screen"], ignore_index=True
    )
    cells = Lake(cloud.lake_url).read("edge_cells").to_pandas()
    assert not cells.duplicated(KEY).any(), "a row was replicated twice"
    assert set(cells["project"]) == {"screen"}, "a clinical row left its region"
    got = cells[single.columns].sort_values(KEY).reset_index(drop=True)
    want = single.sort_values(KEY).reset_index(drop=True)
    pd.testing.assert_frame_equal(got, want, check_dtype=False)

    qc = Lake(cloud.lake_url).read("edge_read_qc").to_pandas().sort_values("chunk").reset_index(drop=True)
    want_qc = pd.concat([read_qc_rows(r1, r2, run="run1", chunk=c) for c, (r1, r2) in enumerate(chunks)])
    pd.testing.assert_frame_equal(qc[want_qc.columns], want_qc.reset_index(drop=True), check_dtype=False)
    assert qc["reads"].sum() > 1000

    # objects: thumbnails of every sent field, raw only for the sampled ones, nothing of "clinical"
    s3 = s3_server.client()
    names = {
        o["Key"]
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix="objects/")
        for o in page.get("Contents", [])
    }
    held = {ev[k]["sha256"] for ev in events if ev["project"] == "clinical" for k in ("raw", "thumbnail")}
    assert not any(sha in name for name in names for sha in held), "a clinical object crossed"
    fields = cells.groupby("site_key")[["thumbnail_uri", "raw_uri"]].first()
    for key, row in fields.iterrows():
        assert row["thumbnail_uri"] and bool(row["raw_uri"]) == POLICY.sends_raw(str(key))
    sent = [ev for ev in events if ev["project"] == "screen" and ev["kind"] == "site"]
    assert 0 < sum(POLICY.sends_raw(ev["key"]) for ev in sent) < len(sent)

    stats = [json.loads(line) for line in (tmp_path / "stats.jsonl").read_text().splitlines()]
    errors = [s for s in stats if "error" in s]
    assert errors, "the cut link was never felt: the test did not exercise a partition"
    assert any(s.get("skipped", 0) for s in stats if s["t"] > restarted), "the cursor skipped nothing"
    raw_total = sum(int(ev["raw"]["size"]) for ev in events)
    lags = sorted(s["lag_max_s"] for s in stats if s.get("records"))
    print(
        f"\nedge->cloud: {len(images)} fields + {len(chunks)} FASTQ chunks, raw {raw_total} B at the "
        f"edge, {bytes_over_link} B over the link, {len(errors)} failed attempts during the cut, "
        f"{sum(s.get('skipped', 0) for s in stats)} records skipped by the cursor after the crash, "
        f"max batch lag {lags[-1]:.1f} s (start-up, crash, cut and restart included), "
        f"{len(relayed)} cloud events, {len(cells)} cell rows, {int(qc['reads'].sum())} reads QC'd"
    )
