"""A pipeline's contract: everything the platform needs to know about a pipeline, declared once.

    CONTRACT = PipelineContract(
        name="genomics",
        summary="paired FASTQ chunks -> BAM, VCF, annotated variants, report",
        settings=GenomicsSettings,            # typed, validated before anything starts
        layouts=("fastq-chunk",),             # instrument layouts it consumes (labstream.layouts)
        tables=(VARIANTS, READS_QC, ...),     # lake tables it writes, with their data dictionary
        build=genomics_pipeline_from,         # settings -> Pipeline (the stages)
        faces=Faces(summaries=(...,), dashboard=("samples",)),
        milestones=(("primary", "align"), ("report", "report")),   # optional: turnaround clocks
        slos=("ingested->report p95 <= 48h",),                      # optional: promises (ops)
    )

`labstream watch --pipeline NAME --config FILE`, the demo, the dashboard, the WES run executor and
`labstream status` read contracts from one registry (labstream.pipelines) and retype nothing. A
contract's settings come from a TOML file, options or an API call; `configure` turns any of them into
the settings model or raises ConfigError naming the setting, the source and what to do.
"""

from __future__ import annotations

import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict, ValidationError, field_validator

from labstream.core.errors import ConfigError
from labstream.core.topics import INGEST_TOPIC
from labstream.lake.schema import TableSchema
from labstream.runtime.stage import Pipeline, Stage

__all__ = ["Faces", "PipelineContract", "PipelineSettings", "Summary", "read_config"]

S = TypeVar("S", bound="PipelineSettings")


class PipelineSettings(BaseModel):
    """Base of every pipeline's settings: unknown keys are errors (a typo never passes silently).

    A required field must carry `examples=[...]`: the example fills `labstream pipelines show`'s
    sample config and lets the platform describe the stages without a real configuration."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    @field_validator("*")
    @classmethod
    def _absolute(cls, value: Any) -> Any:
        """Paths become absolute: stages run in other processes (a pool, a Dask worker) and folders."""
        return value.resolve() if isinstance(value, Path) else value


@dataclass(frozen=True)
class Summary:
    """One titled read-only query over the pipeline's tables, shown by `labstream status` and the
    dashboard once its tables exist."""

    title: str
    sql: str


@dataclass(frozen=True)
class Faces:
    """What a pipeline shows: `summaries` in the CLI and dashboard; `dashboard` names the science
    panels the dashboard renders for it (plates, hits, samples)."""

    summaries: tuple[Summary, ...] = ()
    dashboard: tuple[str, ...] = ()


@dataclass(frozen=True)
class PipelineContract:
    """One pipeline, declared once. `build(settings, input_topic)` makes its stages; the first stage
    reads `input_topic` (the ingest topic by default, a run's own topic for a WES run)."""

    name: str
    summary: str
    settings: type[PipelineSettings]
    layouts: tuple[str, ...]
    tables: tuple[TableSchema, ...]
    build: Callable[[Any, str], Pipeline]
    faces: Faces = field(default_factory=Faces)
    input_topic: str = INGEST_TOPIC
    # Turnaround clocks (labstream.ops): (milestone, stage) pairs in order, each milestone reached when
    # the last ok task of that stage for an entity ends ("ingested" by the ingest task comes first).
    # Empty: one milestone per stage, named after it.
    milestones: tuple[tuple[str, str], ...] = ()
    # Turnaround promises, e.g. "ingested->report p95 <= 48h" (parsed by labstream.ops.slo).
    slos: tuple[str, ...] = ()

    def configure(self, values: Mapping[str, Any] | None = None, *, source: str = "settings") -> Any:
        """Validated settings from plain values (a TOML table, options, an API body)."""
        try:
            return self.settings(**dict(values or {}))
        except ValidationError as err:
            raise ConfigError(_explain(self, err, source)) from None

    def pipeline(self, settings: PipelineSettings | Mapping[str, Any] | None = None, **kw: Any) -> Pipeline:
        """The runnable pipeline; `input_topic=` redirects its first stage (see the class docstring)."""
        if not isinstance(settings, PipelineSettings):
            settings = self.configure(settings)
        return self.build(settings, kw.get("input_topic") or self.input_topic)

    def example(self) -> PipelineSettings:
        """Settings made of each field's example or default, unvalidated: for describing the stages
        and printing a sample config, never for running."""
        values = {name: f.examples[0] for name, f in self.settings.model_fields.items() if f.is_required()}
        return self.settings.model_construct(**values)

    def stages(self) -> tuple[Stage, ...]:
        """The stages as declared, without a real configuration (dashboard, status)."""
        return self.build(self.example(), self.input_topic).stages

    def table(self, name: str) -> TableSchema:
        for t in self.tables:
            if t.name == name:
                return t
        raise ConfigError(f"pipeline {self.name!r} writes no table {name!r}; it writes {self.table_names}")

    @property
    def table_names(self) -> list[str]:
        return [t.name for t in self.tables]


def read_config(path: str | Path) -> dict[str, Any]:
    """A pipeline's settings from a TOML file. Relative paths in it are taken from the file's folder,
    as a lab writes them beside its data (`reference = "refs/GRCh38.fa"`)."""
    p = Path(path)
    try:
        values = tomllib.loads(p.read_text())
    except FileNotFoundError:
        raise ConfigError(f"config file {p} does not exist; give the path of a TOML file") from None
    except (OSError, UnicodeDecodeError) as err:
        raise ConfigError(f"config file {p} is unreadable ({err}); give a text TOML file") from None
    except tomllib.TOMLDecodeError as err:
        raise ConfigError(f"config file {p} is not valid TOML ({err}); fix the line it names") from None
    base = p.resolve().parent
    out: dict[str, Any] = {}
    for key, value in values.items():
        if isinstance(value, str) and _looks_like_path(key) and value and not Path(value).is_absolute():
            value = str(base / value)
        out[key] = value
    return out


_PATH_KEYS = ("reference", "annotation", "known", "platemap", "relationships", "path", "file", "dir")


def _looks_like_path(key: str) -> bool:
    return any(part in key.lower() for part in _PATH_KEYS)


def _explain(contract: PipelineContract, err: ValidationError, source: str) -> str:
    """One line per problem, naming the setting, its description and the source of the values."""
    lines = []
    fields = contract.settings.model_fields
    for e in err.errors():
        name = ".".join(str(x) for x in e["loc"]) or "?"
        f = fields.get(name)
        what = f" ({f.description})" if f is not None and f.description else ""
        if e["type"] == "missing":
            example = f' e.g. {name} = "{f.examples[0]}"' if f is not None and f.examples else ""
            lines.append(f"missing setting {name!r}{what}; set it{example}")
        elif e["type"] == "extra_forbidden":
            known = ", ".join(fields) or "none"
            lines.append(f"unknown setting {name!r}; {contract.name} takes: {known}")
        else:
            given = str(e.get("input"))[:200]
            lines.append(f"setting {name!r}{what}: {e['msg']} (given: {given})")
    return f"pipeline {contract.name!r} ({source}): " + "; ".join(lines)
