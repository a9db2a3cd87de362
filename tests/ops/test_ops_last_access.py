"""Last access as a lifecycle filter: reads through the platform (a governed read as DRS, htsget and
reports make; `labstream lifecycle get`) are recorded in the catalog at most once per object per 10
minutes, and a rule with `last_access_days` moves only what was not read for that long."""

from __future__ import annotations

import os
import time
from pathlib import Path

from typer.testing import CliRunner

from labstream.cli.main import app
from labstream.core.settings import Settings
from labstream.governance.objects import register_file
from labstream.governance.service import Governance
from labstream.objects.fsspec_store import FsspecStore
from labstream.ops.lifecycle import load_policy
from labstream.ops.lifecycle_run import lifecycle_apply, lifecycle_plan

DAY = 86400.0
IDLE = load_policy(
    {"rule": [{"name": "idle", "last_access_days": 30, "transitions": [{"days": 90, "tier": "archive"}]}]}
)


def _aged(uri: str, store: FsspecStore, days: float) -> None:
    t = time.time() - days * DAY
    os.utime(store.path_of(uri), (t, t))  # the local store's creation time is the file's mtime


def test_rule_moves_only_what_was_not_read_local(home: Path, tmp_path: Path) -> None:
    settings = Settings()
    store = FsspecStore(settings.objects_url)
    raw = {s: store.put_bytes(f"{s}\n".encode() * 500, suffix=".fastq") for s in ("read", "idle")}
    bam_path = tmp_path / "S1.bam"
    bam_path.write_bytes(b"BAM\x01" * 1000)
    gov = Governance.open(settings)
    try:
        gov.directory.add_project("p", region="eu")
        bam = register_file(gov, bam_path, project="p", kind="bam", sample="S1")  # governed, encrypted
        for uri in (*(r.uri for r in raw.values()), bam.uri):
            _aged(uri, store, 200)
        assert gov.store("p").get_bytes(bam.uri) == bam_path.read_bytes()  # what DRS / htsget do
    finally:
        gov.close()
    res = CliRunner().invoke(app, ["lifecycle", "get", raw["read"].uri, "-o", str(tmp_path / "got")])
    assert res.exit_code == 0, res.output
    assert (tmp_path / "got").read_bytes() == b"read\n" * 500

    moves = {m.uri: m for m in lifecycle_plan(settings, IDLE)}
    assert set(moves) == {raw["idle"].uri}  # 200 days old, never read: idle since it was made
    assert moves[raw["idle"].uri].to_tier == "archive"
    # 31 days on, nothing was read again: the two read objects are idle too
    later = {m.uri for m in lifecycle_apply(settings, IDLE, now=time.time() + 31 * DAY)}
    assert later == {raw["idle"].uri, raw["read"].uri, bam.uri}
