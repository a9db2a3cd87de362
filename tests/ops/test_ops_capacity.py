"""The capacity model: figures checked against a hand computation, rates against the benchmark JSON
they come from, and every input mistake named in one line."""

from __future__ import annotations

import dataclasses
import json
import math
from pathlib import Path

import pytest

from labstream.core.errors import ConfigError
from labstream.ops.capacity import (
    GenomicsLoad,
    MeasuredRates,
    NodeShape,
    PhenomicsLoad,
    Workload,
    plan_capacity,
)
from labstream.ops.capacity_inputs import load_measured, load_workload, rates_from_bench, shipped_workloads
from labstream.ops.lifecycle import load_policy
from labstream.ops.pricebook import load_price_book

DATA = Path(__file__).parent / "data"
BENCH = [DATA / "bench-phenomics-1080.json", DATA / "bench-genomics.json", DATA / "bench-stream.json"]
RATES = MeasuredRates(
    phenomics_cpu_s_per_site=0.5,
    phenomics_site_px=1000,
    phenomics_cells_per_site=10,
    phenomics_features_per_cell=100,
    phenomics_peak_rss_mb=512,
    genomics_align_cpu_s_per_gbase=100,
    genomics_call_cpu_s_per_gbase=50,
    genomics_peak_rss_mb=256,
    stream_partition_eps=1000,
)
POLICY = load_policy(
    {"rule": [{"name": "raw", "prefix": "raw/", "transitions": [{"days": 7, "tier": "cool"}]}]}
)


def test_shipped_rates_are_what_the_benchmark_json_says() -> None:
    shipped = dataclasses.asdict(load_measured())
    derived = dataclasses.asdict(rates_from_bench(BENCH))
    shipped.pop("sources"), derived.pop("sources")
    assert shipped == pytest.approx(derived)
    # the raw numbers behind one rate, read independently of the parser
    ph = json.loads(BENCH[0].read_text())["labstream"]
    assert shipped["phenomics_cpu_s_per_site"] == pytest.approx(ph["site_cpu_seconds"] / ph["sites"])


def test_a_bench_file_replaces_only_its_own_rates() -> None:
    base = dataclasses.replace(RATES, sources={"phenomics": "x", "genomics": "y", "stream": "z"})
    mixed = rates_from_bench([BENCH[2]], base)
    assert mixed.stream_partition_eps != RATES.stream_partition_eps
    assert mixed.phenomics_cpu_s_per_site == RATES.phenomics_cpu_s_per_site
    assert mixed.sources["stream"].endswith("bench-stream.json") and mixed.sources["phenomics"] == "x"


def test_phenomics_plan_equals_a_hand_computation() -> None:
    book = load_price_book()
    w = Workload(
        name="hand",
        phenomics=PhenomicsLoad(
            wells_per_week=100_800, sites_per_well=1, site_px=2000, channels=4, cells_per_site=20
        ),
        nodes=NodeShape(vcpus=8, ram_gb=32, utilisation=0.5),
        retention_weeks=3,
    )
    plan = plan_capacity(w, RATES, book, POLICY, region="local")
    site_cpu = 0.5 * 4  # 2000² has four times the pixels of the benchmark's 1000²
    cpu_h = 100_800 * site_cpu / 3600  # 56 h
    assert plan.value("compute", "CPU-hours per week") == pytest.approx(cpu_h)
    cores = cpu_h / 168 / 0.5  # 0.667
    assert plan.value("compute", "nodes") == 1 == math.ceil(cores / 8)
    raw_week = 100_800 * 2000**2 * 4 * 2  # 16-bit
    assert plan.value("phenomics", "raw images per week") == pytest.approx(raw_week / 1e12)
    # weeks aged 3.5 (hot), 10.5 and 17.5 days (cool, rule at 7 days); features are not under raw/
    feature_week = 100_800 * 20 * 100 * 4
    assert plan.value("storage", "hot after 3 weeks") == pytest.approx((raw_week + 3 * feature_week) / 1e12)
    assert plan.value("storage", "cool after 3 weeks") == pytest.approx(2 * raw_week / 1e12)
    rates = book.compute("local", "standard")
    assert plan.value("dollars per week", "compute nodes") == pytest.approx(
        168 * (8 * rates.vcpu_hour + 32 * rates.gb_ram_hour)
    )
    hot, cool = book.storage_gb_month("local", "hot"), book.storage_gb_month("local", "cool")
    storage = ((raw_week + 3 * feature_week) * hot + 2 * raw_week * cool) / 1e9 / (30 / 7)
    assert plan.value("dollars per week", "storage in week 3") == pytest.approx(storage)
    events = 100_800 * (4 + 2) / (168 * 3600)
    assert plan.value("stream", "events per second (active hours)") == pytest.approx(events)
    assert plan.value("stream", "broker partitions") == 1


def test_genomics_scales_linearly_and_memory_can_add_nodes() -> None:
    book = load_price_book()
    one = Workload(
        name="g",
        genomics=GenomicsLoad(genomes_per_week=100, coverage=30, genome_mb=3000),
        nodes=NodeShape(vcpus=16, ram_gb=64),
    )
    two = dataclasses.replace(one, genomics=dataclasses.replace(one.genomics, genomes_per_week=200))
    p1, p2 = (plan_capacity(w, RATES, book, POLICY, region="local") for w in (one, two))
    per_genome = 90 * 150 / 3600  # 90 Gbases x 150 CPU-s per Gbase
    assert p1.value("genomics", "CPU-hours per genome") == pytest.approx(per_genome)
    assert p2.value("compute", "CPU-hours per week") == pytest.approx(
        2 * p1.value("compute", "CPU-hours per week")
    )
    assert p2.value("compute", "nodes") >= p1.value("compute", "nodes")
    hungry = dataclasses.replace(RATES, genomics_peak_rss_mb=16 * 1024)  # 16 GB a worker
    p3 = plan_capacity(one, hungry, book, POLICY, region="local")
    assert p3.value("compute", "nodes") > p1.value("compute", "nodes")
    assert p3.value("stream", "broker partitions") >= p3.value("compute", "nodes")


def test_gpu_asked_without_a_gpu_benchmark_is_said_not_hidden() -> None:
    w = Workload(name="g", phenomics=PhenomicsLoad(wells_per_week=1000), use_gpu=True)
    plan = plan_capacity(w, RATES, load_price_book(), POLICY, region="local")
    assert plan.value("compute", "GPUs") == 0
    assert any("no GPU benchmark" in a for a in plan.assumptions)
    gpu_rates = dataclasses.replace(RATES, phenomics_gpu_sites_per_s=0.001)
    assert (
        plan_capacity(w, gpu_rates, load_price_book(), POLICY, region="local").value("compute", "GPUs") >= 1
    )


def test_shipped_workloads_load() -> None:
    assert {"cell-painting-2m-wells", "clinical-500-genomes"} <= set(shipped_workloads())
    assert load_workload("clinical-500-genomes").genomics.genomes_per_week == 500


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("name='x'\n[genomics]\ngenomes_per_wek=3\n", "unknown setting 'genomes_per_wek'"),
        ("name='x'\n[genomics]\ngenomes_per_week=-3\n", "must not be negative"),
        ("name='x'\n[genomics]\ngenomes_per_week='many'\n", "must be a number"),
        ("name='x'\n", "no [phenomics] or [genomics]"),
        ("name='x'\n[genomics\n", "not valid TOML"),
        ("name='x'\n[genomics]\ncoverage=30\n", "genomes_per_week"),
    ],
)
def test_workload_mistakes_are_named(tmp_path: Path, text: str, says: str) -> None:
    path = tmp_path / "w.toml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=None) as err:
        load_workload(path)
    assert says in str(err.value)


def test_a_file_that_is_no_benchmark_output_is_refused(tmp_path: Path) -> None:
    (tmp_path / "x.json").write_text('{"hello": 1}')
    with pytest.raises(ConfigError, match="not the output of bench"):
        rates_from_bench([tmp_path / "x.json"], RATES)
    (tmp_path / "y.json").write_text('{"images": {}}')
    with pytest.raises(ConfigError, match="lacks"):
        rates_from_bench([tmp_path / "y.json"], RATES)
    with pytest.raises(ConfigError, match="no measured rate"):
        rates_from_bench([BENCH[2]])
