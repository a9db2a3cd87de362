"""The model registry contract, the version record and `open_registry` (backend chosen by URL scheme).

A version is immutable once registered: its weights (content-addressed, sha256), the code version that
trained it, the training-data lineage, parameters, metrics per named evaluation set, and a test input
with the digest of its expected output. Aliases (`champion`, `challenger`, ...) are movable pointers; a
`ModelRef` (`name@alias`, `name/3`) is resolved to a `ModelVersion` once and then used as that pinned
version, so a promotion during a run cannot mix versions in one run's results.
"""

from __future__ import annotations

import importlib
import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Protocol, TypedDict, Unpack

from labstream.core.errors import ConfigError, InputError

# URL scheme -> "module:class", imported on use so MLflow loads only when a registry is opened.
REGISTRIES: dict[str, str] = {
    "sqlite": "labstream.models.mlflow_registry:MlflowRegistry",
    "postgresql": "labstream.models.mlflow_registry:MlflowRegistry",
}


@dataclass(frozen=True)
class ModelVersion:
    name: str
    version: int
    sha256: str  # of the weights bytes
    flavor: str  # how to load and run the weights (models/flavors.py)
    code_version: str
    training_data: list[dict[str, Any]] = field(default_factory=list)
    params: dict[str, Any] = field(default_factory=dict)
    metrics: dict[str, dict[str, float]] = field(default_factory=dict)  # eval set -> metric -> value
    test_input_sha256: str = ""
    test_output_sha256: str = ""
    aliases: tuple[str, ...] = ()
    created_at: float = 0.0
    description: str = ""

    @property
    def tag(self) -> str:
        """`name/version@sha256:<digest>`: what every result made with this version records."""
        return f"{self.name}/{self.version}@sha256:{self.sha256}"

    def to_dict(self) -> dict[str, Any]:
        """Every field, with the `tag` after `version` and the aliases as a list (JSON)."""
        d = {"name": self.name, "version": self.version, "tag": self.tag, **asdict(self)}
        d["aliases"] = list(self.aliases)
        return d


@dataclass(frozen=True)
class Decision:
    """A recorded promotion decision: who, what, the numbers compared and the outcome."""

    model: str
    alias: str
    challenger: int
    champion: int | None
    outcome: str  # promoted | refused | rolled-back
    actor: str
    reason: str
    comparison: dict[str, Any] = field(default_factory=dict)
    ts: float = 0.0

    def to_json(self) -> str:
        return json.dumps(self.__dict__, sort_keys=True)


class _RequiredCard(TypedDict):
    flavor: str
    code_version: str
    training_data: list[dict[str, Any]]
    params: dict[str, Any]
    metrics: dict[str, dict[str, float]]
    test_input: bytes
    test_output_sha256: str


class VersionCard(_RequiredCard, total=False):
    """What `register` records beside the weights: its keyword arguments, each kept in the version's
    `ModelVersion` field of the same name (`test_input` as a blob, kept as `test_input_sha256`)."""

    description: str  # "" when not given


def version_card(card: dict[str, Any]) -> VersionCard:
    """`card` checked as a call with these keywords would be: a missing or unknown one is a TypeError."""
    required = VersionCard.__required_keys__
    unknown = sorted(set(card) - required - VersionCard.__optional_keys__)
    missing = sorted(required - set(card))
    if unknown or missing:
        raise TypeError(f"register(): unexpected keyword argument(s) {unknown}, missing {missing}")
    return {"description": "", **card}  # type: ignore[typeddict-item]


class ModelRegistry(Protocol):
    """What the platform asks of a registry.

    Contract: `register` stores the weights before the version exists (a crash between leaves an
    unreferenced blob, never a version without weights) and returns the new, numbered version;
    `weights` returns bytes whose sha256 equals the version's (raises IntegrityError otherwise: a
    tampered file is never handed out); `set_alias` moves an alias atomically (a reader sees the old or
    the new version); `record_decision` appends, never rewrites.
    """

    url: str

    def register(self, name: str, weights: bytes, **card: Unpack[VersionCard]) -> ModelVersion: ...

    def models(self) -> list[str]: ...

    def versions(self, name: str) -> list[ModelVersion]: ...

    def get(self, name: str, version: int) -> ModelVersion: ...

    def by_alias(self, name: str, alias: str) -> ModelVersion | None: ...

    def set_alias(self, name: str, alias: str, version: int) -> None: ...

    def weights(self, mv: ModelVersion) -> bytes: ...

    def test_input(self, mv: ModelVersion) -> bytes: ...

    def record_decision(self, decision: Decision) -> None: ...

    def decisions(self, name: str) -> list[Decision]: ...


def parse_ref(ref: str) -> tuple[str, str | None, int | None]:
    """`name@alias` -> (name, alias, None); `name/3` -> (name, None, 3); `name` -> (name, 'champion', None)"""
    text = ref.strip()
    if "@" in text:
        name, alias = text.split("@", 1)
        if name and alias and not alias.startswith("sha256"):
            return name, alias, None
    if "/" in text:
        name, _, ver = text.partition("/")
        ver = ver.split("@", 1)[0]
        if name and ver.isdigit():
            return name, None, int(ver)
    if text and "@" not in text and "/" not in text:
        return text, "champion", None
    raise InputError(
        ref, "not a model reference", hint="write NAME@ALIAS (variant-caller@champion) or NAME/VERSION"
    )


def resolve(registry: ModelRegistry, ref: str) -> ModelVersion:
    """Resolve once: the pinned version a run uses from start to end."""
    from labstream.models.errors import ModelNotFound

    name, alias, version = parse_ref(ref)
    if version is not None:
        return registry.get(name, version)
    mv = registry.by_alias(name, alias or "champion")
    if mv is None:
        raise ModelNotFound(ref, f"model {name!r} has no alias {alias!r}", hint="see `labstream models list`")
    return mv


def registry_url(home: str | Path | None = None) -> str:
    """`LABSTREAM_MODEL_REGISTRY`, else `sqlite:///<home>/models/registry.db` (home: the settings')."""
    env = os.environ.get("LABSTREAM_MODEL_REGISTRY")
    if env:
        return env
    if home is None:
        from labstream.core.settings import Settings

        home = Settings().home
    return f"sqlite:///{Path(home) / 'models' / 'registry.db'}"


def open_registry(url: str) -> ModelRegistry:
    scheme = url.split(":", 1)[0].split("+", 1)[0]
    target = REGISTRIES.get(scheme)
    if target is None:
        raise ConfigError(f"model registry URL {url!r}: unknown scheme; use one of {', '.join(REGISTRIES)}")
    module, _, cls = target.partition(":")
    try:
        mod = importlib.import_module(module)
    except ImportError as err:
        from labstream.core.errors import MissingDependencyError

        raise MissingDependencyError("mlflow-skinny", "models") from err
    return getattr(mod, cls)(url)  # type: ignore[no-any-return]


__all__ = [
    "REGISTRIES",
    "Decision",
    "ModelRegistry",
    "ModelVersion",
    "VersionCard",
    "open_registry",
    "parse_ref",
    "registry_url",
    "resolve",
]
