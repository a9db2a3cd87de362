"""`labstream doctor`: check a configuration against its real backends, one line per backend.

Each check touches the backend the way the platform will: the stream lists its topics, the object store
and the lake take a probe object and give it back, the catalog's migration revision is compared with
the code's head, the executor is reached and - for Dask - every worker writes and deletes a probe object
with its OWN environment (a worker without the credentials or the endpoint fails here, by name, instead
of dead-lettering every task later) and the resources asked for (`GPU`, `TPU`) must be advertised.
A check that does not answer within its deadline fails with that said; nothing is left behind.
"""

from __future__ import annotations

import socket
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from labstream.compute.preflight import WORKER_HINT, dask_worker_report, probe_objects
from labstream.core.settings import Settings, redact_url

DEADLINE_S = 8.0


@dataclass(frozen=True)
class Check:
    backend: str  # stream | objects | lake | catalog | executor | worker <name>
    url: str
    ok: bool
    detail: str

    def line(self) -> str:
        return f"{'ok  ' if self.ok else 'FAIL'} {self.backend:<9} {self.url}: {self.detail}"


def _timed(fn: Callable[[], str], deadline: float) -> str:
    """fn() in a daemon thread: a backend that hangs past `deadline` neither blocks nor holds the exit."""
    box: dict[str, Any] = {}

    def call() -> None:
        try:
            box["ok"] = fn()
        except BaseException as err:  # handed to the caller below
            box["err"] = err

    worker = threading.Thread(target=call, name="doctor-check", daemon=True)
    worker.start()
    worker.join(deadline)
    if worker.is_alive():
        raise TimeoutError(f"no answer within {deadline:.0f} s")
    if "err" in box:
        raise box["err"]
    return box["ok"]  # type: ignore[no-any-return]


def _run(backend: str, url: str, fn: Callable[[], str], hint: str, deadline: float) -> Check:
    try:
        return Check(backend, url, True, _timed(fn, deadline))
    except Exception as err:  # each backend's own error type: reported, never raised
        return Check(backend, url, False, f"{type(err).__name__}: {str(err).splitlines()[0][:300]}; {hint}")


def _probe_lake(url: str) -> str:
    import fsspec

    from labstream.objects import resolve_storage

    opts = resolve_storage(url).fsspec
    fs, root = fsspec.core.url_to_fs(url, **opts)
    path = f"{root.rstrip('/')}/_labstream_doctor/{uuid.uuid4().hex}"
    if fs.protocol in ("file", ("file", "local")) or "file" in fs.protocol:
        fs.makedirs(path.rsplit("/", 1)[0], exist_ok=True)  # never on S3: it would create a missing bucket
    fs.pipe_file(path, b"probe")
    fs.rm(path)
    return "writable (probe file written and deleted)"


def _probe_stream(url: str) -> str:
    from labstream.stream import open_stream

    if url.startswith("kafka://"):  # a refused connection is said at once, not after the client's retries
        from labstream.stream.kafka import parse_kafka_url

        bootstrap, _ = parse_kafka_url(url)
        errors = []
        for hostport in bootstrap.split(","):
            host, _, port = hostport.rpartition(":")
            try:
                socket.create_connection((host.strip("[]"), int(port)), timeout=3).close()
                break
            except OSError as err:
                errors.append(f"{hostport}: {err.strerror or err}")
        else:
            raise ConnectionError(f"no bootstrap server answers ({'; '.join(errors)})")

    stream = open_stream(url)
    try:
        return f"reachable ({len(stream.topics())} topics)"
    finally:
        stream.close()


def _probe_catalog(url: str) -> str:
    from alembic.script import ScriptDirectory

    from labstream.catalog import open_catalog
    from labstream.catalog.engine import alembic_config

    cat = open_catalog(url)
    try:
        current = cat.current_revision()
        head = ScriptDirectory.from_config(alembic_config(url)).get_current_head()
    finally:
        cat.close()
    if current is None:
        raise LookupError("reachable but not migrated (no alembic revision)")
    if current != head:
        raise LookupError(f"migrated to {current}, the code needs {head}")
    return f"migrated (revision {head})"


def _probe_executor(settings: Settings, require: tuple[str, ...], deadline: float) -> list[Check]:
    url = settings.executor_url
    if not url.startswith("dask"):
        ok = _run("executor", url, lambda: "in-process pool (nothing to reach)", "", deadline)
        return [ok]
    from labstream.compute.dask import DaskExecutor

    box: dict[str, DaskExecutor] = {}

    def connect() -> str:
        sep = "&" if "?" in url else "?"
        box["ex"] = DaskExecutor(f"{url}{sep}timeout={max(1, int(deadline) - 1)}")
        workers = box["ex"].client.scheduler_info(n_workers=-1).get("workers", {})
        if not workers:
            raise LookupError("the scheduler has no workers")
        have = {r for w in workers.values() for r in (w.get("resources") or {})}
        missing = [r for r in require if r not in have]
        if missing:
            raise LookupError(
                f"no worker advertises {missing}; workers advertise {sorted(have) or 'nothing'}"
            )
        return f"{len(workers)} workers, resources {sorted(have) or 'none'}"

    hint = 'start `dask scheduler` and `dask worker ADDRESS --resources "GPU=1"` (see the scale-out guide)'
    first = _run("executor", url, connect, hint, deadline)
    if "ex" not in box:
        return [first]
    checks = [first]
    try:  # a worker's first probe imports the storage client: allow it longer than a backend
        report = _timed(lambda: dask_worker_report(box["ex"].client, settings.objects_url), 4 * deadline)
    except TimeoutError as err:
        return [*checks, Check("workers", url, False, f"{err} to the object-store probe; {WORKER_HINT}")]
    finally:
        box["ex"].close()
    for name, (ok, detail) in report.items():
        label, _, address = name.partition(" (")
        hint = "" if ok else f"; {WORKER_HINT}"
        checks.append(Check(f"worker {label}", address.rstrip(")"), ok, detail + hint))
    return checks


def run_doctor(
    settings: Settings, *, require: tuple[str, ...] = (), deadline: float = DEADLINE_S
) -> list[Check]:
    """Every backend of `settings`, checked in turn; never raises for a broken backend."""
    store_hint = "check the URL, the bucket, AWS_* credentials and AWS_ENDPOINT_URL for a non-AWS S3"
    return [
        _run(
            "stream",
            settings.stream_url,
            lambda: _probe_stream(settings.stream_url),
            "is the broker up and the bootstrap address right?",
            deadline,
        ),
        _run(
            "objects", settings.objects_url, lambda: probe_objects(settings.objects_url), store_hint, deadline
        ),
        _run("lake", settings.lake_url, lambda: _probe_lake(settings.lake_url), store_hint, deadline),
        _run(
            "catalog",
            redact_url(settings.catalog_url),
            lambda: _probe_catalog(settings.catalog_url),
            "run `labstream doctor --migrate` (or start `watch` or `serve`), or fix LABSTREAM_CATALOG_URL",
            deadline,
        ),
        *_probe_executor(settings, require, deadline),
    ]
