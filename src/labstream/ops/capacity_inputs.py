"""Inputs of the capacity model: a workload (TOML) and measured rates (the JSON that `bench/phenomics.py`,
`bench/genomics.py` and `bench/stream.py` print, or the shipped summary of such runs).

Why read the benchmarks' own JSON: the plan should rest on what this code measured on the lab's
machines, not on numbers typed into a spreadsheet; a new benchmark run replaces a rate by passing its
output file. Workloads shipped in `labstream/ops/workloads/` are examples to copy.
"""

from __future__ import annotations

import dataclasses
import json
import tomllib
from collections.abc import Mapping, Sequence
from importlib import resources
from pathlib import Path
from typing import Any

from labstream.core.errors import ConfigError
from labstream.ops.capacity import GenomicsLoad, MeasuredRates, NodeShape, PhenomicsLoad, Workload

__all__ = [
    "DEFAULT_MEASURED",
    "load_measured",
    "load_workload",
    "rates_from_bench",
    "shipped_workloads",
]

DEFAULT_MEASURED = "this-machine-2026-12"
SIMULATOR_READ_LENGTH = 150  # bench/genomics.py's reads, when its JSON does not say


def _shipped(folder: str) -> dict[str, Any]:
    root = resources.files("labstream.ops") / folder
    return {p.name[:-5]: p for p in root.iterdir() if p.name.endswith(".toml")}


def shipped_workloads() -> list[str]:
    return sorted(_shipped("workloads"))


def _read_toml(name_or_path: str | Path, folder: str, what: str) -> tuple[dict[str, Any], str]:
    shipped = _shipped(folder)
    if str(name_or_path) in shipped:
        return tomllib.loads(shipped[str(name_or_path)].read_text(encoding="utf-8")), str(name_or_path)
    path = Path(name_or_path)
    if not path.is_file():
        raise ConfigError(
            f"{what} {str(name_or_path)!r} is neither a shipped one ({', '.join(sorted(shipped))}) nor a "
            f"file; give one of those names or a TOML file's path"
        )
    try:
        return tomllib.loads(path.read_text(encoding="utf-8")), str(path)
    except (UnicodeDecodeError, tomllib.TOMLDecodeError) as err:
        raise ConfigError(f"{what} {path} is not valid TOML ({err}); fix the line it names") from None


def _build(cls: type, raw: Mapping[str, Any], where: str) -> Any:
    known = {f.name: f for f in dataclasses.fields(cls)}
    unknown = sorted(set(raw) - set(known))
    if unknown:
        raise ConfigError(f"{where}: unknown setting {unknown[0]!r}; known: {', '.join(known)}")
    try:
        obj = cls(**raw)
    except TypeError as err:
        raise ConfigError(f"{where}: {err}; see labstream.ops.capacity.{cls.__name__}") from None
    for name, f in known.items():
        value = getattr(obj, name)
        if f.type in ("float", "int") and not isinstance(value, (int, float)):
            raise ConfigError(f"{where}: {name} must be a number, not {value!r}")
        if isinstance(value, (int, float)) and not isinstance(value, bool) and value < 0:
            raise ConfigError(f"{where}: {name} must not be negative ({value})")
    return obj


def load_workload(name_or_path: str | Path) -> Workload:
    """A shipped workload by name or a TOML file: `name`, `retention_weeks`, `use_gpu` and the tables
    [phenomics], [genomics], [nodes] (see the shipped examples)."""
    data, where = _read_toml(name_or_path, "workloads", "workload")
    sections = {"phenomics": PhenomicsLoad, "genomics": GenomicsLoad, "nodes": NodeShape}
    top = {k: v for k, v in data.items() if k not in sections}
    parts = {k: _build(cls, data[k], f"{where} [{k}]") for k, cls in sections.items() if k in data}
    if "phenomics" not in parts and "genomics" not in parts:
        raise ConfigError(f"{where}: no [phenomics] or [genomics] table; a workload needs at least one")
    top.setdefault("name", Path(where).stem)
    return _build(Workload, {**top, **parts}, where)


def _phenomics_rates(d: Mapping[str, Any], where: str) -> dict[str, Any]:
    ls = d["labstream"]
    return {
        "phenomics_cpu_s_per_site": ls["site_cpu_seconds"] / ls["sites"],
        "phenomics_site_px": int(d["images"]["size"]),
        "phenomics_cells_per_site": ls["cells"] / ls["sites"],
        "phenomics_features_per_cell": int(ls["features_per_cell"]),
        "phenomics_peak_rss_mb": float(ls["peak_rss_mb"]),
    }


def _genomics_rates(d: Mapping[str, Any], where: str) -> dict[str, Any]:
    read_length = int(d.get("read_length", SIMULATOR_READ_LENGTH))
    gbases = d["pairs"] * 2 * read_length / 1e9
    steps = d["fastq_to_vcf"]["cpu_steps_s_labstream"]
    return {
        "genomics_align_cpu_s_per_gbase": min(s["align_markdup"] for s in steps) / gbases,
        "genomics_call_cpu_s_per_gbase": min(s["call"] for s in steps) / gbases,
        "genomics_peak_rss_mb": float(d["peak_rss"]["labstream_large_input_mb"]),
    }


def _stream_rates(d: Mapping[str, Any], where: str) -> dict[str, Any]:
    return {"stream_partition_eps": min(d["kafka_publish_eps"], d["kafka_consume_eps"])}


# which benchmark printed a JSON, told by a key only its output has
_KINDS = {
    "images": ("phenomics", _phenomics_rates),
    "fastq_to_vcf": ("genomics", _genomics_rates),
    "kafka_consume_eps": ("stream", _stream_rates),
}


def rates_from_bench(files: Sequence[Path], base: MeasuredRates | None = None) -> MeasuredRates:
    """Rates from benchmark output files; each file replaces the rates of its benchmark in `base`."""
    values: dict[str, Any] = dataclasses.asdict(base) if base else {}
    sources = dict(base.sources) if base else {}
    for path in files:
        try:
            data = json.loads(Path(path).read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
            raise ConfigError(
                f"benchmark output {path} cannot be read as JSON ({err}); give the JSON "
                f"that bench/phenomics.py, bench/genomics.py or bench/stream.py printed"
            ) from None
        kind = next((v for k, v in _KINDS.items() if isinstance(data, dict) and k in data), None)
        if kind is None:
            raise ConfigError(
                f"{path} is not the output of bench/phenomics.py, bench/genomics.py or "
                f"bench/stream.py (none of {', '.join(_KINDS)} in it); give one of those"
            )
        try:
            values.update(kind[1](data, str(path)))
        except (KeyError, TypeError, ZeroDivisionError, ValueError) as err:
            raise ConfigError(
                f"{path}: the {kind[0]} benchmark output lacks {err}; rerun the "
                f"benchmark with this version of labstream"
            ) from None
        sources[kind[0]] = str(path)
    values["sources"] = sources
    missing = [
        f.name
        for f in dataclasses.fields(MeasuredRates)
        if f.default is dataclasses.MISSING and f.name not in values
    ]
    if missing:
        raise ConfigError(
            f"no measured rate for {', '.join(missing)}; pass the benchmark output that "
            f"measures it (--bench FILE) or start from the shipped rates"
        )
    return MeasuredRates(**values)


def load_measured(name_or_path: str | Path = DEFAULT_MEASURED) -> MeasuredRates:
    """The shipped summary of benchmark runs (or a lab's own TOML in the same shape)."""
    data, where = _read_toml(name_or_path, "measured", "measured rates")
    values: dict[str, Any] = {}
    sources: dict[str, str] = {}
    for kind in ("phenomics", "genomics", "stream"):
        section = dict(data.get(kind, {}))
        sources[kind] = str(section.pop("source", where))
        values.update({f"{kind}_{k}": v for k, v in section.items()})
    return _build(MeasuredRates, {**values, "sources": sources}, where)
