"""Two sites on one machine: an edge (its own sqlite stream and file object store) runs the image
stage and a replicator process sends what its policy allows to a cloud (its own S3 object store and
Delta lake on a real S3 API server) over a link the test cuts mid-run; the replicator is also killed
with SIGKILL mid-run and restarted. The cloud's lake must equal a single-site run of the same images
(for the data the policy lets through), with nothing lost or doubled and nothing of a project whose
data may not leave its region."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlparse

import numpy as np
import pandas as pd
import pytest

from labstream.instruments.microscope import MicroscopeSimulator, PlateSetSpec
from labstream.instruments.sequencer import SimConfig, read_fasta, simulate_pairs
from labstream.lake.delta import Lake
from labstream.objects import open_store
from labstream.phenomics.model import SiteImage
from labstream.phenomics.site import measure_site
from labstream.sites.edge import EdgePolicy, edge_rows_event, edge_site_event, read_qc_rows
from labstream.sites.link import CuttableLink
from labstream.sites.replicate import ReplicationConfig
from labstream.stream import open_stream
from labstream.testing.process import stop_process

SRC = Path(__file__).resolve().parents[2] / "src"
KEY = ["Metadata_Plate", "Metadata_Well", "Metadata_Site", "Metadata_Object"]
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


@pytest.mark.slow
def test_edge_to_cloud_through_a_cut_link_and_a_killed_replicator(tmp_path, s3_server) -> None:  # type: ignore[no-untyped-def]
    edge = tmp_path / "edge"
    edge.mkdir()
    stream_url, objects_url = f"sqlite:///{edge}/stream.db", f"file://{edge}/objects"
    stream, store = open_stream(stream_url), open_store(objects_url)
    stream.create_topic("edge.sites", partitions=2)
    bucket = s3_server.create_bucket()
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
            cloud_lake=f"s3://{bucket}/lake",
            allowed_regions={"screen": ["eu-west-1"], "clinical": ["eu-central-1"]},
            policy=POLICY.to_dict(),
            stats_path=str(tmp_path / "stats.jsonl"),
        )
        cfg_path, stop, log = tmp_path / "cfg.json", tmp_path / "stop", tmp_path / "replicator.log"
        cfg_path.write_text(cfg.to_json())
        env = {**os.environ, **cloud_env, "PYTHONPATH": str(SRC)}
        proc = _start(cfg_path, stop, env, log)
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
        try:
            for i, key in enumerate(sim.sites()):
                pixels, _ = sim.render(key)
                img = SiteImage(key, pixels)
                project = "clinical" if i % 5 == 2 else "screen"
                images.append((img, project))
                events.append(
                    edge_site_event(
                        img, project=project, store=store, stream=stream, topic="edge.sites", policy=POLICY
                    )
                )
                stream.flush()
                if i == 3:  # once the replicator is replicating, partition the sites
                    _wait_stats(cfg, lambda s: s.get("records", 0) > 0, timeout=60)
                    link.cut()
                if i == 6:  # the edge kept producing; restore once the replicator has felt the cut
                    _wait_stats(cfg, lambda s: "error" in s, timeout=60)
                    link.restore()
                if i == 8:
                    proc.send_signal(signal.SIGKILL)  # the replicator dies mid-run, uncommitted
                    proc.wait(timeout=10)
                    proc = _start(cfg_path, stop, env, log)
                time.sleep(0.05)
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
        finally:
            stop.touch()  # the replicator's own stop signal: no SIGTERM unless it ignores that
            stop_process(proc, 20, terminate=False)
        bytes_over_link = link.bytes_up

    # the single-site run: the same images measured in one place, restricted to what the policy sends
    single = pd.concat(
        [measure_site(img).cells for img, project in images if project == "screen"], ignore_index=True
    )
    cloud = Lake(f"s3://{bucket}/lake", storage_options=cloud_env_for(s3_server)).read("edge_cells")
    cloud = cloud.to_pandas() if hasattr(cloud, "to_pandas") else cloud
    assert not cloud.duplicated(KEY).any(), "a row was replicated twice"
    assert set(cloud["project"]) == {"screen"}, "a clinical row left its region"
    got = cloud[single.columns].sort_values(KEY).reset_index(drop=True)
    want = single.sort_values(KEY).reset_index(drop=True)
    pd.testing.assert_frame_equal(got, want, check_dtype=False)

    qc = Lake(f"s3://{bucket}/lake", storage_options=cloud_env_for(s3_server)).read("edge_read_qc")
    qc = qc.to_pandas().sort_values("chunk").reset_index(drop=True)
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
    sites = cloud.groupby("site_key")[["thumbnail_uri", "raw_uri"]].first()
    for key, row in sites.iterrows():
        assert row["thumbnail_uri"] and bool(row["raw_uri"]) == POLICY.sends_raw(str(key))
    sent = [ev for ev in events if ev["project"] == "screen" and ev["kind"] == "site"]
    assert 0 < sum(POLICY.sends_raw(ev["key"]) for ev in sent) < len(sent)

    stats = [json.loads(line) for line in (tmp_path / "stats.jsonl").read_text().splitlines()]
    errors = [s for s in stats if "error" in s]
    assert errors, "the cut link was never felt: the test did not exercise a partition"
    raw_total = sum(int(ev["raw"]["size"]) for ev in events)
    lags = sorted(s["lag_max_s"] for s in stats if s.get("records"))
    print(
        f"\nedge->cloud: {len(images)} fields + {len(chunks)} FASTQ chunks, raw {raw_total} B at the "
        f"edge, {bytes_over_link} B over the link, {len(errors)} failed attempts during the cut, "
        f"max batch lag {lags[-1]:.1f} s (start-up, cut and restart included; bench/sites.py measures "
        f"the steady state), {len(cloud)} cell rows, {int(qc['reads'].sum())} reads QC'd"
    )


def cloud_env_for(server) -> dict[str, str]:  # type: ignore[no-untyped-def]
    return {k: v for k, v in server.env.items() if k != "AWS_DEFAULT_REGION"}
