"""At start, the catalog, the stream and the lake check each other before any file is ingested.

Why: the ingest's exactly-once rests on the catalog's claims. A catalog file that was lost or emptied
(and SQLite opens an empty file as a new, empty database) makes a restarted watcher ingest every file
again: 400 rows for 200 files. A lost stream makes it start a new stream, silently, while the catalog
and the lake remember the old one. Each piece holds history the others can be checked against:

- stream has more ingest events than the catalog has claims: the catalog was lost, or a rebuild of it
  was killed part way (the claims it had restored made the catalog look whole to the next start, which
  then ingested the rest again: seen in the kill test). The missing claims are rebuilt from the
  stream's ingest topic (every `file.landed` event carries its identity, sha256, object URI and path,
  and its id is deterministic), so nothing is ingested twice.
- catalog has published claims, no topic of the stream has ever held a record: the stream was lost
  or replaced (a new topic, such as a WES run's own, starts empty and is no sign of loss). Refused,
  naming both, since the stages' offsets and pending work went with it.
- catalog (no claim, no lineage) and stream empty, the lake holds rows: both were lost. Refused,
  naming the lake. (Empty tables, or rows beside the lineage of a batch command, are no sign of loss.)

Refusals are StorageErrors that say what to do (restore the lost piece, or move the others aside to
start afresh). A stream whose retention dropped old records keeps its offsets, so it is not "empty".
"""

from __future__ import annotations

import logging
import uuid
from pathlib import Path
from typing import TYPE_CHECKING

from labstream.core.errors import InputError, StorageError
from labstream.core.events import Event
from labstream.core.topics import FILE_LANDED

if TYPE_CHECKING:
    from labstream.catalog.base import CatalogStore
    from labstream.stream.base import Stream

log = logging.getLogger(__name__)

EVENT_TYPE = FILE_LANDED


def check_at_start(
    catalog: CatalogStore, stream: Stream, topic: str, *, catalog_url: str, stream_url: str, lake_url: str
) -> int:
    """Check the three against each other; returns how many claims were rebuilt from the stream."""
    claims = catalog.count_ingested()
    history = sum(stream.end_offsets(topic).values())
    if history > claims:  # every claim has at most one event, unless a publish was retried
        n = rebuild_claims(catalog, stream, topic)
        if n:
            log.warning(
                "the catalog %s had %d ingest claims but the stream %s holds %d ingest events: "
                "rebuilt %d missing claims from the stream",
                catalog_url,
                claims,
                stream_url,
                history,
                n,
            )
        return n
    # a new topic (a WES run's own) starts empty; only a stream with no history anywhere was lost
    if history == 0 and _stream_empty(stream) and catalog.list_ingested(status="published", limit=1):
        raise StorageError(
            f"the stream {stream_url} has no history on any topic, but the catalog {catalog_url} "
            "records published ingests: the stream was lost or replaced. Restore it from a backup; to "
            "start afresh instead, move the catalog, the stream and the lake aside together"
        )
    # rows in the lake, yet no record of any work: both were lost (`labstream cost` on a fresh home
    # creates empty ops tables, and `genomics call` writes rows with its lineage but no ingest claim)
    if claims == 0 and history == 0 and not catalog.lineage_changes(0, limit=1) and _lake_has_rows(lake_url):
        raise StorageError(
            f"the lake {lake_url} holds tables, but the catalog {catalog_url} and the stream "
            f"{stream_url} are empty: both were lost. Restore them from a backup; to start afresh "
            "instead, move the lake aside too"
        )
    return 0


def rebuild_claims(catalog: CatalogStore, stream: Stream, topic: str) -> int:
    """Claim and mark published every file version the stream's ingest topic announced and the catalog
    lacks; returns how many were restored (idempotent: a second run restores none)."""
    consumer = stream.consumer(f"labstream-consistency-{uuid.uuid4().hex[:12]}", [topic])
    n = 0
    try:
        while True:
            records = consumer.poll(max_records=1000, timeout=1.0)
            if not records and consumer.caught_up():
                break
            for rec in records:
                n += _restore(catalog, rec.value)
    finally:
        consumer.close()
    return n


def _restore(catalog: CatalogStore, raw: bytes) -> int:
    try:
        ev = Event.from_json(raw, source="ingest topic")
    except InputError as err:
        log.warning("not restored from the stream: %s", err)
        return 0
    if ev.type != EVENT_TYPE or not ev.refs:
        return 0
    ref, data = ev.refs[0], ev.data
    identity = data.get("identity")  # None on events from before identities: a content-only claim
    if catalog.get_ingested(ref.sha256, identity=identity or "", project=ev.project) is not None:
        return 0  # restored by an earlier, interrupted rebuild (or never lost)
    catalog.claim_ingest(
        ref.sha256,
        path=str(data.get("path", "")),
        size=int(data.get("size", ref.size) or 0),
        identity=identity,
        object_uri=ref.uri,
        instrument=str(data.get("instrument", "")),
        project=ev.project,
        event_id=ev.id,
    )
    catalog.mark_published(
        ref.sha256, event_id=ev.id, object_uri=ref.uri, identity=identity or "", project=ev.project
    )
    return 1


def _lake_has_rows(lake_url: str) -> bool:
    """A local lake folder with a Delta table holding rows; remote lakes are not listed here (None of
    our business to scan a bucket at every start)."""
    if "://" in lake_url and not lake_url.startswith("file://"):
        return False
    root = Path(lake_url.removeprefix("file://"))
    if not root.is_dir():
        return False
    from deltalake import DeltaTable

    logs = [*root.glob("*/_delta_log"), *root.glob("*/*/_delta_log")]
    for log_dir in logs:
        try:
            actions = DeltaTable(str(log_dir.parent)).get_add_actions(flatten=True)
        except Exception as err:  # noqa: BLE001 - a table another process is creating: not evidence of loss
            log.debug("consistency: cannot read %s: %s", log_dir.parent, err)
            continue
        if actions.num_rows and sum(n or 0 for n in actions.column("num_records").to_pylist()) > 0:
            return True
    return False


__all__ = ["check_at_start", "rebuild_claims"]


def _stream_empty(stream: Stream) -> bool:
    """No topic of the stream has ever held a record."""
    return all(sum(stream.end_offsets(t).values()) == 0 for t in stream.topics())
