"""Placement: choose a site and a compute class for a task, and say why.

Rules, in order (the first two are hard: breaking them is a refusal, never a fallback):
1. residency — only sites whose region is one the task's project may use;
2. resources — only classes that fit the request (cpu, memory, GPU count and type, accelerators);
3. locality — the site holding the task's input data wins whenever it has a fitting class (moving
   the data costs egress and time, and an edge's raw images should not travel at all);
4. cost — otherwise the cheapest by the price book (an hour of the request plus the egress of moving
   the inputs out of the data's region); a task that asks for no GPU goes to a class without one when
   such a class fits, so GPUs stay free for GPU work. Ties break by site then class name.

The result carries (site, class, reason); `record_placement` writes it into the task's lineage.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from labstream.catalog.records import LineageRecord
from labstream.core.errors import ConfigError
from labstream.core.resources import ResourceRequest
from labstream.ops.pricebook import PriceBook
from labstream.sites.errors import PlacementRefused
from labstream.sites.model import ComputeClass, Site, class_hour_cost

__all__ = ["Placement", "TaskNeeds", "place", "record_placement"]


@dataclass(frozen=True)
class TaskNeeds:
    """What placement must know of a task: its project's allowed regions, where its inputs are, what it
    asks of the compute (and which GPU type, when it cares), and how long and how much data."""

    name: str
    allowed_regions: frozenset[str]
    request: ResourceRequest = field(default_factory=ResourceRequest)
    gpu_type: str | None = None
    data_site: str | None = None
    input_bytes: int = 0
    hours: float = 1.0


@dataclass(frozen=True)
class Placement:
    task: str
    site: str
    compute_class: str
    region: str
    executor: str
    cost: float  # estimated, in the price book's currency
    reason: str

    def as_lineage(self) -> dict[str, object]:
        return {
            "site": self.site,
            "class": self.compute_class,
            "region": self.region,
            "cost": round(self.cost, 6),
            "reason": self.reason,
        }


def _estimate(book: PriceBook, sites: dict[str, Site], t: TaskNeeds, site: Site, cls: ComputeClass) -> float:
    cost = class_hour_cost(book, site, cls, t.request, t.gpu_type) * t.hours
    if t.data_site and t.data_site != site.name and t.data_site in sites:
        cost += t.input_bytes / 1e9 * book.egress_gb(sites[t.data_site].region)
    return cost


def _describe(req: ResourceRequest, gpu_type: str | None) -> str:
    parts = [f"cpu={req.cpu:g}", f"memory_mb={req.memory_mb}"]
    if req.gpu:
        parts.append(f"gpu={req.gpu:g}" + (f" ({gpu_type})" if gpu_type else ""))
    parts += [f"{k}={v:g}" for k, v in sorted(req.custom.items())]
    return ", ".join(parts)


def place(task: TaskNeeds, sites: Sequence[Site], book: PriceBook) -> Placement:
    """The site and class for `task` (see the module docstring); PlacementRefused names the rule."""
    by_name = {s.name: s for s in sites}
    if len(by_name) != len(sites):
        raise ConfigError(
            f"two sites share a name ({', '.join(s.name for s in sites)}); give every site its own name"
        )
    resident = [s for s in sites if s.region in task.allowed_regions]
    if not resident:
        raise PlacementRefused(
            task.name,
            "residency",
            f"its project may use only regions {sorted(task.allowed_regions)} and no site is in them "
            f"(sites: {', '.join(f'{s.name}={s.region}' for s in sites)})",
            "declare a site in one of those regions, or widen the project's allowed regions "
            "(`labstream admin project`) if its data may legally go there",
        )
    fitting = [(s, c) for s in resident for c in s.classes if c.fits(task.request, task.gpu_type)]
    if not fitting:
        raise PlacementRefused(
            task.name,
            "resources",
            f"no class of the sites in its regions ({', '.join(s.name for s in resident)}) fits "
            f"{_describe(task.request, task.gpu_type)}",
            "add a compute class that fits to one of those sites, or ask for less",
        )
    local = [(s, c) for s, c in fitting if s.name == task.data_site]
    pool, why_site = (local, f"data-local at {task.data_site}") if local else (fitting, "")
    if task.request.gpu <= 0 and any(not c.has_gpu for _, c in pool):
        pool = [(s, c) for s, c in pool if not c.has_gpu]
    costs = {(s.name, c.name): _estimate(book, by_name, task, s, c) for s, c in pool}
    site, cls = min(pool, key=lambda sc: (costs[sc[0].name, sc[1].name], sc[0].name, sc[1].name))
    cost = costs[site.name, cls.name]
    if not why_site:
        where = f"inputs at {task.data_site} but no fitting class there; " if task.data_site else ""
        why_site = f"{where}cheapest of {len(pool)} fitting (site, class) pairs"
    reason = (
        f"residency: {site.region} in {sorted(task.allowed_regions)}; resources: "
        f"{_describe(task.request, task.gpu_type)} fit {cls.name}; {why_site}; "
        f"cost {cost:.4f} {book.currency}"
    )
    return Placement(task.name, site.name, cls.name, site.region, site.executor, cost, reason)


def record_placement(record: LineageRecord, placement: Placement) -> LineageRecord:
    """Write (site, class, region, cost, reason) into the task's lineage record.

    Kept under `request["placement"]` (the request column is JSON, so no catalog migration is needed;
    cost attribution reads only the request's cpu/memory_mb/gpu/custom keys), and the record's executor
    becomes the site's executor URL."""
    record.request = {**(record.request or {}), "placement": placement.as_lineage()}
    record.executor = placement.executor
    return record
