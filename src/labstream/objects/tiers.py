"""Storage tiers of an object store: what class each object is in, moving it to a colder one, and
restoring an archived one so it can be read again.

    tiers = open_tiers(store)                 # S3Tiers for s3:// stores; ConfigError otherwise
    for obj in tiers.list("raw/"): ...        # StoredObject(uri, size, tier, tier_since, created, tags)
    tiers.transition(uri, "archive")          # an in-place copy with StorageClass=GLACIER
    tiers.restore(uri, days=7)                # restore_object; RestoreState says when it is readable

Tiers are labstream's names, mapped to S3 storage classes (`S3_CLASS`): hot STANDARD, cool
STANDARD_IA, archive GLACIER, deep_archive DEEP_ARCHIVE. Why an in-place copy: that is how S3 changes
the class of an existing object (a lifecycle rule does the same server-side). A copy resets
LastModified, so LastModified is when the object entered its current class (`tier_since`, what minimum
storage durations count from), and the object's first creation is kept in its metadata
(`labstream-created`) across copies.

Reading an archived object that is not restored fails on S3 (InvalidObjectState); `archived_error`
turns that into ObjectArchived, requesting the restore if none is under way, with the time it takes.
The local store keeps tiers as folders with a simulated restore delay (labstream.objects.tiers_local).
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from labstream.core.errors import ConfigError, StorageError

__all__ = [
    "ARCHIVE_TIERS",
    "RESTORE_HOURS",
    "S3_CLASS",
    "TIERS",
    "ObjectArchived",
    "RestoreState",
    "S3Tiers",
    "StoredObject",
    "open_tiers",
    "parse_restore",
]

TIERS = ("hot", "cool", "archive", "deep_archive")  # warmest first
S3_CLASS = {"hot": "STANDARD", "cool": "STANDARD_IA", "archive": "GLACIER", "deep_archive": "DEEP_ARCHIVE"}
_TIER_OF = {v: k for k, v in S3_CLASS.items()} | {
    "GLACIER_IR": "cool",
    "ONEZONE_IA": "cool",
    "INTELLIGENT_TIERING": "hot",
    "REDUCED_REDUNDANCY": "hot",
}
ARCHIVE_TIERS = frozenset({"archive", "deep_archive"})
# hours until a Standard retrieval is readable (AWS: Glacier Flexible 3-5 h, Deep Archive within 12 h)
RESTORE_HOURS = {"archive": 5.0, "deep_archive": 12.0}
CREATED_META = "labstream-created"
_EXPIRY = re.compile(r'expiry-date="([^"]+)"')


class ObjectArchived(StorageError):
    """The object is in an archive tier and not restored: its bytes cannot be read yet. The message
    says whether a restore is under way and about when the object will be readable."""

    def __init__(self, uri: str, tier: str, state: RestoreState, ready_in_s: float | None = None) -> None:
        self.uri, self.tier, self.state = uri, tier, state
        self.ready_in_s = RESTORE_HOURS.get(tier, 5.0) * 3600.0 if ready_in_s is None else ready_in_s
        super().__init__(f"{uri} {self.public_message()}")

    def public_message(self) -> str:
        """The message without the URI (an API never shows where an object is stored)."""
        what = "restore requested now" if self.state.requested_now else "restore already under way"
        return (
            f"is archived ({self.tier}, S3 class {S3_CLASS.get(self.tier, self.tier)}); {what}, ready in "
            f"about {_duration(self.ready_in_s)}; read it again then (or `labstream lifecycle restore` "
            "for a faster tier)"
        )

    def __reduce__(self):  # type: ignore[no-untyped-def]
        return (type(self), (self.uri, self.tier, self.state, self.ready_in_s))


def _duration(seconds: float) -> str:
    if seconds >= 3600:
        return f"{seconds / 3600:.3g} h"
    return f"{seconds / 60:.3g} min" if seconds >= 60 else f"{max(seconds, 1.0):.0f} s"


@dataclass(frozen=True)
class RestoreState:
    """`ongoing`: a restore was asked and is not done; `readable_until`: a finished restore's expiry
    (seconds since the epoch), None when not restored; `requested_now`: this call asked for it."""

    ongoing: bool = False
    readable_until: float | None = None
    requested_now: bool = False

    @property
    def readable(self) -> bool:
        return not self.ongoing and self.readable_until is not None


def parse_restore(header: str | None) -> RestoreState:
    """The S3 `x-amz-restore` header: `ongoing-request="true"`, or `ongoing-request="false",
    expiry-date="Fri, 23 Dec 2026 00:00:00 GMT"` after a restore; absent when never restored."""
    if not header:
        return RestoreState()
    if 'ongoing-request="true"' in header:
        return RestoreState(ongoing=True)
    m = _EXPIRY.search(header)
    if not m:
        return RestoreState()
    from email.utils import parsedate_to_datetime

    return RestoreState(readable_until=parsedate_to_datetime(m.group(1)).timestamp())


@dataclass(frozen=True)
class StoredObject:
    """One object as the tier logic sees it (times in seconds since the epoch, UTC)."""

    uri: str
    size: int
    tier: str
    tier_since: float
    created: float
    tags: Mapping[str, str] = field(default_factory=dict)
    restore: RestoreState = field(default_factory=RestoreState)
    tags_readable: bool = True  # False: the server would not give an archived object's tags
    lock: str = ""  # why S3 Object Lock forbids moving or deleting it ("" when it does not)


def _ts(value: Any) -> float:
    return value.timestamp() if isinstance(value, datetime) else float(value)


class S3Tiers:
    """Tier operations on the bucket of an s3:// FsspecStore, through its own s3fs client (the same
    endpoint and credentials as the store)."""

    def __init__(self, store: Any) -> None:
        self.store = store
        self.fs = store.fs
        self._locking: dict[str, bool] = {}  # bucket -> Object Lock enabled

    def _lock(self, bucket: str, key: str, head: Mapping[str, Any], now: float) -> str:
        """Why S3 Object Lock keeps the object where it is: a legal hold that is ON
        (get_object_legal_hold), or a retention period (GOVERNANCE / COMPLIANCE) not yet over (the
        HEAD's ObjectLockRetainUntilDate); "" when neither. Asked only of buckets with Object Lock
        enabled (one request per bucket to find out)."""
        if bucket not in self._locking:
            try:
                conf = self._call("get_object_lock_configuration", Bucket=bucket)
                enabled = conf.get("ObjectLockConfiguration", {}).get("ObjectLockEnabled") == "Enabled"
            except (StorageError, FileNotFoundError):  # no configuration: the bucket cannot lock
                enabled = False
            self._locking[bucket] = enabled
        if not self._locking[bucket]:
            return ""
        try:
            status = self._call("get_object_legal_hold", Bucket=bucket, Key=key).get("LegalHold", {})
        except (StorageError, FileNotFoundError):  # never set on this object: the HEAD may still say
            status = {"Status": head.get("ObjectLockLegalHoldStatus", "OFF")}
        if status.get("Status") == "ON":
            return "S3 Object Lock legal hold ON"
        until = head.get("ObjectLockRetainUntilDate")
        if until is not None and _ts(until) > now:
            return f"S3 Object Lock retention ({head.get('ObjectLockMode', '')}) until {until:%Y-%m-%d}"
        return ""

    def _split(self, uri: str) -> tuple[str, str]:
        bucket, key, _ = self.fs.split_path(self.store.path_of(uri))
        return bucket, key

    def _call(self, method: str, **kwargs: Any) -> dict[str, Any]:
        try:
            out: dict[str, Any] = self.fs.call_s3(method, **kwargs)
            return out
        except FileNotFoundError:
            raise
        except OSError as err:
            raise StorageError(
                f"S3 {method} on {kwargs.get('Key', '')} failed: {err}; check the bucket and access"
            ) from err

    def stat(self, uri: str, *, tags: bool = True) -> StoredObject:
        bucket, key = self._split(uri)
        try:
            head = self._call("head_object", Bucket=bucket, Key=key)
        except FileNotFoundError:
            from labstream.objects.errors import ObjectNotFound

            raise ObjectNotFound(uri) from None
        return self._object(uri, head, head.get("LastModified"), tags)

    def _object(self, uri: str, head: Mapping[str, Any], modified: Any, tags: bool) -> StoredObject:
        bucket, key = self._split(uri)
        since = _ts(modified)
        meta = head.get("Metadata") or {}
        tier = _TIER_OF.get(str(head.get("StorageClass") or "STANDARD"), "hot")
        tagset, readable, lock = [], True, ""
        if tags:
            lock = self._lock(bucket, key, head, time.time())
            try:
                tagset = self._call("get_object_tagging", Bucket=bucket, Key=key)["TagSet"]
            except StorageError:
                if tier not in ARCHIVE_TIERS:
                    raise
                readable = False  # some S3 APIs (moto) refuse an unrestored archived object's tags
        return StoredObject(
            uri=uri,
            size=int(head.get("ContentLength", head.get("Size", 0))),
            tier=tier,
            tier_since=since,
            created=float(meta.get(CREATED_META, since)),
            tags={t["Key"]: t["Value"] for t in tagset},
            restore=parse_restore(head.get("Restore")),
            tags_readable=readable,
            lock=lock,
        )

    def list(self, prefix: str = "") -> Iterator[StoredObject]:
        """Every object under the store's root + `prefix`, with its class, times and tags (one HEAD and
        one tagging request per object: the listing carries neither metadata nor tags)."""
        root = self.store.root.lstrip("/")
        bucket, _, base = root.partition("/")
        start = "/".join(p for p in (base, prefix.lstrip("/")) if p)
        token: dict[str, str] = {}
        while True:
            page = self._call("list_objects_v2", Bucket=bucket, Prefix=start, **token)
            for item in page.get("Contents", []):
                name = item["Key"].rsplit("/", 1)[-1]
                if name.startswith("."):
                    continue
                uri = self.store.uri(f"{bucket}/{item['Key']}")
                yield self.stat(uri)
            if not page.get("IsTruncated"):
                return
            token = {"ContinuationToken": page["NextContinuationToken"]}

    def transition(self, uri: str, tier: str) -> StoredObject:
        """Move the object to `tier` by an in-place copy that keeps its tags, content type and first
        creation time. An archived object must be restored before it can be copied (as on S3)."""
        if tier not in S3_CLASS:
            raise ConfigError(f"unknown storage tier {tier!r}; use one of {', '.join(TIERS)}")
        now = self.stat(uri, tags=False)
        bucket, key = self._split(uri)
        head = self._call("head_object", Bucket=bucket, Key=key)
        meta = dict(head.get("Metadata") or {})
        meta.setdefault(CREATED_META, repr(now.created))
        self._call(
            "copy_object",
            Bucket=bucket,
            Key=key,
            CopySource={"Bucket": bucket, "Key": key},
            StorageClass=S3_CLASS[tier],
            MetadataDirective="REPLACE",
            Metadata=meta,
            ContentType=head.get("ContentType", "application/octet-stream"),
            TaggingDirective="COPY",
        )
        return self.stat(uri, tags=False)

    def restore(self, uri: str, *, days: int = 7, speed: str = "Standard") -> RestoreState:
        """Ask for a temporary readable copy of an archived object for `days` (speed: Expedited,
        Standard or Bulk). Asking again while one is under way or done is harmless."""
        bucket, key = self._split(uri)
        self._call(
            "restore_object",
            Bucket=bucket,
            Key=key,
            RestoreRequest={"Days": int(days), "GlacierJobParameters": {"Tier": speed}},
        )
        st = self.stat(uri, tags=False).restore
        return RestoreState(st.ongoing, st.readable_until, requested_now=True)

    def expire(self, uri: str) -> None:
        bucket, key = self._split(uri)
        self._call("delete_object", Bucket=bucket, Key=key)

    def archived_error(self, uri: str) -> ObjectArchived | None:
        """After a read was refused: ObjectArchived (a restore requested if none is under way) when the
        object is archived and not readable, else None (the refusal had another cause)."""
        try:
            obj = self.stat(uri, tags=False)
        except (StorageError, FileNotFoundError):
            return None
        if obj.tier not in ARCHIVE_TIERS or obj.restore.readable:
            return None
        state = obj.restore if obj.restore.ongoing else self.restore(uri)
        return ObjectArchived(uri, obj.tier, state)


def open_tiers(store: Any) -> Any:
    """The tier operations of an FsspecStore: S3Tiers on s3://, LocalTiers (tier roots, simulated
    restore delay) on file://; ConfigError for a store without tiers."""
    if store.protocol in ("s3", "s3a"):
        return S3Tiers(store)
    if store.local:
        from labstream.objects.tiers_local import LocalTiers

        return LocalTiers(store)
    raise ConfigError(
        f"storage tiers need an s3:// or local object store (this one is {store.url}); "
        "point LABSTREAM_OBJECTS_URL at one to use lifecycle policies"
    )
