"""Placement over thousands of generated tasks and sites: residency is never broken, GPU work lands on
a GPU class whenever one is allowed anywhere, the data-local site wins whenever it has a fitting
class, and a refusal happens only when a brute-force search also finds nothing."""

from __future__ import annotations

import random
import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from labstream.catalog.records import LineageRecord
from labstream.core.errors import ConfigError
from labstream.core.resources import ResourceRequest
from labstream.ops.pricebook import load_price_book
from labstream.sites import (
    ComputeClass,
    PlacementRefused,
    Site,
    TaskNeeds,
    class_hour_cost,
    place,
    record_placement,
    sites_from_mapping,
)

BOOK = load_price_book("labstream-2026-12")
REGIONS = sorted(BOOK.regions)
GPU_TYPES = ["A10G", "H100", "L4"]


def _class(rng: random.Random, i: int, region: str) -> ComputeClass:
    gpu = {rng.choice(GPU_TYPES): rng.choice([1, 2, 4, 8])} if rng.random() < 0.4 else {}
    accel = {"TPU": 4} if region == "local" and rng.random() < 0.3 else {}  # only "local" prices TPUs
    return ComputeClass(
        f"c{i}", float(rng.choice([2, 4, 16, 64])), rng.choice([4096, 16384, 262144]), gpu, accel
    )


def _sites(rng: random.Random, prefix: str = "s") -> list[Site]:
    n = rng.randint(1, 5)
    regions = [rng.choice(REGIONS) for _ in range(n)]
    return [
        Site(f"{prefix}{j}", r, "J", tuple(_class(rng, k, r) for k in range(rng.randint(1, 4))))
        for j, r in enumerate(regions)
    ]


def _task(rng: random.Random, sites: list[Site], i: int) -> TaskNeeds:
    gpu = float(rng.choice([0, 0, 1, 2, 16]))
    return TaskNeeds(
        name=f"t{i}",
        allowed_regions=frozenset(rng.sample(REGIONS, rng.randint(1, len(REGIONS)))),
        request=ResourceRequest(
            cpu=float(rng.choice([1, 2, 8, 32, 128])),
            gpu=gpu,
            memory_mb=rng.choice([0, 2048, 65536]),
            custom={"TPU": 1} if rng.random() < 0.05 else {},
        ),
        gpu_type=rng.choice([None, None, *GPU_TYPES]) if gpu else None,
        data_site=rng.choice([None, *[s.name for s in sites]]),
        input_bytes=rng.choice([0, 10**9, 10**11]),
        hours=rng.choice([0.1, 1.0, 5.0]),
    )


def _check(task: TaskNeeds, sites: list[Site]) -> str:
    """Place one task and check it against a brute-force oracle; returns the outcome."""
    allowed = [s for s in sites if s.region in task.allowed_regions]
    fits = [(s, c) for s in allowed for c in s.classes if c.fits(task.request, task.gpu_type)]
    try:
        p = place(task, sites, BOOK)
    except PlacementRefused as err:
        assert not fits, f"refused ({err.rule}) though {[(s.name, c.name) for s, c in fits]} fit"
        assert err.rule == ("residency" if not allowed else "resources")
        assert err.task in str(err) and err.hint in str(err)
        return "refused"
    site = next(s for s in sites if s.name == p.site)
    cls = site.compute_class(p.compute_class)
    assert site.region in task.allowed_regions, "residency violated"
    assert cls.fits(task.request, task.gpu_type)
    if task.request.gpu > 0:
        assert cls.has_gpu and (task.gpu_type is None or cls.gpu.get(task.gpu_type, 0) >= task.request.gpu)
    local = [c for s, c in fits if s.name == task.data_site]
    if local:
        assert p.site == task.data_site, "a fitting data-local site was passed over"
    else:  # cheapest among the candidates the rule allows
        pool = [(s, c) for s, c in fits if task.request.gpu > 0 or not c.has_gpu] or fits
        best = min(
            class_hour_cost(BOOK, s, c, task.request, task.gpu_type) * task.hours
            + (
                task.input_bytes
                / 1e9
                * BOOK.egress_gb(next(x for x in sites if x.name == task.data_site).region)
                if task.data_site and task.data_site != s.name
                else 0.0
            )
            for s, c in pool
        )
        assert p.cost == pytest.approx(best)
    assert p.site in p.reason or task.data_site is None or p.region in p.reason
    return "gpu" if task.request.gpu > 0 else "cpu"


def test_thousands_of_generated_tasks_keep_every_rule() -> None:
    outcomes: dict[str, int] = {}
    for seed in range(40):
        rng = random.Random(seed)
        sites = _sites(rng)
        for i in range(150):
            out = _check(_task(rng, sites, i), sites)
            outcomes[out] = outcomes.get(out, 0) + 1
    assert sum(outcomes.values()) == 6000
    # the generator exercises every branch, not only the easy one
    assert min(outcomes.get(k, 0) for k in ("gpu", "cpu", "refused")) > 300, outcomes


@settings(max_examples=60, deadline=None)
@given(seed=st.integers(min_value=0, max_value=2**32 - 1), n=st.integers(min_value=1, max_value=30))
def test_placement_property(seed: int, n: int) -> None:
    rng = random.Random(seed)
    sites = _sites(rng)
    for i in range(n):
        _check(_task(rng, sites, i), sites)


SITES = {
    "sites": {
        "edge-eu": {
            "region": "eu-west-1",
            "jurisdiction": "EU",
            "role": "edge",
            "executor": "dask://edge",
            "classes": {
                "gpu": {"cpu": 16, "memory_mb": 65536, "gpu": {"A10G": 1}},
                "cpu": {"cpu": 8, "memory_mb": 32768},
            },
        },
        "cloud-us": {
            "region": "us-east-1",
            "jurisdiction": "US",
            "classes": {
                "h100": {"cpu": 32, "memory_mb": 262144, "gpu": {"H100": 8}},
                "std": {"cpu": 64, "memory_mb": 262144},
            },
        },
    }
}


def test_refusal_names_the_rule_and_what_to_do_and_lineage_records_why() -> None:
    sites = sites_from_mapping(SITES, BOOK)
    eu_only = frozenset({"eu-west-1"})
    with pytest.raises(PlacementRefused) as err:
        place(TaskNeeds("call-variants", frozenset({"local"}), ResourceRequest()), sites, BOOK)
    assert err.value.rule == "residency" and "declare a site in one of those regions" in str(err.value)
    with pytest.raises(PlacementRefused) as err:
        place(TaskNeeds("train", eu_only, ResourceRequest(gpu=1), gpu_type="H100"), sites, BOOK)
    assert err.value.rule == "resources" and "H100" in str(err.value)  # the H100s are in the US
    p = place(TaskNeeds("segment", eu_only, ResourceRequest(cpu=4, gpu=1), data_site="edge-eu"), sites, BOOK)
    assert (p.site, p.compute_class) == ("edge-eu", "gpu")
    rec = record_placement(LineageRecord(stage="segment", request={"cpu": 4, "gpu": 1}), p)
    assert rec.request["placement"]["site"] == "edge-eu" and rec.request["placement"]["class"] == "gpu"
    assert "data-local at edge-eu" in rec.request["placement"]["reason"] and rec.executor == "dask://edge"
    assert rec.request["cpu"] == 4  # the request itself is kept for cost attribution
    cpu = place(TaskNeeds("report", frozenset(REGIONS), ResourceRequest(cpu=2)), sites, BOOK)
    assert cpu.compute_class in ("cpu", "std")  # a CPU task does not take a GPU node


def test_a_site_the_price_book_cannot_price_is_refused_at_load() -> None:
    bad = {"sites": {"x": {"region": "mars-1", "classes": {"c": {"cpu": 1}}}}}
    with pytest.raises(ConfigError, match="mars-1"):
        sites_from_mapping(bad, BOOK)
    tpu = {"sites": {"x": {"region": "eu-west-1", "classes": {"c": {"cpu": 1, "accelerators": {"TPU": 1}}}}}}
    with pytest.raises(ConfigError, match="TPU"):  # an unpriced accelerator would be placed as free
        sites_from_mapping(tpu, BOOK)
    twins = _sites(random.Random(3)) * 2
    with pytest.raises(ConfigError, match="share a name"):
        place(TaskNeeds("t", frozenset(REGIONS)), twins, BOOK)


def test_placement_rate() -> None:
    rng = random.Random(7)
    sites = _sites(random.Random(3), "a") + _sites(random.Random(4), "b")
    tasks = [_task(rng, sites, i) for i in range(3000)]
    t0 = time.perf_counter()
    for t in tasks:
        try:
            place(t, sites, BOOK)
        except PlacementRefused:
            pass
    rate = len(tasks) / (time.perf_counter() - t0)
    print(f"placement: {rate:.0f} decisions/s over {sum(len(s.classes) for s in sites)} classes")
    assert rate > 1000
