"""Lifecycle on the local store: tier folders and a simulated restore delay. An archived object read
before its restore is ready says when it will be; after the delay it reads, verified; a held entity
never moves; expiry deletes."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from labstream.catalog import Catalog
from labstream.catalog.records import LineageRecord
from labstream.cli.main import app
from labstream.core.settings import Settings
from labstream.objects.errors import ObjectNotFound
from labstream.objects.fsspec_store import FsspecStore
from labstream.objects.tiers import ObjectArchived, open_tiers
from labstream.ops.lifecycle import load_policy
from labstream.ops.lifecycle_run import lifecycle_apply, lifecycle_plan

DAY = 86400.0
POLICY = load_policy(
    {
        "rule": [{"prefix": "raw/", "transitions": [{"days": 90, "tier": "archive"}], "expire_days": 365}],
        "holds": {"S2": "open incident review"},
    }
)


def test_local_tiers_archive_restore_after_a_delay_hold_and_expire(
    home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LABSTREAM_RESTORE_DELAY_S", "1.5")
    settings = Settings()
    store = FsspecStore(settings.objects_url)
    data = {s: f"{s} plate images".encode() * 100 for s in ("S1", "S2")}
    refs = {s: store.put_bytes(b, suffix=".tif") for s, b in data.items()}
    with Catalog(settings.catalog_url).upgrade() as cat:
        for s, ref in refs.items():
            cat.record_lineage(LineageRecord(stage="ingest", key=s, outputs=[ref.uri]))  # type: ignore[list-item]

    now = time.time()
    moves = {m.uri: m for m in lifecycle_apply(settings, POLICY, now=now + 100 * DAY)}
    assert moves[refs["S1"].uri].action == "transition" and moves[refs["S2"].uri].action == "held"
    tiers = open_tiers(store)
    assert tiers.stat(refs["S1"].uri).tier == "archive" and tiers.stat(refs["S2"].uri).tier == "hot"
    assert not Path(store.path_of(refs["S1"].uri)).exists()  # moved to the archive root
    assert store.get_bytes(refs["S2"].uri) == data["S2"]

    with pytest.raises(ObjectArchived, match=r"restore requested now, ready in about (1|2) s"):
        store.get_bytes(refs["S1"].uri)
    with pytest.raises(ObjectArchived, match="restore already under way"), store.open(refs["S1"].uri):
        pass
    time.sleep(1.6)
    assert store.get_bytes(refs["S1"].uri) == data["S1"]  # put back and verified against its name
    with store.local_path(refs["S1"].uri) as p:
        assert p.read_bytes() == data["S1"]
    assert tiers.stat(refs["S1"].uri).restore.readable

    res = CliRunner().invoke(app, ["lifecycle", "plan", "--at-days", "100", "--format", "json"])
    assert res.exit_code == 0, res.output
    # the shipped policy holds nothing by name: S2 would go to archive; S1 is there already
    assert [(r["uri"], r["action"], r["to_tier"]) for r in json.loads(res.output)] == [
        (refs["S2"].uri, "transition", "archive")
    ]
    # a year on: S1 expires (its 90-day archive minimum met), S2 is still held
    later = {m.uri: m for m in lifecycle_apply(settings, POLICY, now=now + 400 * DAY)}
    assert later[refs["S1"].uri].action == "expire" and later[refs["S2"].uri].action == "held"
    with pytest.raises(ObjectNotFound):
        store.get_bytes(refs["S1"].uri)
    assert [m.action for m in lifecycle_plan(settings, POLICY, now=now + 400 * DAY)] == ["held"]


def test_a_refused_move_is_reported_and_the_others_are_made_and_recorded(
    home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from labstream.core.errors import StorageError
    from labstream.lake import open_lake
    from labstream.objects.tiers_local import LocalTiers

    settings = Settings()
    store = FsspecStore(settings.objects_url)
    refs = [store.put_bytes(f"object {i}".encode(), suffix=".tif") for i in range(2)]
    refused = refs[0].uri
    real = LocalTiers.transition

    def transition(self: LocalTiers, uri: str, tier: str) -> object:
        if uri == refused:
            raise StorageError(f"{uri}: the store refused the copy")
        return real(self, uri, tier)

    monkeypatch.setattr(LocalTiers, "transition", transition)
    moves = {m.uri: m for m in lifecycle_apply(settings, POLICY, now=time.time() + 100 * DAY)}
    assert moves[refused].action == "failed" and "refused the copy" in moves[refused].reason
    assert moves[refs[1].uri].action == "transition"
    recorded = open_lake(settings.lake_url).read("storage_moves").to_pylist()
    assert [(r["uri"], r["to_tier"]) for r in recorded] == [(refs[1].uri, "archive")]
