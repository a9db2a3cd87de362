"""Edge-to-cloud replication with exactly-once effects across restarts and network partitions.

One replicator per (edge topic, cloud site). Per poll of the edge stream, per partition, in order:
1. skip records at or below their target table's application-transaction version for this partition
   (`replicate:<edge>-><cloud>:<topic>:<partition>`): those are already in the cloud (each table's
   version advances only with that table's rows, so a crash between two tables' commits redoes only
   the second);
2. drop events whose project may not keep data in the cloud's region (residency; counted, never copied);
3. copy what the policy lets through into the cloud's object store (content-addressed: a copy repeated
   after a crash writes nothing new) and read the feature rows from the edge's store;
4. append the rows to the cloud lake with the transaction (partition app id, last offset) in the same
   Delta commit: rows and progress land together or not at all;
5. commit the edge offsets (a crash before this only replays step 1's skip).
With `cloud_stream` set, steps 1 and 4 are the stream leg's instead (relay.py): step 1 skips the edge
records the cloud topic already holds (its destination cursor, read on every connect) and step 4
publishes one event per record to the cloud's own stream, after its objects are copied; the cloud's
runner (labstream.sites.cloud) then writes the lake exactly once.
Any failure (a cut link, a dead endpoint) drops the consumer, waits and starts again from step 1, so
nothing is lost (the edge keeps every record until step 5) and nothing is doubled (step 1/4).

Run as a process: `python -m labstream.sites.replicate CONFIG.json` (ReplicationConfig as JSON).
"""

from __future__ import annotations

import contextlib
import io
import json
import sys
import time
from collections import defaultdict
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from labstream.core.events import Event, ObjectRef
from labstream.lake import open_lake
from labstream.objects import open_store
from labstream.runtime.faults import maybe_crash
from labstream.sites.edge import EdgePolicy, edge_columns
from labstream.sites.relay import CloudStreamLeg, cloud_event_id
from labstream.stream import open_stream
from labstream.stream.base import Record, TopicPartition

__all__ = ["CLOUD_EVENT", "ReplicationConfig", "Replicator", "app_id"]

CLOUD_EVENT = "edge.rows"  # the type of the stream leg's events


@dataclass(frozen=True)
class ReplicationConfig:
    edge_site: str
    edge_stream: str
    edge_objects: str
    topic: str
    cloud_site: str
    cloud_region: str
    cloud_objects: str
    cloud_lake: str
    allowed_regions: dict[str, list[str]]  # project -> regions its data may be kept in
    policy: dict[str, Any] = field(default_factory=dict)
    table: str = "edge_cells"
    stats_path: str = ""
    # The stream leg: with `cloud_stream`, events go to this topic of the cloud's own stream (exactly
    # once by the destination cursor, relay.py) and the cloud's runner writes the lake; without it the
    # replicator appends to `cloud_lake` itself (Delta application transactions, steps 1 and 4).
    cloud_stream: str = ""
    cloud_topic: str = "edge.cloud"

    @property
    def group(self) -> str:
        return f"replicate-{self.edge_site}-to-{self.cloud_site}"

    def to_json(self) -> str:
        return json.dumps(asdict(self))

    @classmethod
    def from_json(cls, text: str) -> ReplicationConfig:
        return cls(**json.loads(text))


def app_id(cfg: ReplicationConfig, partition: int) -> str:
    return f"replicate:{cfg.edge_site}->{cfg.cloud_site}:{cfg.topic}:{partition}"


class Replicator:
    def __init__(self, cfg: ReplicationConfig) -> None:
        self.cfg = cfg
        self.policy = EdgePolicy(**cfg.policy)
        self.edge_stream = open_stream(cfg.edge_stream)
        self.edge_store = open_store(cfg.edge_objects)
        self.consumer: Any = None
        self.leg: CloudStreamLeg | None = None
        self.withheld = 0  # events kept at the edge by residency

    def _connect(self) -> None:
        self.cloud_store = open_store(self.cfg.cloud_objects)
        if self.cfg.cloud_stream:  # the destination cursor is read on every (re)connect
            self.leg = CloudStreamLeg(self.cfg.cloud_stream, self.cfg.cloud_topic)
        else:
            self.lake = open_lake(self.cfg.cloud_lake)
        self.consumer = self.edge_stream.consumer(self.cfg.group, [self.cfg.topic])

    def _drop(self) -> None:
        for part in (self.consumer, self.leg):
            if part is not None:
                with contextlib.suppress(Exception):  # one that cannot close is dropped anyway
                    part.close()
        self.consumer = self.leg = None

    def _copy(self, ref: dict[str, Any]) -> ObjectRef:
        data = self.edge_store.get_bytes(ref["uri"], expect_sha256=ref["sha256"])
        return self.cloud_store.put_bytes(data, suffix=Path(ref["uri"]).suffix)

    def _policy_objects(self, ev: dict[str, Any]) -> tuple[str, str, int]:
        """Copy the thumbnail and (sampled) raw image the policy sends: (thumbnail uri, raw uri, bytes)."""
        sent = 0
        thumb = raw = ""
        if self.policy.thumbnails and "thumbnail" in ev:
            thumb, sent = self._copy(ev["thumbnail"]).uri, sent + int(ev["thumbnail"]["size"])
        if self.policy.sends_raw(ev["key"]):
            raw, sent = self._copy(ev["raw"]).uri, sent + int(ev["raw"]["size"])
        return thumb, raw, sent

    def _rows(self, rec: Record, ev: dict[str, Any]) -> tuple[pd.DataFrame | None, int]:
        """The cloud rows of one event and the bytes it sends over the link."""
        thumb, raw, sent = self._policy_objects(ev)
        if not self.policy.features or not ev["cells"]:
            return None, sent
        ref = ObjectRef(**ev["features"])
        df = pd.read_parquet(io.BytesIO(self.edge_store.get_bytes(ref.uri, expect_sha256=ref.sha256)))
        sent += ref.size
        edge_columns(
            df,
            kind=ev["kind"],
            key=ev["key"],
            thumbnail_uri=thumb,
            raw_uri=raw,
            partition=rec.partition,
            offset=rec.offset,
        )
        df["project"] = ev["project"]
        return df, sent

    def _cloud_event(self, rec: Record, ev: dict[str, Any]) -> tuple[Event, int]:
        """The stream leg's event for one edge event (features copied to the cloud store, by ref)."""
        thumb, raw, sent = self._policy_objects(ev)
        refs: tuple[ObjectRef, ...] = ()
        if self.policy.features and ev["cells"]:
            refs = (self._copy(ev["features"]),)
            sent += refs[0].size
        data = {
            "kind": ev["kind"],
            "table": ev.get("table", self.cfg.table),
            "cells": ev["cells"],
            "thumbnail_uri": thumb,
            "raw_uri": raw,
            "edge_site": self.cfg.edge_site,
            "edge_partition": rec.partition,
            "edge_offset": rec.offset,
            "data_site": self.cfg.cloud_site,  # its inputs are in the cloud's store now (placement)
        }
        eid = cloud_event_id(self.cfg.edge_site, self.cfg.topic, rec.partition, rec.offset)
        event = Event(
            type=CLOUD_EVENT,
            key=ev["key"],
            data=data,
            refs=refs,
            id=eid,
            project=ev["project"],
            created_at=rec.timestamp_ms / 1000,
        )
        return event, sent

    def _fresh(self, partition: int, events: list[tuple[Record, dict[str, Any]]]) -> list[Any]:
        """Step 1: the records not in the cloud yet (by the cloud topic's cursor, or per table by the
        lake's application transaction for this partition)."""
        if self.leg is not None:
            return [(r, ev) for r, ev in events if (partition, r.offset) not in self.leg.done]
        app = app_id(self.cfg, partition)
        done: dict[str, int | None] = {}
        for table in {ev.get("table", self.cfg.table) for _, ev in events}:
            done[table] = self.lake.txn_version(table, app) if self.lake.exists(table) else None

        def new(r: Record, ev: dict[str, Any]) -> bool:
            v = done[ev.get("table", self.cfg.table)]
            return v is None or r.offset > v

        return [(r, ev) for r, ev in events if new(r, ev)]

    def _partition(self, partition: int, recs: list[Record]) -> dict[str, float]:
        """Steps 1-4 for one partition's records; each target table has its own transaction."""
        cfg = self.cfg
        fresh = self._fresh(partition, [(r, json.loads(r.value)) for r in recs])
        frames: dict[str, list[pd.DataFrame]] = defaultdict(list)
        items: list[tuple[int, int, Event]] = []
        last: dict[str, int] = {}
        sent = raw_at_edge = 0
        for r, ev in fresh:
            table = ev.get("table", cfg.table)
            last[table] = r.offset
            raw_at_edge += int(ev["raw"]["size"])
            if cfg.cloud_region not in cfg.allowed_regions.get(ev["project"], []):
                self.withheld += 1
                continue
            if self.leg is not None:
                event, n = self._cloud_event(r, ev)
                items.append((partition, r.offset, event))
            else:
                df, n = self._rows(r, ev)
                if df is not None:
                    frames[table].append(df)
            sent += n
        if self.leg is not None:  # objects first, then the events: a failed copy publishes nothing
            self.leg.publish(items)
        for table, dfs in sorted(frames.items()):
            self.lake.append(
                table, pd.concat(dfs, ignore_index=True), txn=(app_id(cfg, partition), last[table])
            )
        now = time.time()
        lags = [now - r.timestamp_ms / 1000 for r in recs]
        return {
            "records": len(fresh),
            "skipped": len(recs) - len(fresh),
            "bytes_sent": sent,
            "raw_bytes_at_edge": raw_at_edge,
            "lag_max_s": max(lags, default=0.0) if fresh else 0.0,
        }

    def step(self, max_records: int = 200) -> int:
        """One poll: replicate it and commit the edge offsets; returns how many records it held."""
        if self.consumer is None:
            self._connect()
        recs = self.consumer.poll(max_records, timeout=0.5)
        if not recs:
            return 0
        parts: dict[int, list[Record]] = defaultdict(list)
        for r in recs:
            parts[r.partition].append(r)
        for p, prs in sorted(parts.items()):
            stats = self._partition(p, sorted(prs, key=lambda r: r.offset))
            self._stat({"partition": p, **stats, "withheld": self.withheld})
        maybe_crash("after_publish")  # crash tests: in the cloud, edge offsets not committed yet
        self.consumer.commit(
            {TopicPartition(self.cfg.topic, p): max(r.offset for r in prs) + 1 for p, prs in parts.items()}
        )
        return len(recs)

    def _stat(self, row: dict[str, Any]) -> None:
        if self.cfg.stats_path:
            with open(self.cfg.stats_path, "a", encoding="utf-8") as fh:
                fh.write(json.dumps({"t": time.time(), **row}) + "\n")

    def run(self, *, stop: Path | None = None, idle_exit_s: float | None = None) -> None:
        """Replicate until `stop` exists or nothing came for `idle_exit_s`; failures wait and retry."""
        backoff, last = 0.2, time.monotonic()
        while not (stop and stop.exists()):
            try:
                if self.step():
                    last = time.monotonic()
                elif idle_exit_s is not None and time.monotonic() - last > idle_exit_s:
                    return
                backoff = 0.2
            except Exception as err:  # noqa: BLE001 - any failure: drop, wait, start again from step 1
                print(
                    f"replicate: {type(err).__name__}: {str(err)[:200]}; retrying in {backoff:.1f} s",
                    file=sys.stderr,
                    flush=True,
                )
                self._stat({"error": type(err).__name__})
                self._drop()
                time.sleep(backoff)
                backoff = min(backoff * 2, 2.0)
        self._drop()


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    cfg = ReplicationConfig.from_json(Path(args[0]).read_text(encoding="utf-8"))
    stop = Path(args[1]) if len(args) > 1 else None
    Replicator(cfg).run(stop=stop)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
