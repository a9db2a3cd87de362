"""Before a pipeline runs on Dask (`DaskExecutor.check_workers`): can every worker reach the objects?

A worker started without the credentials, the endpoint or the LABSTREAM_* settings of the process that
submits cannot rebuild or run any task; Dask reports that only as "Error during deserialization of the
task graph", and every task would be dead-lettered with that. The probe runs on each worker (with
`Client.run`), writes, reads back and deletes one object, and says which worker failed and why.
"""

from __future__ import annotations

import os
import uuid
from typing import Any

from labstream.core.errors import ComputeError

WORKER_HINT = (
    "a Dask worker needs the same LABSTREAM_* settings, AWS_* credentials and endpoint as the watcher "
    "(the Helm chart gives every worker group the same ConfigMap and Secrets); `labstream doctor` checks"
)


def probe_objects(url: str) -> str:
    """Write, read back and delete one probe object at `url`; raises the store's error if it cannot."""
    from labstream.objects import open_store

    store = open_store(url)
    data = f"labstream probe {uuid.uuid4()}".encode()
    ref = store.put_bytes(data, suffix=".probe")
    try:
        if store.get_bytes(ref.uri) != data:
            raise OSError(f"{ref.uri} read back different bytes")
    finally:
        store.delete(ref.uri)
    return f"writable (probe {ref.uri.rsplit('/', 1)[-1][:12]}... written, read, deleted)"


def worker_probe(objects_url: str) -> str:
    """Runs inside one Dask worker: "ok ..." or "FAIL <why>" (never raises into the scheduler)."""
    try:
        endpoint = os.environ.get("AWS_ENDPOINT_URL", "unset")
        return f"ok {probe_objects(objects_url)} [AWS_ENDPOINT_URL={endpoint}]"
    except Exception as err:  # reported per worker
        return f"FAIL cannot write {objects_url} from this worker: {type(err).__name__}: {err}"


def dask_worker_report(client: Any, objects_url: str) -> dict[str, tuple[bool, str]]:
    """{worker name: (ok, detail)} for every worker the scheduler knows."""
    results = client.run(worker_probe, objects_url, on_error="return")
    names = {a: str(w.get("name", a)) for a, w in client.scheduler_info(n_workers=-1)["workers"].items()}
    report: dict[str, tuple[bool, str]] = {}
    for address, result in sorted(results.items()):
        name = f"{names.get(address, address)} ({address})"
        if isinstance(result, BaseException):
            report[name] = (False, f"{type(result).__name__}: {result}")
        else:
            report[name] = (result.startswith("ok "), result.split(" ", 1)[1])
    return report


def check_dask_workers(client: Any, objects_url: str) -> None:
    """ComputeError naming every worker that cannot use the object store, with what to do."""
    bad = {name: detail for name, (ok, detail) in dask_worker_report(client, objects_url).items() if not ok}
    if bad:
        listed = "; ".join(f"dask worker {n}: {d}" for n, d in bad.items())
        raise ComputeError(f"{listed}; {WORKER_HINT}")
