"""Append-only, hash-chained audit log, kept in its own SQLite file apart from the data.

Each record stores the hash of the previous one; a head row holds the last (seq, hash) under an HMAC
keyed by a secret derived from the master key. `verify()` therefore detects a changed record (its hash
no longer matches), an inserted or deleted record (the chain or the sequence breaks) and a truncated
tail (the signed head names a record that is gone), without trusting anything stored in the file.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import sqlite3
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from labstream.core.errors import IntegrityError

GENESIS = "0" * 64

_SCHEMA = """
CREATE TABLE IF NOT EXISTS audit (
  seq INTEGER PRIMARY KEY, ts REAL NOT NULL, actor TEXT NOT NULL, action TEXT NOT NULL,
  resource TEXT NOT NULL, project TEXT NOT NULL, outcome TEXT NOT NULL, source TEXT NOT NULL,
  reason TEXT NOT NULL, detail TEXT NOT NULL, prev TEXT NOT NULL, hash TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS head (id INTEGER PRIMARY KEY CHECK (id = 1), seq INTEGER NOT NULL,
  hash TEXT NOT NULL, mac TEXT NOT NULL);
"""

FIELDS = (
    "seq",
    "ts",
    "actor",
    "action",
    "resource",
    "project",
    "outcome",
    "source",
    "reason",
    "detail",
    "prev",
)


@dataclass(frozen=True)
class AuditRecord:
    """Who (actor) did what (action on resource in project), when (ts), from where (source), why (reason)."""

    actor: str
    action: str
    resource: str = ""
    project: str = ""
    outcome: str = "allowed"  # allowed | denied | error
    source: str = ""
    reason: str = ""  # break-glass justification
    detail: dict[str, Any] = field(default_factory=dict)
    ts: float = 0.0
    seq: int = 0


@dataclass
class VerifyResult:
    ok: bool
    records: int
    problems: list[str]


def _digest(row: dict[str, Any]) -> str:
    canon = json.dumps([row[k] for k in FIELDS], separators=(",", ":"), sort_keys=True, default=str)
    return hashlib.sha256(canon.encode()).hexdigest()


class AuditLog:
    """The audit trail. Safe across threads and processes (appends take SQLite's write lock)."""

    def __init__(self, path: str | Path, mac_key: bytes) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._key = mac_key
        self._lock = threading.Lock()
        new = not self.path.exists() or self.path.stat().st_size == 0
        self._db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False, timeout=30)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.executescript(_SCHEMA)
        if new:  # a signed empty head from the start: deleting the head row or every record is detected
            self._db.execute(
                "INSERT OR IGNORE INTO head (id, seq, hash, mac) VALUES (1, 0, ?, ?)",
                (GENESIS, self._mac(0, GENESIS)),
            )

    def _mac(self, seq: int, digest: str) -> str:
        return hmac.new(self._key, f"{seq}:{digest}".encode(), hashlib.sha256).hexdigest()

    def append(self, rec: AuditRecord) -> AuditRecord:
        """Append one record atomically after the current head; returns it with seq and ts set."""
        with self._lock:
            db = self._db
            db.execute("BEGIN IMMEDIATE")
            try:
                head = db.execute("SELECT seq, hash FROM head WHERE id = 1").fetchone()
                if head is None:
                    raise IntegrityError(
                        f"audit log {self.path} has lost its signed head; run `labstream audit "
                        "verify` and restore the log from backup"
                    )
                seq, prev = head[0] + 1, head[1]
                row = asdict(rec)
                row.update(
                    seq=seq,
                    ts=rec.ts or time.time(),
                    prev=prev,
                    detail=json.dumps(rec.detail, sort_keys=True, default=str),
                )
                digest = _digest(row)
                db.execute(
                    f"INSERT INTO audit ({','.join(FIELDS)}, hash) VALUES ({','.join('?' * 12)})",
                    [row[k] for k in FIELDS] + [digest],
                )
                db.execute(
                    "INSERT OR REPLACE INTO head (id, seq, hash, mac) VALUES (1, ?, ?, ?)",
                    (seq, digest, self._mac(seq, digest)),
                )
                db.execute("COMMIT")
            except BaseException:
                db.execute("ROLLBACK")
                raise
        return AuditRecord(**{**asdict(rec), "seq": seq, "ts": row["ts"]})

    def record(self, actor: str, action: str, **kw: Any) -> AuditRecord:
        return self.append(AuditRecord(actor=actor, action=action, **kw))

    def query(
        self,
        *,
        actor: str | None = None,
        action: str | None = None,
        resource: str | None = None,
        since_seq: int = 0,
        limit: int = 10_000,
    ) -> list[AuditRecord]:
        sql = (
            "SELECT seq, ts, actor, action, resource, project, outcome, source, reason, detail"
            " FROM audit WHERE seq > ?"
        )
        args: list[Any] = [since_seq]
        for col, val in (("actor", actor), ("action", action), ("resource", resource)):
            if val is not None:
                sql += f" AND {col} = ?"
                args.append(val)
        sql += " ORDER BY seq LIMIT ?"
        args.append(limit)
        with self._lock:
            rows = self._db.execute(sql, args).fetchall()
        return [
            AuditRecord(
                seq=r[0],
                ts=r[1],
                actor=r[2],
                action=r[3],
                resource=r[4],
                project=r[5],
                outcome=r[6],
                source=r[7],
                reason=r[8],
                detail=json.loads(r[9]),
            )
            for r in rows
        ]

    def last_seq(self) -> int:
        with self._lock:
            row = self._db.execute("SELECT seq FROM head WHERE id = 1").fetchone()
        return int(row[0]) if row else 0

    def verify(self) -> VerifyResult:
        """Recompute the chain from the first record and check it against the signed head."""
        problems: list[str] = []
        with self._lock:
            cur = self._db.execute(f"SELECT {','.join(FIELDS)}, hash FROM audit ORDER BY seq")
            prev, expected_seq, n = GENESIS, 1, 0
            for values in cur:
                row = dict(zip((*FIELDS, "hash"), values, strict=True))
                n += 1
                if row["seq"] != expected_seq:
                    problems.append(
                        f"record {row['seq']}: expected sequence {expected_seq} (deleted or inserted)"
                    )
                if row["prev"] != prev:
                    problems.append(f"record {row['seq']}: does not chain to the record before it")
                if _digest(row) != row["hash"]:
                    problems.append(f"record {row['seq']}: content does not match its hash (changed)")
                prev, expected_seq = row["hash"], row["seq"] + 1
            head = self._db.execute("SELECT seq, hash, mac FROM head WHERE id = 1").fetchone()
        if head is None:
            problems.append("signed head is missing (log deleted or replaced)")
        else:
            if not hmac.compare_digest(str(head[2]).encode(), self._mac(head[0], head[1]).encode()):
                problems.append("signed head fails its MAC (forged or changed)")
            if head[0] != expected_seq - 1 or head[1] != prev:
                problems.append(
                    f"signed head names record {head[0]} but the log ends at {expected_seq - 1} "
                    "(truncated or extended)"
                )
        return VerifyResult(ok=not problems, records=n, problems=problems)

    def close(self) -> None:
        self._db.close()
