"""The price book: what an hour of compute, a GB-month of storage and a GB of egress cost, per region
and compute class, in one versioned TOML file.

Why a file and not constants: prices change and differ per lab contract, and a cost row must say
which prices made it (`price_book` column of the `costs` table), so a re-priced month can be told
from a changed workload. Shipped books live in `labstream/ops/pricebooks/NAME.toml`;
`LABSTREAM_PRICE_BOOK` names one of them or gives a path to a lab's own.

    book = load_price_book()                       # the configured one
    rates = book.compute("local", "standard")      # ComputeRates(vcpu_hour=0.04, ...)
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from labstream.core.errors import ConfigError

__all__ = ["DEFAULT_PRICE_BOOK", "ComputeRates", "PriceBook", "load_price_book", "shipped_price_books"]

DEFAULT_PRICE_BOOK = "labstream-2026-12"


@dataclass(frozen=True)
class ComputeRates:
    """Hourly prices of one compute class in one region (currency of the book)."""

    vcpu_hour: float
    gb_ram_hour: float
    gpu_hour: Mapping[str, float] = field(default_factory=dict)  # by GPU type; "default" for any
    accelerator_hour: Mapping[str, float] = field(default_factory=dict)  # TPU, ... by resource name

    def gpu(self, kind: str = "default") -> float:
        return float(self.gpu_hour.get(kind, self.gpu_hour.get("default", 0.0)))

    def accelerator(self, name: str) -> float:
        """Price of a custom resource (TPU, ...); a resource the book does not price is an error, not
        free: a silent zero would under-bill every task that asks for it."""
        if name not in self.accelerator_hour:
            known = ", ".join(self.accelerator_hour) or "none"
            raise ConfigError(
                f"the price book has no hourly price for accelerator {name!r} (priced: {known}); "
                f"add it under accelerator_hour of the compute class"
            )
        return float(self.accelerator_hour[name])


@dataclass(frozen=True)
class PriceBook:
    name: str
    version: str
    currency: str
    regions: Mapping[str, Any]

    def _region(self, region: str) -> Mapping[str, Any]:
        if region not in self.regions:
            raise ConfigError(
                f"price book {self.name!r} has no region {region!r} (it has: {', '.join(self.regions)}); "
                f"set LABSTREAM_REGION to one of them or add the region to the book"
            )
        return self.regions[region]

    def compute(self, region: str, compute_class: str = "standard") -> ComputeRates:
        classes = self._region(region).get("classes", {})
        if compute_class not in classes:
            raise ConfigError(
                f"price book {self.name!r}, region {region!r} has no compute class {compute_class!r} "
                f"(it has: {', '.join(classes)}); set LABSTREAM_COMPUTE_CLASS to one of them"
            )
        c = classes[compute_class]
        return ComputeRates(
            vcpu_hour=float(c["vcpu_hour"]),
            gb_ram_hour=float(c["gb_ram_hour"]),
            gpu_hour=dict(c.get("gpu_hour", {})),
            accelerator_hour=dict(c.get("accelerator_hour", {})),
        )

    def storage_gb_month(self, region: str, tier: str = "hot") -> float:
        return float(self._region(region).get("storage_gb_month", {}).get(tier, 0.0))

    def retrieval_gb(self, region: str, tier: str) -> float:
        """Price of reading a GB back from `tier` (a restore from archive)."""
        return float(self._region(region).get("retrieval_gb", {}).get(tier, 0.0))

    def egress_gb(self, region: str) -> float:
        return float(self._region(region).get("egress_gb", 0.0))


def shipped_price_books() -> list[str]:
    folder = resources.files("labstream.ops") / "pricebooks"
    return sorted(p.name[:-5] for p in folder.iterdir() if p.name.endswith(".toml"))


def load_price_book(name_or_path: str | Path | None = None) -> PriceBook:
    """A shipped book by name, or a TOML file by path; the configured one (`LABSTREAM_PRICE_BOOK`)
    when None. ConfigError names the book and what to do when it is missing or malformed."""
    if name_or_path is None or name_or_path == "":
        from labstream.core.settings import Settings

        name_or_path = Settings().price_book or DEFAULT_PRICE_BOOK
    text_name = str(name_or_path)
    if text_name in shipped_price_books():
        source = resources.files("labstream.ops") / "pricebooks" / f"{text_name}.toml"
        raw = source.read_text(encoding="utf-8")
        name = text_name
    else:
        path = Path(text_name)
        if not path.is_file():
            raise ConfigError(
                f"price book {text_name!r} is neither a shipped book ({', '.join(shipped_price_books())}) "
                f"nor a file; set LABSTREAM_PRICE_BOOK to one of those names or to a TOML file's path"
            )
        try:
            raw = path.read_text(encoding="utf-8")
        except UnicodeDecodeError as err:
            raise ConfigError(
                f"price book {text_name!r} is not UTF-8 text ({err}); give a TOML file"
            ) from None
        name = path.stem
    try:
        data = tomllib.loads(raw)
    except tomllib.TOMLDecodeError as err:
        raise ConfigError(
            f"price book {text_name!r} is not valid TOML ({err}); fix the line it names"
        ) from err
    for key in ("version", "currency", "regions"):
        if key not in data:
            raise ConfigError(f"price book {text_name!r} has no {key!r}; add it (see {DEFAULT_PRICE_BOOK})")
    return PriceBook(
        name=name, version=str(data["version"]), currency=str(data["currency"]), regions=data["regions"]
    )
