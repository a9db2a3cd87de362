"""The platform's storage inventory, read from the catalog, the object store and the `storage_moves`
table: what each entity's objects cost to keep (labstream.ops.storage.storage_costs) and where the
bytes live now, per project and tier (`by_tier`). Used by `labstream cost` and the dashboard."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from labstream.core.settings import Settings
from labstream.ops.pricebook import PriceBook, load_price_book
from labstream.ops.storage import by_tier, object_keys, object_writers, stage_outputs, storage_costs

__all__ = ["object_sizer", "storage_by_task", "storage_inventory"]

# (store URL, uri) -> size: the dashboard asks every few seconds, and on S3 each size is a request.
# Stage outputs are written once (a re-written derived object keeps its first size until restart).
_SIZES: dict[tuple[str, str], int | None] = {}
_MAX_CACHED = 1_000_000


def object_sizer(settings: Settings) -> Callable[[str], int | None]:
    """uri -> its size in the platform's object store; None when it is not one of its objects (a lake
    table, a gone object). An archived local object is sized where its tier keeps it."""
    from labstream.core.errors import LabstreamError
    from labstream.objects.fsspec_store import FsspecStore
    from labstream.objects.tiers import open_tiers

    store = FsspecStore(settings.objects_url)  # the physical store: what the bytes occupy
    tiers: Any = None

    def size_of(uri: str) -> int | None:
        key = (settings.objects_url, uri)
        if key not in _SIZES:
            if len(_SIZES) >= _MAX_CACHED:
                _SIZES.clear()
            _SIZES[key] = _size(uri)
        return _SIZES[key]

    def _size(uri: str) -> int | None:
        nonlocal tiers
        try:
            info = store.fs.info(store.path_of(uri))
            return int(info["size"]) if info.get("type") == "file" else None
        except FileNotFoundError:
            try:
                tiers = tiers or open_tiers(store)
                return int(tiers.stat(uri, tags=False).size)
            except (LabstreamError, OSError):
                return None
        except (LabstreamError, OSError, ValueError):
            return None

    return size_of


def storage_inventory(
    settings: Settings, *, now: float | None = None, book: PriceBook | None = None
) -> tuple[dict[tuple[str, str], dict[str, Any]], list[dict[str, Any]]]:
    """((project, key) -> storage cost to `now`, [per project and tier: objects, bytes, usd_per_month])."""
    records, files, book, history, outputs = _inventory(settings, book)
    keys = object_keys(records)
    stamp = time.time() if now is None else now
    per_entity = storage_costs(
        files, keys, book, region=settings.region, now=stamp, history=history, outputs=outputs
    )
    tiers = by_tier(files, book, region=settings.region, history=history, outputs=outputs)
    return per_entity, tiers


def storage_by_task(
    settings: Settings, *, now: float | None = None, book: PriceBook | None = None
) -> dict[str, dict[str, Any]]:
    """lineage id -> storage cost to `now` of the objects billed to that task (the ingest task of a
    raw object, the first writer of a stage output); "" for objects no task wrote."""
    records, files, book, history, outputs = _inventory(settings, book)
    return storage_costs(
        files,
        object_keys(records),
        book,
        region=settings.region,
        now=time.time() if now is None else now,
        history=history,
        outputs=outputs,
        writers=object_writers(records),
    )


def _inventory(settings: Settings, book: PriceBook | None) -> tuple[Any, Any, PriceBook, Any, Any]:
    from labstream.catalog import open_catalog
    from labstream.ops.lifecycle_run import tier_history

    with open_catalog(settings.catalog_url).upgrade() as cat:
        records = cat.list_lineage()
        files = cat.list_ingested()
    outputs = stage_outputs(records, object_sizer(settings))
    return (
        records,
        files,
        book or load_price_book(settings.price_book or None),
        tier_history(settings),
        outputs,
    )
