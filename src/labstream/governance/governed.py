"""Governance wired into the spine: governed ingest, decrypting stores in executors, residency on placement.

    ing = GovernedIngest(gov)                        # raw objects encrypted, identifiers pseudonymized
    ing.ingest_file(path, project="alpha")           # reads `path.meta.json` / `path.meta.csv` if present
    PipelineRunner(settings, pipeline, **runner_options(gov, site="eu-cluster"))

Why hooks rather than a governed copy of the runtime: ingest and the runtime stay one code path; governance
only supplies (1) the store raw objects go to, (2) a rewrite of the landed event before it is recorded
or published, (3) the store stage functions read through, opened in any executor process from plain
strings (`open_project_store`), and (4) a placement check that refuses and audits tasks whose project
may not run in the executor site's region.
"""

from __future__ import annotations

import csv
import json
import threading
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from labstream.core.errors import AccessDenied, ConfigError, InputError
from labstream.core.events import Event
from labstream.governance.encrypted_store import EncryptedStore
from labstream.governance.pseudonym import DEFAULT_FIELDS, PREFIX
from labstream.governance.service import Governance
from labstream.ingest.detect import SIDECAR_SUFFIXES

STORE_OPENER = "labstream.governance.governed:open_project_store"
MIN_SCRUB_LEN = 3  # shorter identifiers are not searched for inside other strings (too many false hits)


# -- executors: the decrypting store ---------------------------------------------------------------

_cache: dict[tuple[str, str], Any] = {}
_cache_lock = threading.Lock()


def store_options(gov: Governance) -> dict[str, str]:
    """What an executor process needs to open project stores: the catalog (wrapped data keys) and the
    master key file. Only the local key file provider travels this way."""
    path = gov.provider.key_file()
    if path is None:
        raise ConfigError(
            f"key provider {type(gov.provider).__name__} cannot be opened in executor processes; "
            "give it a key file (KeyProvider.key_file) or register your own store opener"
        )
    return {"catalog_url": gov.settings.catalog_url, "key_file": str(path)}


def open_project_store(objects_url: str, project: str, options: Mapping[str, str]) -> EncryptedStore:
    """TaskContext.store() of governed runs: the project's store, decrypting on read, encrypting on write.

    Keyrings and inner stores are cached per process (executors run many tasks)."""
    from sqlalchemy.orm import sessionmaker

    from labstream.catalog.engine import make_engine
    from labstream.governance.crypto import Keyring, LocalKeyFile
    from labstream.governance.service import SqlKeyStore
    from labstream.objects import open_store

    key = (options["catalog_url"], options["key_file"])
    with _cache_lock:
        keyring = _cache.get(key)
        if keyring is None:
            sessions = sessionmaker(
                make_engine(options["catalog_url"], driver_transactions=True), expire_on_commit=False
            )
            keyring = _cache[key] = Keyring(LocalKeyFile(options["key_file"]), SqlKeyStore(sessions))
        inner = _cache.get(("store", objects_url))
        if inner is None:
            inner = _cache[("store", objects_url)] = open_store(objects_url)
    return EncryptedStore(inner, keyring, project)


# -- the runtime: residency on placement ----------------------------------------------------------


def ensure_site(gov: Governance, site: str | None = None) -> str:
    """The compute site tasks run on; `None` means the local site in `settings.region` (registered on
    first use)."""
    name = site or f"local-{gov.settings.region}"
    try:
        gov.residency.site_region(name)
    except InputError:
        if site is not None:
            raise
        gov.residency.add_site(name, gov.settings.region, gov.settings.executor_url)
    return name


class PlacementGuard:
    """`placement_check` for the runtime: refuses (and audits) tasks of projects whose allowed regions
    exclude the site's region. An allowed (project, site) pair is audited once per guard, not per task."""

    def __init__(self, gov: Governance, site: str) -> None:
        self.gov = gov
        self.site = site
        self._allowed: set[str] = set()
        self._lock = threading.Lock()

    def __call__(self, project: str, stage: str, lineage_id: str) -> None:
        if project in self._allowed:
            return
        actor, task = f"runtime:{stage}", f"task/{stage}/{lineage_id}"
        with self._lock:
            try:
                self.gov.residency.check_placement(project, self.site, actor=actor, task=task)
            except InputError as err:  # a project governance does not know: fail closed
                self.gov.audit.record(
                    actor,
                    "residency.place",
                    resource=task,
                    project=project,
                    outcome="denied",
                    detail={"site": self.site, "problem": err.problem},
                )
                raise AccessDenied(
                    f"placement of {task} refused: project {project!r} is not governed here; "
                    "add it with `labstream admin project add`"
                ) from err
            self._allowed.add(project)


def runner_options(gov: Governance, *, site: str | None = None) -> dict[str, Any]:
    """Keyword arguments for PipelineRunner that make it governed (decrypting stores, residency, and the
    stages' BAM/VCF/report registered as DRS/htsget objects of their project as they are committed)."""
    from labstream.governance.results import ResultRegistrar

    return {
        "store_opener": STORE_OPENER,
        "store_options": store_options(gov),
        "placement_check": PlacementGuard(gov, ensure_site(gov, site)),
        "on_outputs": ResultRegistrar(gov),
    }


# -- ingest: encryption and pseudonymization -------------------------------------------------------


def find_sidecar(path: Path) -> Path | None:
    for suffix in SIDECAR_SUFFIXES:
        candidate = path.with_name(path.name + suffix)
        if candidate.is_file():
            return candidate
    return None


def read_sidecar(path: Path) -> dict[str, Any]:
    """Metadata of an instrument file: a JSON object, or a CSV with a header and one row."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as err:
        raise InputError(str(path), f"unreadable metadata sidecar ({err})") from err
    if path.name.endswith(".json"):
        try:
            doc = json.loads(text)
        except ValueError as err:
            raise InputError(str(path), f"metadata sidecar is not valid JSON ({err})") from err
        if not isinstance(doc, dict):
            raise InputError(str(path), "metadata sidecar must be a JSON object")
        return doc
    rows = list(csv.DictReader(text.splitlines()))
    if len(rows) != 1:
        raise InputError(
            str(path), f"metadata CSV has {len(rows)} data rows", hint="give a header and exactly one row"
        )
    return {k.strip(): (v or "").strip() for k, v in rows[0].items() if k}


def _scrub(value: Any, swaps: list[tuple[str, str]]) -> Any:
    if isinstance(value, str):
        for plain, pseudo in swaps:
            if plain in value:
                value = value.replace(plain, pseudo)
        return value
    if isinstance(value, dict):
        return {k: _scrub(v, swaps) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_scrub(v, swaps) for v in value]
    return value


class EventPseudonymizer:
    """Ingestor `transform`: identifier fields of the event data become keyed pseudonyms, and any other
    string of the event (key, file name, free-text fields) that contains one gets it replaced too."""

    def __init__(self, gov: Governance, fields: Iterable[str] = DEFAULT_FIELDS) -> None:
        self.gov = gov
        self.fields = tuple(fields)

    def __call__(self, event: Event) -> Event:
        from labstream.governance.sample_sheets import run_folder_swaps

        # an Illumina run folder's Sample_IDs (sheet, FASTQ names, the end marker's file list)
        swaps, refs = run_folder_swaps(self.gov, event)
        swaps = [(p, s) for p, s in swaps if len(p) >= MIN_SCRUB_LEN]
        data = dict(event.data)
        for f in self.fields:
            value = data.get(f)
            if value in (None, "") or (isinstance(value, str) and value.startswith(PREFIX)):
                continue
            pseudo = self.gov.pseudonyms.pseudonymize(f, str(value), event.project)
            data[f] = pseudo
            if len(str(value)) >= MIN_SCRUB_LEN:
                swaps.append((str(value), pseudo))
        swaps.sort(key=lambda s: -len(s[0]))  # longest first: one id inside another stays consistent
        data = {k: (v if k in self.fields else _scrub(v, swaps)) for k, v in data.items()}
        return Event(
            type=event.type,
            key=_scrub(event.key, swaps),
            data=data,
            refs=refs,
            parents=event.parents,
            id=event.id,
            created_at=event.created_at,
            project=event.project,
        )


class GovernedIngest:
    """An Ingestor whose raw objects go through the project's EncryptedStore and whose events carry
    pseudonyms only. Storing in `settings.region` is checked against the project's residency once per
    project (refused: the file is quarantined, the refusal audited)."""

    def __init__(
        self,
        gov: Governance,
        *,
        topic: str | None = None,
        fields: Iterable[str] = DEFAULT_FIELDS,
        partitions: int = 4,
        project: str = "default",
    ) -> None:
        """`project`: where files go when a call names none (a watched folder belongs to one project)."""
        from labstream.ingest.files import TOPIC, Ingestor

        self.gov = gov
        self.project = project
        self.ingestor = Ingestor(
            gov.settings,
            topic=topic or TOPIC,
            partitions=partitions,
            store_for=gov.store,
            transform=EventPseudonymizer(gov, fields),
        )
        self._resident: set[str] = set()

    def ingest_file(
        self,
        path: str | Path,
        *,
        project: str | None = None,
        instrument: str | None = None,
        key: str | None = None,
        data: dict[str, Any] | None = None,
        sidecar: str | Path | None = None,
        root: str | Path | None = None,
    ) -> Any:
        """Ingest one file (see labstream.ingest.Ingestor.ingest_file); metadata comes from `sidecar`
        or a `<file>.meta.json|csv` next to it, overridden by `data`; `root`: the watched folder the
        file must stay inside (no link, no `..`)."""
        path = Path(path)
        project = project or self.project
        refused = self._refused(project, str(path))
        if refused is not None:
            return refused
        side = Path(sidecar) if sidecar is not None else find_sidecar(path)
        meta = read_sidecar(side) if side is not None else {}
        return self.ingestor.ingest_file(
            path,
            root=root,
            instrument=instrument,
            project=project,
            key=key,
            data={**meta, **(data or {})},
        )

    def ingest_zarr_field(
        self, field: Any, *, state: Any = None, project: str | None = None, identity: str | None = None
    ) -> Any:
        """One complete OME-Zarr field, packed and stored through the project's EncryptedStore."""
        project = project or self.project
        refused = self._refused(project, field.source)
        if refused is not None:
            return refused
        return self.ingestor.ingest_zarr_field(field, state=state, project=project, identity=identity)

    def quarantine_source(self, err: InputError) -> Any:
        return self.ingestor.quarantine_source(err)

    def _refused(self, project: str, source: str) -> Any:
        """None when the project may be stored in this region (checked once); else the quarantined result."""
        from labstream.ingest.files import IngestResult

        if project in self._resident:
            return None
        try:
            self.gov.residency.check_copy(  # the destination, never the file name (it may identify)
                project, self.gov.settings.region, actor="ingest", uri=self.gov.settings.objects_url
            )
        except (AccessDenied, InputError) as err:
            bad = err if isinstance(err, InputError) else InputError(source, str(err))
            self.ingestor.catalog.quarantine_error(bad, stage="ingest", project=project)
            return IngestResult(source, "denied", error=str(err))
        self._resident.add(project)
        return None

    def close(self) -> None:
        self.ingestor.close()
