"""Sites: where work can run. A site has a region (its jurisdiction), compute classes, its own stream,
object store, lake and executor, and prices its classes from the operating layer's price book.

Declared in one TOML file, one table per site:

    [sites.edge-lab]
    region = "eu-west-1"          # a region of the price book: residency and prices both use it
    jurisdiction = "EU"
    role = "edge"                 # edge | cloud | hpc (informative)
    stream = "sqlite:///var/edge/stream.db"
    objects = "file:///var/edge/objects"
    lake = "file:///var/edge/lake"
    executor = "dask://127.0.0.1:8786"

    [sites.edge-lab.classes.gpu-a10g]
    price_class = "standard"      # the price book's compute class (default: "standard")
    cpu = 16
    memory_mb = 65536
    gpu = { A10G = 1 }            # GPU type -> count per node
    accelerators = { }            # other accelerators (TPU, ...) -> count
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from labstream.core.errors import ConfigError
from labstream.core.resources import ResourceRequest
from labstream.ops.pricebook import PriceBook

__all__ = ["ComputeClass", "Site", "class_hour_cost", "load_sites", "sites_from_mapping"]


@dataclass(frozen=True)
class ComputeClass:
    """One kind of node a site offers: its size per task slot and its accelerators."""

    name: str
    cpu: float
    memory_mb: int
    gpu: Mapping[str, int] = field(default_factory=dict)
    accelerators: Mapping[str, int] = field(default_factory=dict)
    price_class: str = "standard"

    @property
    def has_gpu(self) -> bool:
        return any(n > 0 for n in self.gpu.values())

    def fits(self, req: ResourceRequest, gpu_type: str | None = None) -> bool:
        """True when one node of this class can run `req` (a GPU type, when named, must match)."""
        if req.cpu > self.cpu or req.memory_mb > self.memory_mb:
            return False
        if req.gpu > 0:
            counts = [n for t, n in self.gpu.items() if gpu_type in (None, t)]
            if not counts or max(counts) < req.gpu:
                return False
        return all(self.accelerators.get(k, 0) >= v for k, v in req.custom.items())

    def gpu_type_for(self, req: ResourceRequest, gpu_type: str | None) -> str | None:
        """The GPU type a fitting task would use here (the named one, else the class's largest)."""
        if req.gpu <= 0:
            return None
        if gpu_type is not None:
            return gpu_type
        return max(self.gpu.items(), key=lambda kv: (kv[1], kv[0]))[0]


@dataclass(frozen=True)
class Site:
    name: str
    region: str
    jurisdiction: str
    classes: tuple[ComputeClass, ...]
    role: str = "cloud"
    stream: str = ""
    objects: str = ""
    lake: str = ""
    executor: str = "local"

    def compute_class(self, name: str) -> ComputeClass:
        for c in self.classes:
            if c.name == name:
                return c
        raise ConfigError(
            f"site {self.name!r} has no compute class {name!r} (it has: "
            f"{', '.join(c.name for c in self.classes)}); add it under [sites.{self.name}.classes]"
        )


def class_hour_cost(
    book: PriceBook, site: Site, cls: ComputeClass, req: ResourceRequest, gpu_type: str | None = None
) -> float:
    """What an hour of `req` costs on `cls` at `site`, by the price book (billed by request)."""
    rates = book.compute(site.region, cls.price_class)
    cost = req.cpu * rates.vcpu_hour + req.memory_mb / 1024 * rates.gb_ram_hour
    kind = cls.gpu_type_for(req, gpu_type)
    if kind is not None:
        cost += req.gpu * rates.gpu(kind)
    for name, count in req.custom.items():
        cost += count * rates.accelerator(name)
    return cost


def _class(site: str, name: str, raw: Mapping[str, Any]) -> ComputeClass:
    try:
        return ComputeClass(
            name=name,
            cpu=float(raw["cpu"]),
            memory_mb=int(raw.get("memory_mb", 0)),
            gpu={str(k): int(v) for k, v in dict(raw.get("gpu", {})).items()},
            accelerators={str(k): int(v) for k, v in dict(raw.get("accelerators", {})).items()},
            price_class=str(raw.get("price_class", "standard")),
        )
    except (KeyError, TypeError, ValueError) as err:
        raise ConfigError(
            f"site {site!r}, compute class {name!r} is malformed ({err!r}); give cpu, memory_mb and "
            f"optional gpu/accelerators tables of counts"
        ) from err


def sites_from_mapping(data: Mapping[str, Any], book: PriceBook | None = None) -> list[Site]:
    """Sites from a parsed mapping ({"sites": {name: {...}}}); with `book`, every site's region and
    class must be priced (a site nobody can price would be placed as if free)."""
    raw_sites = data.get("sites")
    if not isinstance(raw_sites, Mapping) or not raw_sites:
        raise ConfigError("the sites file declares no [sites.NAME] table; declare at least one site")
    out: list[Site] = []
    for name, raw in raw_sites.items():
        for key in ("region", "classes"):
            if key not in raw:
                raise ConfigError(f"site {name!r} has no {key!r}; add it (see labstream.sites.model)")
        classes = tuple(_class(name, cname, craw) for cname, craw in raw["classes"].items())
        site = Site(
            name=str(name),
            region=str(raw["region"]),
            jurisdiction=str(raw.get("jurisdiction", raw["region"])),
            classes=classes,
            role=str(raw.get("role", "cloud")),
            stream=str(raw.get("stream", "")),
            objects=str(raw.get("objects", "")),
            lake=str(raw.get("lake", "")),
            executor=str(raw.get("executor", "local")),
        )
        if book is not None:
            for c in classes:  # ConfigError names the missing price
                rates = book.compute(site.region, c.price_class)
                for accel in c.accelerators:
                    rates.accelerator(accel)
        out.append(site)
    return out


def load_sites(path: str | Path, book: PriceBook | None = None) -> list[Site]:
    p = Path(path)
    try:
        data = tomllib.loads(p.read_text(encoding="utf-8"))
    except OSError as err:
        raise ConfigError(
            f"cannot read the sites file {str(p)!r} ({err}); give an existing TOML file"
        ) from err
    except tomllib.TOMLDecodeError as err:
        raise ConfigError(f"sites file {str(p)!r} is not valid TOML ({err}); fix the line it names") from err
    return sites_from_mapping(data, book)
