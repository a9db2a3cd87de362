"""The model registry on MLflow's (SQLite by default, PostgreSQL at scale).

MLflow keeps registered models, numbered versions, version tags and movable aliases; labstream keeps
the weights and test inputs content-addressed in a blob folder (blobs.py) and points each version's
`source` at its weights blob. Every labstream field of a version is a version tag `labstream.*`
(JSON where structured). Promotion decisions are registered-model tags `labstream.decision.NNNNN`,
a new key per decision, never rewritten.

Blob folder: beside the SQLite file (`<db>.blobs/`), or `LABSTREAM_MODEL_BLOBS` (needed for PostgreSQL).
MLflow's import takes ~3 s and creating a new database ~7 s (its migrations); both happen once per
process and per database. Its INFO logging is turned down to warnings.
"""

from __future__ import annotations

import json
import logging
import os
import time
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Unpack

from labstream.core.errors import ConfigError
from labstream.models.base import Decision, ModelVersion, VersionCard, version_card
from labstream.models.blobs import BlobStore
from labstream.models.errors import ModelNotFound

P = "labstream."
MISSING_HINT = "see `labstream models list`; `labstream models train` trains and registers the variant caller"


@contextmanager
def _quiet() -> Iterator[None]:
    # SQLAlchemy 2.1 deprecates the `noload` strategy MLflow's mappers use; the warning is MLflow's to fix
    with warnings.catch_warnings():
        warnings.filterwarnings(
            "ignore", message="The ``noload`` loader strategy", category=DeprecationWarning
        )
        yield


def _blob_root(url: str) -> Path:
    env = os.environ.get("LABSTREAM_MODEL_BLOBS")
    if env:
        return Path(env)
    if url.startswith("sqlite:///"):
        db = Path(url.removeprefix("sqlite:///"))
        return db.with_name(db.name + ".blobs")
    raise ConfigError(
        f"model registry {url}: set LABSTREAM_MODEL_BLOBS to the folder that keeps model weights"
    )


class MlflowRegistry:
    def __init__(self, url: str) -> None:
        with _quiet():
            from mlflow import MlflowClient
            from mlflow.exceptions import MlflowException
        for name in ("mlflow", "alembic"):  # after the import: mlflow configures its logger when imported
            logging.getLogger(name).setLevel(logging.WARNING)

        if url.startswith("sqlite:///"):
            Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
        self.url = url
        self._exc = MlflowException
        with _quiet():
            self._client = MlflowClient(tracking_uri=url, registry_uri=url)
        self.blobs = BlobStore(_blob_root(url))

    # -- versions ---------------------------------------------------------------------------------
    def register(self, name: str, weights: bytes, **card: Unpack[VersionCard]) -> ModelVersion:
        c = version_card(dict(card))
        # 1 blobs first: a crash after this leaves an unreferenced blob, never a version without weights
        sha = self.blobs.put(weights)
        test_sha = self.blobs.put(c["test_input"])
        tags = {
            P + "sha256": sha,
            P + "flavor": c["flavor"],
            P + "code_version": c["code_version"],
            P + "training_data": json.dumps(c["training_data"], sort_keys=True),
            P + "params": json.dumps(c["params"], sort_keys=True),
            P + "metrics": json.dumps(c["metrics"], sort_keys=True),
            P + "test_input_sha256": test_sha,
            P + "test_output_sha256": c["test_output_sha256"],
        }
        with _quiet():
            # 2 the registered model (once), 3 the version with every field as a tag, in one call
            try:
                self._client.create_registered_model(name)
            except self._exc as err:
                if "RESOURCE_ALREADY_EXISTS" not in str(getattr(err, "error_code", "")):
                    raise
            mv = self._client.create_model_version(
                name, source=self.blobs.path(sha).as_uri(), tags=tags, description=c["description"]
            )
        return self.get(name, int(mv.version))

    def _convert(self, mv: Any, aliases: tuple[str, ...]) -> ModelVersion:
        t = mv.tags
        return ModelVersion(
            name=mv.name,
            version=int(mv.version),
            sha256=t.get(P + "sha256", ""),
            flavor=t.get(P + "flavor", ""),
            code_version=t.get(P + "code_version", ""),
            training_data=json.loads(t.get(P + "training_data", "[]")),
            params=json.loads(t.get(P + "params", "{}")),
            metrics=json.loads(t.get(P + "metrics", "{}")),
            test_input_sha256=t.get(P + "test_input_sha256", ""),
            test_output_sha256=t.get(P + "test_output_sha256", ""),
            aliases=aliases,
            created_at=(mv.creation_timestamp or 0) / 1000.0,
            description=mv.description or "",
        )

    def _aliases(self, name: str) -> dict[str, int]:
        try:
            with _quiet():
                return {a: int(v) for a, v in self._client.get_registered_model(name).aliases.items()}
        except self._exc as err:
            raise ModelNotFound(name, "no such model in the registry", hint=MISSING_HINT) from err

    def models(self) -> list[str]:
        with _quiet():
            return sorted(m.name for m in self._client.search_registered_models(max_results=1000))

    def versions(self, name: str) -> list[ModelVersion]:
        aliases = self._aliases(name)
        with _quiet():
            found = self._client.search_model_versions(f"name='{name}'", max_results=10000)
        out = [
            self._convert(mv, tuple(a for a, v in aliases.items() if v == int(mv.version))) for mv in found
        ]
        return sorted(out, key=lambda m: m.version)

    def get(self, name: str, version: int) -> ModelVersion:
        aliases = self._aliases(name)
        try:
            with _quiet():
                mv = self._client.get_model_version(name, str(version))
        except self._exc as err:
            raise ModelNotFound(
                f"{name}/{version}", "no such model version", hint="see `labstream models show`"
            ) from err
        return self._convert(mv, tuple(a for a, v in aliases.items() if v == version))

    def by_alias(self, name: str, alias: str) -> ModelVersion | None:
        version = self._aliases(name).get(alias)
        return None if version is None else self.get(name, version)

    def set_alias(self, name: str, alias: str, version: int) -> None:
        self.get(name, version)  # raises ModelNotFound for an unknown version
        with _quiet():
            self._client.set_registered_model_alias(name, alias, str(version))

    # -- content --------------------------------------------------------------------------------
    def weights(self, mv: ModelVersion) -> bytes:
        return self.blobs.get(mv.sha256)

    def test_input(self, mv: ModelVersion) -> bytes:
        return self.blobs.get(mv.test_input_sha256)

    # -- decisions ------------------------------------------------------------------------------
    def record_decision(self, decision: Decision) -> None:
        seq = len(self.decisions(decision.model)) + 1
        d = decision if decision.ts else Decision(**{**decision.__dict__, "ts": time.time()})
        with _quiet():
            self._client.set_registered_model_tag(decision.model, f"{P}decision.{seq:05d}", d.to_json())

    def decisions(self, name: str) -> list[Decision]:
        try:
            with _quiet():
                tags = self._client.get_registered_model(name).tags
        except self._exc as err:
            raise ModelNotFound(name, "no such model in the registry", hint=MISSING_HINT) from err
        keys = sorted(k for k in tags if k.startswith(P + "decision."))
        return [Decision(**json.loads(tags[k])) for k in keys]


__all__ = ["MlflowRegistry"]
