"""Sites numbers: placement decisions per second, and what the edge keeps back at a real field size.

    python bench/sites.py [--size 1080] [--fields 4] [--raw-fraction 0.1]   # prints one JSON object

Placement: 20,000 generated tasks over 10 sites (the property test's generator). Edge reduction: the
simulator's Cell Painting fields (5 channels, uint16) at `--size` pixels, through the edge stage
(measure, thumbnail, store, publish) into a throw-away edge home; bytes the policy sends per field
(features parquet + thumbnail + the sampled share of raw) against the raw bytes.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "sites"))

from test_placement import BOOK, _sites, _task  # noqa: E402 - the generator of the property test

from labstream.instruments.microscope import MicroscopeSimulator, PlateSetSpec  # noqa: E402
from labstream.objects import open_store  # noqa: E402
from labstream.phenomics.model import SiteImage  # noqa: E402
from labstream.sites import PlacementRefused, place  # noqa: E402
from labstream.sites.edge import EdgePolicy, edge_site_event  # noqa: E402
from labstream.stream import open_stream  # noqa: E402
from labstream.testing.process import stop_process  # noqa: E402


def placement_rate(n: int = 20000) -> dict[str, float]:
    rng = random.Random(1)
    sites = [s for k in range(5) for s in _sites(random.Random(100 + k), f"k{k}s")][:10]
    tasks = [_task(rng, sites, i) for i in range(n)]
    refused = 0
    t0 = time.perf_counter()
    for t in tasks:
        try:
            place(t, sites, BOOK)
        except PlacementRefused:
            refused += 1
    dt = time.perf_counter() - t0
    return {
        "tasks": n,
        "sites": len(sites),
        "classes": sum(len(s.classes) for s in sites),
        "decisions_per_s": round(n / dt),
        "refused": refused,
    }


def edge_reduction(size: int, fields: int, raw_fraction: float) -> dict[str, float]:
    policy = EdgePolicy(raw_fraction=raw_fraction)
    sim = MicroscopeSimulator(PlateSetSpec(plates=1, size=size, sites_per_well=1, seed=5))
    with tempfile.TemporaryDirectory() as d:
        stream, store = open_stream(f"sqlite:///{d}/s.db"), open_store(f"file://{d}/o")
        raw = sent = cells = reduced = 0
        t0 = time.perf_counter()
        for key in list(sim.sites())[:fields]:
            pixels, _ = sim.render(key)
            ev = edge_site_event(
                SiteImage(key, pixels),
                project="p",
                store=store,
                stream=stream,
                topic="edge.sites",
                policy=policy,
            )
            raw += ev["raw"]["size"]
            cells += ev["cells"]
            sent += ev["features"]["size"] + ev["thumbnail"]["size"]
            reduced += ev["features"]["size"] + ev["thumbnail"]["size"]
            sent += ev["raw"]["size"] * policy.sends_raw(ev["key"])
        seconds = time.perf_counter() - t0
    return {
        "size": size,
        "fields": fields,
        "cells": cells,
        "raw_bytes": raw,
        "sent_bytes": sent,
        "reduction": round(raw / sent, 1),
        # on average the policy sends features + thumbnails + raw_fraction of the raw bytes (the raw
        # sample is deterministic per key, so a handful of fields may hold more or less of it)
        "reduction_expected": round(raw / (reduced + raw_fraction * raw), 1),
        "raw_fraction": raw_fraction,
        "edge_seconds_per_field": round(seconds / fields, 2),
    }


def replication_lag(fields: int = 16, size: int = 256, every_s: float = 0.5) -> dict[str, float]:
    """Steady-state lag edge -> cloud (S3 API server + Delta lake on it), replicator already running."""
    import os
    import statistics
    import threading

    from labstream.sites.replicate import ReplicationConfig, Replicator
    from labstream.testing.s3 import start_s3_server

    server, proc = start_s3_server()
    old = dict(os.environ)
    os.environ.update(server.env)
    try:
        bucket = server.create_bucket()
        with tempfile.TemporaryDirectory() as d:
            cfg = ReplicationConfig(
                edge_site="edge",
                edge_stream=f"sqlite:///{d}/s.db",
                edge_objects=f"file://{d}/o",
                topic="edge.sites",
                cloud_site="cloud",
                cloud_region="eu-west-1",
                cloud_objects=f"s3://{bucket}/objects",
                cloud_lake=f"s3://{bucket}/lake",
                allowed_regions={"p": ["eu-west-1"]},
                policy=EdgePolicy(raw_fraction=0.1).to_dict(),
                stats_path=f"{d}/stats.jsonl",
            )
            stream, store = open_stream(cfg.edge_stream), open_store(cfg.edge_objects)
            stream.create_topic(cfg.topic, partitions=2)
            rep = Replicator(cfg)
            stop = Path(d) / "stop"
            t = threading.Thread(target=rep.run, kwargs={"stop": stop}, daemon=True)
            t.start()
            sim = MicroscopeSimulator(PlateSetSpec(plates=1, size=size, sites_per_well=2, seed=5))
            keys = list(sim.sites())[:fields]
            for key in keys:
                pixels, _ = sim.render(key)
                edge_site_event(
                    SiteImage(key, pixels),
                    project="p",
                    store=store,
                    stream=stream,
                    topic=cfg.topic,
                    policy=EdgePolicy(raw_fraction=0.1),
                )
                stream.flush()
                time.sleep(every_s)
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:
                done = stream.committed_offsets(cfg.group, cfg.topic, [0, 1])
                if sum(v or 0 for v in done.values()) >= len(keys):
                    break
                time.sleep(0.2)
            stop.touch()
            t.join(timeout=60)
            rows = [json.loads(x) for x in Path(cfg.stats_path).read_text().splitlines()]
            lags = sorted(r["lag_max_s"] for r in rows if r.get("records"))[1:]  # the first waits on start-up
            return {
                "fields": len(keys),
                "every_s": every_s,
                "batches": len(lags),
                "lag_median_s": round(statistics.median(lags), 2),
                "lag_max_s": round(lags[-1], 2),
            }
    finally:
        os.environ.clear()
        os.environ.update(old)
        stop_process(proc)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--size", type=int, default=1080)
    ap.add_argument("--fields", type=int, default=4)
    ap.add_argument("--raw-fraction", type=float, default=0.1)
    a = ap.parse_args()
    print(
        json.dumps(
            {
                "placement": placement_rate(),
                "edge": edge_reduction(a.size, a.fields, a.raw_fraction),
                "replication": replication_lag(),
            }
        )
    )


if __name__ == "__main__":
    main()
