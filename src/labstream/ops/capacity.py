"""The capacity model: how many nodes, GPUs, broker partitions and bytes per storage tier a weekly
workload needs, and what a week of it costs, from rates measured by the benchmarks of this repository.

Pure arithmetic, no I/O (capacity_inputs.py reads the workload TOML and the benchmark JSON). Every
number in a plan is either a measured rate (named with the benchmark that measured it), a figure of
the workload, or an assumption listed in `CapacityPlan.assumptions` — a platform engineer reads the
assumptions first and changes the ones that do not hold for the lab.

    plan = plan_capacity(workload, rates, book, policy, region="us-east-1")
    plan.rows          # (section, quantity, value, unit)
    plan.assumptions   # what the numbers rest on, one sentence each
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field

from labstream.ops.lifecycle import EXPIRE, Policy, target
from labstream.ops.pricebook import PriceBook

__all__ = [
    "CapacityPlan",
    "GenomicsLoad",
    "MeasuredRates",
    "NodeShape",
    "PhenomicsLoad",
    "Workload",
    "plan_capacity",
]

HOURS_PER_WEEK = 168.0
WEEKS_PER_MONTH = 30.0 / 7.0  # the price book's GB-month is 30 days
TB = 1e12
GB = 1e9


@dataclass(frozen=True, kw_only=True)
class _StoredUnder:
    """Where a workload's objects land in the store: the lifecycle policy's rules match these."""

    raw_prefix: str = "raw/"
    derived_prefix: str = "derived/"


@dataclass(frozen=True, kw_only=True)
class PhenomicsLoad(_StoredUnder):
    """A week of Cell Painting: wells imaged, sites per well, pixels per side, channels."""

    wells_per_week: float
    sites_per_well: int = 4
    site_px: int = 1080  # pixels per side of a square site
    channels: int = 5
    bit_depth: int = 16  # bits per raw pixel as the instrument writes it
    cells_per_site: float = 150.0  # sets the feature bytes per site
    site_cpu_factor: float = 1.0  # CPU per site at this density / at the benchmark's density


@dataclass(frozen=True, kw_only=True)
class GenomicsLoad(_StoredUnder):
    """A week of short-read genomes: how many, at what depth over which genome size."""

    genomes_per_week: float
    coverage: float = 30.0  # mean depth, x
    genome_mb: float = 3100.0  # reference length, Mb
    read_length: int = 150  # bases per mate
    reference_cpu_factor: float = 1.0  # per-base CPU on this reference / on the benchmark's reference
    fastq_gz_bytes_per_base: float = 0.35
    cram_bytes_per_base: float = 0.17  # lossless CRAM
    delivered_gb_per_genome: float = 0.2  # VCF, report and what is downloaded, served as egress


@dataclass(frozen=True)
class NodeShape:
    """The machines the plan counts in, and how hard they may be driven."""

    vcpus: int = 16
    ram_gb: float = 64.0
    utilisation: float = 0.7  # the share of a node's cores the plan may fill on average
    active_hours_per_week: float = HOURS_PER_WEEK  # instruments that image only by day burst more
    compute_class: str = "standard"
    gpu_type: str = "default"


@dataclass(frozen=True)
class Workload:
    name: str
    phenomics: PhenomicsLoad | None = None
    genomics: GenomicsLoad | None = None
    nodes: NodeShape = NodeShape()
    retention_weeks: int = 52  # storage is planned for the steady state after this many weeks
    use_gpu: bool = False


@dataclass(frozen=True)
class MeasuredRates:
    """Rates from benchmark runs, each with where it came from (`sources`)."""

    phenomics_cpu_s_per_site: float
    phenomics_site_px: int
    phenomics_cells_per_site: float
    phenomics_features_per_cell: int
    phenomics_peak_rss_mb: float
    genomics_align_cpu_s_per_gbase: float
    genomics_call_cpu_s_per_gbase: float
    genomics_peak_rss_mb: float
    stream_partition_eps: float
    phenomics_gpu_sites_per_s: float | None = None  # per GPU; None when no GPU run is on record
    sources: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class CapacityPlan:
    workload: str
    rows: list[tuple[str, str, float, str]]
    assumptions: list[str]

    def value(self, section: str, quantity: str) -> float:
        for s, q, v, _ in self.rows:
            if (s, q) == (section, quantity):
                return v
        raise KeyError(f"{section}/{quantity}")

    def to_dicts(self) -> list[dict[str, object]]:
        return [{"section": s, "quantity": q, "value": v, "unit": u} for s, q, v, u in self.rows]


def _tier_bytes(
    weekly_bytes: float, prefix: str, size: float, policy: Policy, weeks: int
) -> dict[str, float]:
    """Bytes per tier in week `weeks` when `weekly_bytes` of objects of `size` bytes under `prefix`
    arrive every week: each week's batch sits in the tier the first matching rule gives its mid-week
    age (objects no rule matches stay hot)."""
    rule = next((r for r in policy.rules if r.matches(prefix, int(size), {})), None)
    out: dict[str, float] = {}
    for week in range(weeks):
        tier = (target(rule, week * 7 + 3.5) if rule else None) or "hot"
        if tier == EXPIRE:
            continue
        out[tier] = out.get(tier, 0.0) + weekly_bytes
    return out


def _add(into: dict[str, float], more: Mapping[str, float]) -> None:
    for k, v in more.items():
        into[k] = into.get(k, 0.0) + v


def plan_capacity(
    workload: Workload, rates: MeasuredRates, book: PriceBook, policy: Policy, *, region: str
) -> CapacityPlan:
    rows: list[tuple[str, str, float, str]] = []
    notes = [f"{k}: {v}" for k, v in sorted(rates.sources.items())]
    shape = workload.nodes
    cpu_h = 0.0
    gpu_h = 0.0
    events = 0.0
    worker_rss_mb = 0.0
    tiers: dict[str, float] = {}
    egress_gb = 0.0

    if ph := workload.phenomics:
        sites = ph.wells_per_week * ph.sites_per_well
        raw_site = ph.site_px**2 * ph.channels * ph.bit_depth / 8
        scale = (ph.site_px / rates.phenomics_site_px) ** 2
        site_cpu = rates.phenomics_cpu_s_per_site * scale * ph.site_cpu_factor
        feature_site = ph.cells_per_site * rates.phenomics_features_per_cell * 4  # float32 columns
        rows += [
            ("phenomics", "sites per week", sites, "sites"),
            ("phenomics", "raw images per week", sites * raw_site / TB, "TB"),
            ("phenomics", "features per week", sites * feature_site / TB, "TB"),
        ]
        if workload.use_gpu and rates.phenomics_gpu_sites_per_s:
            gpu_h += sites / (rates.phenomics_gpu_sites_per_s / scale) / 3600
            notes.append("image stages on GPUs at the recorded GPU rate, scaled by pixel count")
        else:
            cpu_h += sites * site_cpu / 3600
            if workload.use_gpu:
                notes.append("GPUs asked for, but no GPU benchmark is on record: images planned on CPUs")
        rows.append(("phenomics", "CPU-hours per week", sites * site_cpu / 3600, "h"))
        events += sites * (ph.channels + 2)  # one event per channel file, the site's row, its QC
        worker_rss_mb = max(worker_rss_mb, rates.phenomics_peak_rss_mb * scale)
        _add(
            tiers,
            _tier_bytes(
                sites * raw_site, ph.raw_prefix, raw_site / ph.channels, policy, workload.retention_weeks
            ),
        )
        plate_features = feature_site * 384 * ph.sites_per_well  # one table file per 384-well plate
        _add(
            tiers,
            _tier_bytes(
                sites * feature_site, ph.derived_prefix, plate_features, policy, workload.retention_weeks
            ),
        )
        notes += [
            f"image CPU per site scales with pixel count from the benchmark's {rates.phenomics_site_px}² "
            f"sites ({rates.phenomics_cpu_s_per_site * 1000:.0f} ms); the benchmark's sites hold "
            f"{rates.phenomics_cells_per_site:.0f} cells; x {ph.site_cpu_factor:g} for this workload's "
            f"{ph.cells_per_site:.0f} cells per site (a workload assumption)",
            f"features stored as float32, {rates.phenomics_features_per_cell} per cell, "
            f"{ph.cells_per_site:.0f} cells per site, uncompressed (Parquet usually saves a third)",
            "one stream event per channel file plus two per site (row and QC)",
        ]

    if gx := workload.genomics:
        gbases = gx.genome_mb * 1e6 * gx.coverage / 1e9
        per_genome_cpu_s = (
            gbases
            * gx.reference_cpu_factor
            * (rates.genomics_align_cpu_s_per_gbase + rates.genomics_call_cpu_s_per_gbase)
        )
        g_cpu_h = gx.genomes_per_week * per_genome_cpu_s / 3600
        cpu_h += g_cpu_h
        raw_genome = gbases * 1e9 * gx.fastq_gz_bytes_per_base
        cram_genome = gbases * 1e9 * gx.cram_bytes_per_base
        rows += [
            ("genomics", "genomes per week", gx.genomes_per_week, "genomes"),
            ("genomics", "CPU-hours per genome", per_genome_cpu_s / 3600, "h"),
            ("genomics", "CPU-hours per week", g_cpu_h, "h"),
            ("genomics", "FASTQ per week", gx.genomes_per_week * raw_genome / TB, "TB"),
        ]
        chunks = gbases * 1e9 / (gx.read_length * 2) / 1e6  # one chunk file per million pairs
        events += gx.genomes_per_week * (chunks * 2 + 10)
        worker_rss_mb = max(worker_rss_mb, rates.genomics_peak_rss_mb)
        _add(
            tiers,
            _tier_bytes(
                gx.genomes_per_week * raw_genome,
                gx.raw_prefix,
                raw_genome / 2,
                policy,
                workload.retention_weeks,
            ),
        )
        _add(
            tiers,
            _tier_bytes(
                gx.genomes_per_week * cram_genome,
                gx.derived_prefix,
                cram_genome,
                policy,
                workload.retention_weeks,
            ),
        )
        egress_gb += gx.genomes_per_week * gx.delivered_gb_per_genome
        notes += [
            f"genome CPU = bases x measured CPU per base (align+markdup, call) x reference factor "
            f"{gx.reference_cpu_factor:g} (per-base cost on this reference vs the benchmark's; a "
            f"workload assumption, not measured here)",
            f"FASTQ.gz {gx.fastq_gz_bytes_per_base} and CRAM {gx.cram_bytes_per_base} bytes per base; "
            "one chunk file per million read pairs and mate",
        ]

    hours = shape.active_hours_per_week
    cores = cpu_h / hours / shape.utilisation
    nodes_cpu = math.ceil(cores / shape.vcpus) if cpu_h else 0
    workers = math.ceil(cores)
    per_node_rss_gb = min(workers, shape.vcpus) * worker_rss_mb / 1024
    nodes_mem = math.ceil(workers * worker_rss_mb / 1024 / (shape.ram_gb * 0.8)) if workers else 0
    nodes = max(nodes_cpu, nodes_mem)
    gpus = math.ceil(gpu_h / hours / shape.utilisation) if gpu_h else 0
    peak_eps = events / (hours * 3600)
    partitions = max(math.ceil(peak_eps / (rates.stream_partition_eps * shape.utilisation)), nodes, 1)
    rows += [
        ("compute", "CPU-hours per week", cpu_h, "h"),
        ("compute", "cores busy (at utilisation)", cores, "cores"),
        ("compute", "nodes", nodes, f"x {shape.vcpus} vCPU / {shape.ram_gb:g} GB"),
        ("compute", "worker memory per node", per_node_rss_gb, "GB"),
        ("compute", "GPUs", gpus, shape.gpu_type),
        ("stream", "events per second (active hours)", peak_eps, "events/s"),
        ("stream", "broker partitions", partitions, "partitions"),
    ]
    for tier in ("hot", "cool", "archive", "deep_archive"):
        rows.append(
            ("storage", f"{tier} after {workload.retention_weeks} weeks", tiers.get(tier, 0.0) / TB, "TB")
        )

    rates_c = book.compute(region, shape.compute_class)
    compute_usd = (
        nodes * HOURS_PER_WEEK * (shape.vcpus * rates_c.vcpu_hour + shape.ram_gb * rates_c.gb_ram_hour)
    )
    gpu_usd = gpus * HOURS_PER_WEEK * rates_c.gpu(shape.gpu_type)
    storage_usd = sum(b / GB * book.storage_gb_month(region, t) / WEEKS_PER_MONTH for t, b in tiers.items())
    egress_usd = egress_gb * book.egress_gb(region)
    rows += [
        ("dollars per week", "compute nodes", compute_usd, book.currency),
        ("dollars per week", "GPUs", gpu_usd, book.currency),
        ("dollars per week", f"storage in week {workload.retention_weeks}", storage_usd, book.currency),
        ("dollars per week", "egress", egress_usd, book.currency),
        ("dollars per week", "total", compute_usd + gpu_usd + storage_usd + egress_usd, book.currency),
    ]
    notes += [
        f"nodes run all week; cores filled to {shape.utilisation:.0%} over {hours:g} active hours a week",
        "a node's workers need the benchmarks' peak memory each; nodes are added when memory, not "
        "cores, runs out (80% of a node's RAM usable)",
        f"broker partitions: the larger of event rate / ({rates.stream_partition_eps:,.0f} events/s per "
        "partition at utilisation) and one per node, so the runner on every node consumes (it feeds its "
        "node's worker pool)",
        f"storage per tier: weekly arrivals aged under the lifecycle policy's first matching rule, "
        f"in week {workload.retention_weeks}; expired data is gone",
        f"prices: price book {book.name} version {book.version}, region {region}, class "
        f"{shape.compute_class}; a broker, catalog and API are not priced (small beside the workers)",
    ]
    return CapacityPlan(workload=workload.name, rows=rows, assumptions=notes)
