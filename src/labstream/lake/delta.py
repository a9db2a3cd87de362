"""Delta Lake tables on a folder or an object store, with idempotent (exactly-once) appends.

Contract:
- A table's folder is `<lake url>/<table name>`. It is created (version 0, no data) on first use with
  its declared schema; every append is one Delta version.
- `append(..., txn=(app_id, version))` is idempotent: if the table already holds a transaction for
  `app_id` at `version` or later, nothing is written and False is returned; otherwise the rows and the
  transaction are committed atomically in one Delta version. The runtime uses (consumer group / topic /
  partition, offset) as the transaction, so a batch replayed after a crash between the lake commit and
  the stream offset commit adds nothing.
- One writer per app_id at a time (the stream's partition assignment gives that); writers with distinct
  app_ids may append concurrently from any number of processes (Delta's optimistic concurrency).
- Rows are cast to the declared schema (see schema.py); a mismatch raises SchemaMismatchError.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Unpack
from urllib.parse import urlparse

import pyarrow as pa
import pyarrow.dataset as pads

from labstream.lake.base import DEFAULT_RETENTION_HOURS, RowFill, row_fill
from labstream.lake.errors import LakeError, SchemaMismatchError
from labstream.lake.schema import (
    PLATFORM_COLUMNS,
    TableSchema,
    conform,
    find_schema,
    to_arrow,
    validate_table_name,
)
from labstream.objects.storage import resolve_storage, storage_scheme

__all__ = ["DEFAULT_RETENTION_HOURS", "Lake", "txn_id"]

DEFAULT_PROJECT = "default"  # the project of rows that name none (matches core.events.Event)


def txn_id(group: str, topic: str, partition: int) -> str:
    """The application-transaction id of one stream partition as consumed by one group."""
    return f"{group}/{topic}/{partition}"


def _first_line(err: BaseException) -> str:
    """deltalake's message without the native backtrace it appends (` 0: <unknown> 1: ...`)."""
    text = " ".join(str(err).split())
    return text.split(" 0: ", 1)[0][:300]


def _commit_failed() -> type[BaseException]:
    from deltalake.exceptions import CommitFailedError

    return CommitFailedError


def _is_commit_conflict(err: BaseException) -> bool:
    return isinstance(err.__cause__, _commit_failed())


_CONFLICT_RETRIES = 8  # backs off 0.05 s .. 1 s: ~4 s in all, enough for a loaded 2-core machine


class Lake:
    """The lake: one Delta table per name under one root URL (a local folder, or any scheme of the
    storage registry that deltalake writes: file://, s3://, gs://; see labstream.objects.storage)."""

    def __init__(self, url: str | Path, storage_options: Mapping[str, str] | None = None) -> None:
        raw = str(url)
        parsed = urlparse(raw)
        self.scheme = storage_scheme(raw)
        options = resolve_storage(raw, delta_overrides=storage_options)  # ConfigError: unknown scheme
        self.storage_options: dict[str, str] = options.delta
        self._fsspec_options = options.fsspec
        if self.scheme == "file":
            path = Path(parsed.path if parsed.scheme == "file" else raw).expanduser().resolve()
            path.mkdir(parents=True, exist_ok=True)
            self.root = str(path)
            self.is_local = True
        else:
            self.root = f"{self.scheme}://" + (parsed.netloc + parsed.path).rstrip("/")
            self.is_local = False
        self.url = raw
        self._tables: dict[str, Any] = {}
        self._lock = threading.RLock()

    # -- tables ---------------------------------------------------------------------------------------

    def table_uri(self, table: str) -> str:
        return f"{self.root}/{validate_table_name(table)}"

    def _open(self, table: str, *, refresh: bool = True) -> Any | None:
        """The DeltaTable, refreshed to the latest version, or None when the table does not exist."""
        from deltalake import DeltaTable
        from deltalake.exceptions import DeltaError, TableNotFoundError

        with self._lock:
            try:
                dt = self._tables.get(table)
                if dt is not None:
                    if refresh:
                        dt.update_incremental()
                    return dt
                try:
                    dt = DeltaTable(self.table_uri(table), storage_options=self.storage_options or None)
                except TableNotFoundError:
                    return None
            except DeltaError as err:  # a damaged _delta_log: say which table, not a Rust backtrace
                raise LakeError(
                    f"lake table {table!r} at {self.table_uri(table)} is unreadable "
                    f"({_first_line(err)}); its _delta_log is damaged: restore the table from a backup"
                ) from err
            self._tables[table] = dt
            return dt

    def exists(self, table: str) -> bool:
        return self._open(table) is not None

    def _create(self, table: str, schema: pa.Schema, partition_by: tuple[str, ...], description: str) -> Any:
        from deltalake import DeltaTable
        from deltalake import Schema as DeltaSchema

        try:
            DeltaTable.create(
                self.table_uri(table),
                DeltaSchema.from_arrow(schema),
                partition_by=list(partition_by) or None,
                mode="ignore",
                name=table,
                description=description or None,
                storage_options=self.storage_options or None,
            )
        except Exception as err:  # a concurrent creator won the race for version 0
            if self._open(table) is None:
                raise LakeError(f"cannot create lake table {self.table_uri(table)!r}: {err}") from err
        dt = self._open(table)
        if dt is None:
            raise LakeError(f"lake table {self.table_uri(table)!r} vanished right after creation")
        return dt

    def ensure_table(self, schema: TableSchema) -> None:
        """Create a declared table (empty, version 0) if it does not exist yet."""
        if self._open(schema.name) is None:
            self._create(schema.name, schema.arrow_schema, tuple(schema.partition_by), schema.description)

    def schema(self, table: str) -> pa.Schema:
        """The Arrow schema rows are cast to: the declared one, else the existing table's."""
        declared = find_schema(table)
        if declared is not None:
            return declared.arrow_schema
        dt = self._require(table)
        return pa.schema(dt.schema())

    def _require(self, table: str) -> Any:
        dt = self._open(table)
        if dt is None:
            known = ", ".join(self.tables()) or "none"
            raise LakeError(f"no lake table {table!r} under {self.root} (tables: {known})")
        return dt

    def tables(self) -> list[str]:
        """Names of the Delta tables under the root (folders holding a `_delta_log`)."""
        if self.is_local:
            root = Path(self.root)
            return sorted(p.name for p in root.iterdir() if (p / "_delta_log").is_dir())
        fs = self._fs()
        bucket_path = self.root.split("://", 1)[1]
        try:
            entries = fs.ls(bucket_path, detail=False, refresh=True)
        except FileNotFoundError:
            return []
        names = [e.rstrip("/").rsplit("/", 1)[-1] for e in entries]
        return sorted(n for n in names if fs.exists(f"{bucket_path}/{n}/_delta_log"))

    def _fs(self) -> Any:
        """The fsspec filesystem of a remote root, with the same registry options as the object store."""
        import fsspec

        return fsspec.filesystem(self.scheme, **self._fsspec_options)

    # -- writes ---------------------------------------------------------------------------------------

    def resolve_schema(self, table: str, data: Any) -> pa.Schema:
        """The schema `data` will be cast to: declared, else the existing table's, else inferred from
        `data` (an undeclared new table) plus the platform columns."""
        declared = find_schema(table)
        if declared is not None:
            return declared.arrow_schema
        dt = self._open(table)
        if dt is not None:
            return pa.schema(dt.schema())
        sample = pa.Table.from_pylist(data) if isinstance(data, list) else to_arrow(table, data)
        fields = [f for f in sample.schema if f.name not in {p.name for p in PLATFORM_COLUMNS}]
        for f in fields:
            if pa.types.is_null(f.type):
                raise SchemaMismatchError(
                    table,
                    f.name,
                    "only nulls: cannot infer a type",
                    hint="declare the table with register_schema(TableSchema(...))",
                )
        return TableSchema(table, pa.schema(fields)).arrow_schema

    def _target(self, table: str, data: Any) -> tuple[Any, pa.Schema, bool]:
        """(DeltaTable, schema to cast to, whether the table schema must grow); creates the table."""
        schema = self.resolve_schema(table, data)
        declared = find_schema(table)
        dt = self._open(table, refresh=False)  # the commit resolves conflicts itself
        if dt is None:
            parts = tuple(declared.partition_by) if declared else ()
            dt = self._create(table, schema, parts, declared.description if declared else "")
        grow = bool(set(schema.names) - set(pa.schema(dt.schema()).names))
        return dt, schema, grow

    def append(
        self,
        table: str,
        data: Any,
        *,
        txn: tuple[str, int] | None = None,
        also: Mapping[str, int] | None = None,
        **fill: Unpack[RowFill],
    ) -> bool:
        """Append rows; returns False (and writes nothing) when `txn` was already committed or no rows.

        `also`: more application transactions committed in the same version, not checked (a reader's
        watermark that must move with the rows, e.g. ops.ledger's lineage position); only with `txn`.
        `lineage_id` / `project` fill those platform columns where the rows leave them missing or null.
        """
        lineage_id, project = row_fill(fill)
        if txn is None:
            return self.commit(table, data, lineage_id=lineage_id, project=project) is not None
        app_id, version = txn[0], int(txn[1])
        for attempt in range(_CONFLICT_RETRIES):
            done = self.txn_version(table, app_id)
            if done is not None and done >= version:
                return False
            try:
                txns = {**(also or {}), app_id: version}
                committed = self.commit(table, data, txns=txns, lineage_id=lineage_id, project=project)
                return committed is not None
            except LakeError as err:
                # Another writer committed a transaction of the same app_id between our check and our
                # commit (Delta refuses ours): look again; if it covered this version, we are done.
                if not _is_commit_conflict(err) or attempt == _CONFLICT_RETRIES - 1:
                    raise
                time.sleep(min(1.0, 0.05 * 2**attempt))
        raise AssertionError("unreachable")  # pragma: no cover

    def commit(
        self, table: str, data: Any, *, txns: Mapping[str, int] | None = None, **fill: Unpack[RowFill]
    ) -> int | None:
        """Write rows and application transactions as one Delta version; returns it (None if no rows).

        Does not check the transactions: callers that need idempotency check `txn_version` first
        (append and LakeWriter do).
        """
        from deltalake import CommitProperties, Transaction, write_deltalake

        lineage_id, project = row_fill(fill)
        with self._lock:
            dt, schema, grow = self._target(table, data)
            defaults = {"lineage_id": lineage_id, "project": project or DEFAULT_PROJECT}
            arrow = conform(table, data, schema, defaults=defaults)
            if arrow.num_rows == 0:
                return None
            props = (
                CommitProperties(
                    app_transactions=[
                        Transaction(app_id, version) for app_id, version in (txns or {}).items()
                    ]
                )
                if txns
                else None
            )
            for attempt in range(_CONFLICT_RETRIES):
                try:
                    write_deltalake(
                        dt,
                        arrow,
                        mode="append",
                        commit_properties=props,
                        schema_mode="merge" if grow else None,
                    )
                    return int(dt.version())  # write_deltalake moved dt to the version it committed
                except Exception as err:
                    failure = LakeError(f"append to lake table {self.table_uri(table)!r} failed: {err}")
                    # A plain append that lost a race with a concurrent metadata change (a creation or a
                    # schema merge by another writer) is safe to try again on the new snapshot; one with
                    # transactions is not: append() must look at the transaction versions again first.
                    if txns or not isinstance(err, _commit_failed()) or attempt == _CONFLICT_RETRIES - 1:
                        raise failure from err
                time.sleep(min(1.0, 0.05 * 2**attempt))
                dt, schema, grow = self._target(table, data)
                dt.update_incremental()
            raise AssertionError("unreachable")  # pragma: no cover

    def txn_version(self, table: str, app_id: str) -> int | None:
        """The latest committed application-transaction version of `app_id` in `table`."""
        dt = self._open(table)
        if dt is None:
            return None
        version = dt.transaction_version(app_id)
        return None if version is None else int(version)

    # -- reads ----------------------------------------------------------------------------------------

    def dataset(self, table: str, *, version: int | None = None) -> pads.Dataset:
        """A pyarrow dataset of one snapshot: what DuckDB scans, lazily, with filter pushdown."""
        dt = self._require(table) if version is None else self._at_version(table, version)
        return dt.to_pyarrow_dataset()

    def read(
        self,
        table: str,
        filter: pads.Expression | list[Any] | None = None,  # noqa: A002 - the name the API promises
        *,
        columns: list[str] | None = None,
        version: int | None = None,
    ) -> pa.Table:
        """Rows of a table (at `version` for time travel), filtered by a pyarrow expression or DNF list."""
        dt = self._require(table) if version is None else self._at_version(table, version)
        try:
            return dt.to_pyarrow_table(columns=columns, filters=filter)
        except (OSError, ValueError) as err:  # files of an old version vacuumed, bad filter column
            raise LakeError(f"cannot read lake table {table!r} (version {version}): {err}") from err

    def _at_version(self, table: str, version: int) -> Any:
        """The table as of `version` (time travel); LakeError when that version is gone or never was."""
        from deltalake import DeltaTable

        self._require(table)
        try:
            return DeltaTable(
                self.table_uri(table), version=version, storage_options=self.storage_options or None
            )
        except Exception as err:  # deltalake raises DeltaError / OSError variants
            raise LakeError(
                f"version {version} of lake table {table!r} is not available: {err}",
            ) from err

    def version(self, table: str) -> int:
        return int(self._require(table).version())

    def history(self, table: str, limit: int | None = None) -> list[dict[str, Any]]:
        """Commits, newest first: operation, parameters, metrics, timestamp, version."""
        return list(self._require(table).history(limit))

    # -- maintenance ----------------------------------------------------------------------------------

    def compact(self, table: str, *, target_size: int | None = None) -> dict[str, Any]:
        """Merge small files (many micro-batches) into fewer large ones; one new version, same rows."""
        with self._lock:
            dt = self._require(table)
            metrics = dt.optimize.compact(target_size=target_size)
            dt.update_incremental()
            return dict(metrics)

    def vacuum(
        self,
        table: str,
        retention_hours: int = DEFAULT_RETENTION_HOURS,
        *,
        force: bool = False,
        dry_run: bool = False,
    ) -> list[str]:
        """Delete files no longer referenced by versions younger than `retention_hours`.

        Zero retention deletes every file of every older version, so time travel to them breaks and a
        reader in the middle of a scan can fail: refused unless `force=True`.
        """
        if retention_hours < 0:
            raise LakeError(f"vacuum of {table!r}: retention_hours must be >= 0, got {retention_hours}")
        if retention_hours == 0 and not force:
            raise LakeError(
                f"refusing to vacuum lake table {table!r} with zero retention: it breaks time travel and "
                "concurrent readers; pass force=True if that is really meant"
            )
        with self._lock:
            dt = self._require(table)
            removed = dt.vacuum(
                retention_hours=retention_hours,
                dry_run=dry_run,
                enforce_retention_duration=retention_hours >= DEFAULT_RETENTION_HOURS,
            )
            return list(removed)
