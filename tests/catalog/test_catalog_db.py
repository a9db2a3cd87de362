"""Catalog contract, run on SQLite and on a real PostgreSQL server started by the fixture."""

from __future__ import annotations

import hashlib
import multiprocessing as mp
import random
import subprocess
import sys
import time
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory

from labstream.catalog import Catalog, IORef, LineageRecord
from labstream.catalog.engine import alembic_config, downgrade
from labstream.catalog.models import Base
from labstream.core.errors import ConfigError, InputError
from labstream.core.events import ObjectRef

TABLES = {"ingested_files", "lineage", "lineage_io", "quarantine", "runs", "group_state"}


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.integration)])
def catalog_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'cat' / 'catalog.db'}"
    return str(request.getfixturevalue("postgres_db_url"))


@pytest.fixture
def cat(catalog_url: str):  # type: ignore[no-untyped-def]
    with Catalog(catalog_url) as c:
        yield c.upgrade()


def sha(i: int | str) -> str:
    return hashlib.sha256(str(i).encode()).hexdigest()


def test_migrations_create_the_schema_the_models_describe(catalog_url: str) -> None:
    """The one baseline revision (0001-0006 squashed) makes every table the models declare, the
    governance ones included, column for column, index for index; downgrade removes them all."""
    import labstream.governance.models as gov_models

    c = Catalog(catalog_url)
    assert c.current_revision() is None
    c.upgrade()
    ours = TABLES | {t.name for t in Base.metadata.tables.values() if t.name.startswith("gov_")}
    assert {"gov_users", "gov_runs", "gov_report_versions"} <= ours, gov_models.__name__
    assert ours <= set(sa.inspect(c.engine).get_table_names())
    only_ours = {
        "include_name": lambda name, type_, _parent: type_ != "table" or name in ours,
        "include_object": lambda obj, name, type_, _refl, _cmp: type_ != "table" or name in ours,
        # the governance models say JSON where the migration makes JSONB on PostgreSQL (as it always did)
        "compare_type": lambda _ctx, _col, _mcol, db_type, model_type: (
            False if isinstance(db_type, sa.JSON) and isinstance(model_type, sa.JSON) else None
        ),
    }
    with c.engine.connect() as conn:
        diffs = compare_metadata(MigrationContext.configure(conn, opts=only_ours), Base.metadata)
    assert diffs == [], diffs
    script = ScriptDirectory.from_config(alembic_config(catalog_url))
    assert script.get_base() == "0006"  # the squashed baseline keeps the id of the last revision it replaced
    head = script.get_current_head()
    c.upgrade()  # a second upgrade is a no-op
    assert c.current_revision() == head
    downgrade(c.engine, "base")
    assert not ours & set(sa.inspect(c.engine).get_table_names())
    c.close()


def test_claim_ingest_first_wins_and_counts_duplicates(cat: Catalog) -> None:
    h = sha("file-1")
    assert cat.claim_ingest(h, path="/lab/in/a.tif", size=10, instrument="cp-1", project="p1") is True
    assert cat.claim_ingest(h, path="/lab/in/copy-of-a.tif", size=10) is False
    assert cat.claim_ingest(h, path="/lab/in/again.tif", size=10) is False
    rec = cat.get_ingested(h)
    assert rec is not None
    assert (rec.path, rec.duplicate_count, rec.status, rec.instrument) == (
        "/lab/in/a.tif",
        2,
        "claimed",
        "cp-1",
    )
    assert rec.last_seen >= rec.first_seen > 0
    assert [r.sha256 for r in cat.list_ingested(status="claimed")] == [h]
    cat.mark_published(h, event_id="ev1", object_uri="file:///o/raw/x")
    rec = cat.get_ingested(h)
    assert rec is not None and (rec.status, rec.event_id, rec.object_uri) == (
        "published",
        "ev1",
        "file:///o/raw/x",
    )
    assert cat.list_ingested(status="claimed") == []
    assert cat.get_ingested(sha("never")) is None


def test_identity_and_project_narrow_to_one_row(cat: Catalog) -> None:
    """The same bytes at two identities of two projects: identity/project pick one row (IngestedRow)."""
    h = sha("shared")
    for project, ident in (("p1", "run1/a.fastq"), ("p2", "run9/a.fastq")):
        assert cat.claim_ingest(h, path=ident, size=5, identity=ident, project=project) is True
    cat.mark_published(h, event_id="ev-p2", identity="run9/a.fastq", project="p2")
    assert {r.project: r.status for r in cat.list_ingested()} == {"p1": "claimed", "p2": "published"}
    assert cat.get_ingested(h, identity="run9/a.fastq").project == "p2"  # type: ignore[union-attr]
    assert cat.get_ingested(h, project="p1").identity == "run1/a.fastq"  # type: ignore[union-attr]
    assert cat.get_ingested(h, identity="run9/a.fastq", project="p1") is None
    assert cat.count_ingested() == 2
    cat.mark_published(h, event_id="ev-all", identity=None)  # None does not narrow
    assert {r.event_id for r in cat.list_ingested()} == {"ev-all"}
    with pytest.raises(TypeError, match="identiy"):
        cat.get_ingested(h, identiy="run9/a.fastq")  # type: ignore[call-arg]


def _chain(n: int) -> list[LineageRecord]:
    """ingest → n-1 stages, each consuming its parent's output."""
    recs: list[LineageRecord] = []
    for i in range(n):
        out = ObjectRef(uri=f"file:///objects/raw/{sha(i)}", sha256=sha(i))
        recs.append(
            LineageRecord(
                stage="ingest" if i == 0 else f"stage{i}",
                stage_version="1.2",
                code_version="git:abc123",
                params={"threshold": i, "channels": ["DNA", "ER"]},
                model_version="cellpose-2" if i == 2 else None,
                inputs=[] if i == 0 else [recs[-1].outputs[0]],
                outputs=[out],
                parent_ids=[] if i == 0 else [recs[-1].id],
                event_id=f"ev{i}",
                cpu_seconds=1.5 * i,
                wall_seconds=2.0,
                peak_rss_bytes=123_456_789_012,
                gpu_seconds=0.25,
                host="node-1",
                executor="local",
                started_at=1000.0 + i,
                ended_at=1002.0 + i,
            )
        )
    return recs


def test_lineage_round_trips_and_walks_back_to_the_ingest(cat: Catalog) -> None:
    recs = _chain(4)
    for r in reversed(recs):  # order of arrival does not matter
        cat.record_lineage(r)
    got = cat.get_lineage(recs[2].id)
    assert got == recs[2]
    assert isinstance(got.inputs[0], IORef) and got.peak_rss_bytes == 123_456_789_012
    walk = cat.walk_lineage(recs[3].id)
    assert [r.id for r in walk] == [r.id for r in reversed(recs)]
    assert walk[-1].stage == "ingest" and walk[-1].parent_ids == []
    producers = cat.lineage_for_object(sha(2))
    assert [r.id for r in producers] == [recs[2].id]
    assert [r.id for r in cat.lineage_for_object(recs[2].outputs[0].uri, direction="in")] == [recs[3].id]
    assert [r.stage for r in cat.list_lineage(stage="stage1")] == ["stage1"]
    assert len(cat.list_lineage(since=1002.0)) == 2
    assert len(cat.list_lineage(since=1002.0, limit=1)) == 1
    with pytest.raises(TypeError, match="stages"):
        cat.list_lineage(stages="stage1")  # type: ignore[call-arg]
    assert cat.get_lineage("nope") is None
    with pytest.raises(InputError, match="nope"):
        cat.walk_lineage("nope")


def test_lineage_walk_handles_fan_in_and_rerecording(cat: Catalog) -> None:
    a, b = _chain(1)[0], _chain(1)[0]
    b.outputs = [IORef("file:///objects/raw/b", sha("b"))]
    gather = LineageRecord(stage="aggregate", parent_ids=[a.id, b.id], inputs=[*a.outputs, *b.outputs])
    top = LineageRecord(stage="report", parent_ids=[gather.id, a.id])  # a reached twice
    for r in (a, b, gather, top):
        cat.record_lineage(r)
    gather.status, gather.error = "failed", "boom"
    cat.record_lineage(gather)  # a retried task overwrites its record
    walk = cat.walk_lineage(top.id)
    assert [r.id for r in walk].count(a.id) == 1
    assert {r.id for r in walk} == {a.id, b.id, gather.id, top.id}
    assert cat.get_lineage(gather.id).error == "boom"  # type: ignore[union-attr]
    assert len(cat.lineage_for_object(sha("b"), direction="in")) == 1


def test_quarantine(cat: Catalog) -> None:
    q1 = cat.quarantine("/lab/in/empty.tif", "zero-byte file", stage="ingest")
    err = InputError("ev-42", "malformed event", record="line 3")
    q2 = cat.quarantine_error(err, stage="segment", payload_uri="file:///o/dlq/ev-42")
    listed = cat.list_quarantine()
    assert [q.id for q in listed] == [q1.id, q2.id]
    assert listed[1].problem == "malformed event (record line 3)" and listed[1].payload_uri.endswith("ev-42")
    assert [q.source for q in cat.list_quarantine(stage="ingest")] == ["/lab/in/empty.tif"]
    q3 = cat.quarantine_error(err, project="p1")  # where it was stopped: quarantine's keywords, as given
    assert (q3.stage, q3.payload_uri, q3.project) == (None, None, "p1")
    with pytest.raises(TypeError):
        cat.quarantine_error(err, stag="ingest")  # type: ignore[call-arg]
    with pytest.raises(TypeError, match="created_at"):  # a record field, but not a place
        cat.quarantine("/lab/in/x.tif", "late", created_at=0.0)  # type: ignore[call-arg]
    assert cat.quarantine("/lab/in/x.tif", "late").project == "default"
    cat.quarantine("/lab/in/y.tif", "late", stage="")  # counted with the ones stopped before any stage
    counts = {("default", "ingest"): 1, ("default", "segment"): 1, ("p1", ""): 1, ("default", ""): 2}
    assert cat.quarantine_counts() == counts


def test_runs(cat: Catalog) -> None:
    run = cat.start_run("demo", {"plates": 2}, project="p1")
    assert cat.get_run(run.id) == run
    cat.finish_run(run.id, "succeeded")
    done = cat.get_run(run.id)
    assert done is not None and done.status == "succeeded" and done.ended_at >= run.started_at
    assert [r.id for r in cat.list_runs(pipeline="demo")] == [run.id]
    with pytest.raises(InputError):
        cat.finish_run("missing")


def test_group_state_fires_once_per_complete_group(cat: Catalog) -> None:
    for site in range(3):
        assert cat.add_member("illum", "plate-1/DNA", f"site-{site}", f'{{"site": {site}}}') is True
    assert cat.add_member("illum", "plate-1/DNA", "site-1", "{}") is False  # redelivery
    assert cat.add_member("illum", "plate-2/DNA", "site-0", b"{}") is True
    ms = cat.members("illum", "plate-1/DNA")
    assert [m.member_id for m in ms] == ["site-0", "site-1", "site-2"] and ms[1].event_json == '{"site": 1}'
    assert not cat.is_fired("illum", "plate-1/DNA")
    assert cat.mark_fired("illum", "plate-1/DNA") is True
    assert cat.mark_fired("illum", "plate-1/DNA") is False
    assert cat.is_fired("illum", "plate-1/DNA") and not cat.is_fired("illum", "plate-2/DNA")
    assert cat.clear_group("illum", "plate-1/DNA") == 3 and cat.members("illum", "plate-1/DNA") == []


def test_state_survives_reopening(catalog_url: str) -> None:
    with Catalog(catalog_url) as c:
        c.upgrade().add_member("s", "g", "m", "{}")
        c.claim_ingest(sha(1), path="/x", size=1)
    with Catalog(catalog_url) as c:
        c.upgrade()
        assert [m.member_id for m in c.members("s", "g")] == ["m"]
        assert c.claim_ingest(sha(1), path="/y", size=1) is False


def _race(url: str, hashes: list[str], barrier, out) -> None:  # type: ignore[no-untyped-def]
    cat = Catalog(url)
    barrier.wait(timeout=60)
    cat.upgrade()  # every process migrates at once too
    order = list(hashes)
    random.shuffle(order)
    won = [h for h in order if cat.claim_ingest(h, path=f"/p/{h}", size=1)]
    fired = cat.add_member("g", "k", str(len(won)), "{}") and cat.mark_fired("g", "k")
    out.put((won, bool(fired)))
    cat.close()


@pytest.mark.slow
def test_four_processes_claim_each_hash_exactly_once(catalog_url: str) -> None:
    hashes = [sha(f"race-{i}") for i in range(50)]
    ctx = mp.get_context("spawn")
    barrier, out = ctx.Barrier(4), ctx.Queue()
    procs = [ctx.Process(target=_race, args=(catalog_url, hashes, barrier, out)) for _ in range(4)]
    for p in procs:
        p.start()
    results = [out.get(timeout=120) for _ in procs]
    for p in procs:
        p.join(timeout=60)
        assert p.exitcode == 0
    claimed = [h for won, _ in results for h in won]
    assert sorted(claimed) == sorted(hashes)  # each exactly once: none lost, none twice
    with Catalog(catalog_url) as c:
        assert {c.get_ingested(h).duplicate_count for h in hashes} == {3}  # type: ignore[union-attr]
    assert sum(f for _, f in results) >= 1


def test_upgrade_works_from_any_directory(tmp_path: Path) -> None:
    """The migrations ship inside the package: no alembic.ini, no dependence on the working directory."""
    url = f"sqlite:///{tmp_path / 'c.db'}"
    code = f"from labstream.catalog import Catalog; print(Catalog({url!r}).upgrade().current_revision())"
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    head = ScriptDirectory.from_config(alembic_config(url)).get_current_head()
    assert done.stdout.strip() == head


def test_a_catalog_at_an_unknown_revision_is_named_not_a_traceback(tmp_path: Path) -> None:
    """A home made before the migrations were squashed (revision 0003) gets one clear message."""
    url = f"sqlite:///{tmp_path / 'old.db'}"
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        conn.execute(sa.text("CREATE TABLE alembic_version (version_num VARCHAR(32) PRIMARY KEY)"))
        conn.execute(sa.text("INSERT INTO alembic_version VALUES ('0003')"))
    engine.dispose()
    with pytest.raises(ConfigError, match="schema revision this labstream does not know.*new home"):
        Catalog(url).upgrade()


def test_urls(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="mysql"):
        Catalog("mysql://x/y")
    c = Catalog("sqlite://").upgrade()  # in memory
    assert c.claim_ingest(sha(0), path="/a", size=0)
    t0 = time.time()
    assert c.list_ingested()[0].first_seen <= time.time() and t0 > 0
    c.close()


def _claim_in_child(cat: Catalog, h: str, out) -> None:  # type: ignore[no-untyped-def]
    out.put(cat.claim_ingest(h, path="/child", size=1))


def test_a_catalog_can_be_used_after_fork(cat: Catalog) -> None:
    assert cat.claim_ingest(sha("parent"), path="/parent", size=1)
    ctx = mp.get_context("fork")
    out = ctx.Queue()
    procs = [ctx.Process(target=_claim_in_child, args=(cat, sha(f"child-{i}"), out)) for i in range(2)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(timeout=60)
        assert p.exitcode == 0
    assert [out.get(timeout=5), out.get(timeout=5)] == [True, True]
    assert {r.path for r in cat.list_ingested()} == {"/parent", "/child"}
    assert len(cat.list_ingested()) == 3


def test_public_api() -> None:
    import labstream.catalog as catalog

    assert sorted(catalog.__all__) == sorted(
        [
            "Catalog",
            "CatalogStore",
            "GroupMember",
            "IORef",
            "IngestedFile",
            "LineageRecord",
            "QuarantineRecord",
            "RunRecord",
            "open_catalog",
        ]
    )


def test_open_catalog_by_scheme_keeps_the_contract(tmp_path) -> None:  # type: ignore[no-untyped-def]
    import labstream.catalog as catalog
    from labstream.core.errors import ConfigError

    cat = catalog.open_catalog(f"sqlite:///{tmp_path / 'c.db'}").upgrade()
    assert isinstance(cat, catalog.CatalogStore)
    cat.close()
    with pytest.raises(ConfigError, match=r"unknown catalog URL scheme 'mysql'.*postgresql, .*sqlite"):
        catalog.open_catalog("mysql://host/db")
