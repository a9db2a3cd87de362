"""The audit log: hash chain + signed head detect every injected tampering; the CLI reports it; N reads
of patient-linked data through the API give exactly N audit records."""

from __future__ import annotations

import hashlib
import json
import sqlite3
from collections.abc import Callable

import pytest
from typer.testing import CliRunner

from labstream.core.settings import Settings
from labstream.governance.audit import FIELDS, AuditLog, _digest
from labstream.governance.service import Governance

KEY = b"k" * 32
N = 30


def _fill(path) -> AuditLog:
    log = AuditLog(path, KEY)
    for i in range(N):
        log.record(
            f"user{i % 3}",
            "reports.get",
            resource=f"report/{i}",
            project="alpha",
            source="10.0.0.1",
            detail={"i": i},
        )
    return log


def _sql(path, *statements: str, params=()) -> None:
    db = sqlite3.connect(path)
    for s in statements:
        db.execute(s, params)
    db.commit()
    db.close()


def _rehash_from(path, seq: int) -> None:
    """An attacker without the key rewrites the chain after a change so every record links again."""
    db = sqlite3.connect(path)
    rows = db.execute(f"SELECT {','.join(FIELDS)}, hash FROM audit ORDER BY seq").fetchall()
    prev = "0" * 64
    for values in rows:
        row = dict(zip((*FIELDS, "hash"), values, strict=True))
        if row["seq"] >= seq:
            row["prev"] = prev
            h = _digest(row)
            db.execute("UPDATE audit SET prev = ?, hash = ? WHERE seq = ?", (prev, h, row["seq"]))
            prev = h
        else:
            prev = row["hash"]
    db.commit()
    db.close()


TAMPERINGS: dict[str, Callable] = {
    "change actor": lambda p: _sql(p, "UPDATE audit SET actor = 'mallory' WHERE seq = 5"),
    "change outcome": lambda p: _sql(p, "UPDATE audit SET outcome = 'denied' WHERE seq = 12"),
    "change detail": lambda p: _sql(p, "UPDATE audit SET detail = '{\"i\": 99}' WHERE seq = 20"),
    "change timestamp": lambda p: _sql(p, "UPDATE audit SET ts = ts + 1 WHERE seq = 1"),
    "change first record": lambda p: _sql(p, "UPDATE audit SET resource = 'x' WHERE seq = 1"),
    "change last record": lambda p: _sql(p, f"UPDATE audit SET resource = 'x' WHERE seq = {N}"),
    "delete middle": lambda p: _sql(p, "DELETE FROM audit WHERE seq = 15"),
    "delete first": lambda p: _sql(p, "DELETE FROM audit WHERE seq = 1"),
    "truncate tail": lambda p: _sql(p, f"DELETE FROM audit WHERE seq > {N - 3}"),
    "truncate tail and fix head": lambda p: _sql(
        p,
        f"DELETE FROM audit WHERE seq > {N - 3}",
        f"UPDATE head SET seq = {N - 3}, hash = (SELECT hash FROM audit WHERE seq = {N - 3})",
    ),
    "delete everything": lambda p: _sql(p, "DELETE FROM audit"),
    "delete everything and head": lambda p: _sql(p, "DELETE FROM audit", "DELETE FROM head"),
    "insert forged record": lambda p: _sql(
        p,
        "INSERT INTO audit SELECT seq + 1000, ts, 'mallory', action, resource, project, outcome, source,"
        " reason, detail, prev, hash FROM audit WHERE seq = 3",
    ),
    "change and rehash chain": lambda p: (
        _sql(p, "UPDATE audit SET actor = 'mallory' WHERE seq = 7"),
        _rehash_from(p, 7),
    ),
    "delete and renumber": lambda p: (
        _sql(p, "DELETE FROM audit WHERE seq = 10", "UPDATE audit SET seq = seq - 1 WHERE seq > 10"),
        _rehash_from(p, 10),
    ),
    "forge head": lambda p: _sql(p, "UPDATE head SET mac = ?", params=(hashlib.sha256(b"x").hexdigest(),)),
    "swap two records": lambda p: _sql(
        p,
        "UPDATE audit SET seq = -1 WHERE seq = 3",
        "UPDATE audit SET seq = 3 WHERE seq = 4",
        "UPDATE audit SET seq = 4 WHERE seq = -1",
    ),
    "append unsigned record": lambda p: _sql(
        p,
        f"INSERT INTO audit SELECT {N + 1}, ts, actor, action, resource, project, outcome, source, reason,"
        f" detail, hash, hash FROM audit WHERE seq = {N}",
    ),
}


def test_untampered_log_verifies(tmp_path) -> None:
    log = _fill(tmp_path / "audit.db")
    res = log.verify()
    assert res.ok and res.records == N and res.problems == []


@pytest.mark.parametrize("name", list(TAMPERINGS))
def test_every_injected_tampering_is_detected(tmp_path, name: str) -> None:
    path = tmp_path / "audit.db"
    _fill(path).close()
    TAMPERINGS[name](path)
    res = AuditLog(path, KEY).verify()
    assert not res.ok, f"{name} went undetected"


def test_wrong_key_cannot_vouch_for_the_head(tmp_path) -> None:
    _fill(tmp_path / "audit.db").close()
    assert not AuditLog(tmp_path / "audit.db", b"other" * 8).verify().ok


def test_cli_verify(tmp_path, monkeypatch) -> None:
    from labstream.cli.main import app

    monkeypatch.setenv("LABSTREAM_HOME", str(tmp_path / "home"))
    gov = Governance.open(Settings(home=tmp_path / "home"))
    for i in range(5):
        gov.audit.record("ann", "reports.get", resource=f"r{i}")
    path = gov.audit.path
    gov.close()
    runner = CliRunner()
    ok = runner.invoke(app, ["audit", "verify"])
    assert ok.exit_code == 0 and "5 records" in ok.output
    _sql(path, "UPDATE audit SET actor = 'mallory' WHERE seq = 2")
    bad = runner.invoke(app, ["audit", "verify"])
    assert bad.exit_code == 1 and "record 2" in bad.output


def test_concurrent_appends_keep_one_chain(tmp_path) -> None:
    import threading

    log = AuditLog(tmp_path / "a.db", KEY)
    other = AuditLog(tmp_path / "a.db", KEY)  # a second handle, as a second process would have

    def work(lg: AuditLog, who: str) -> None:
        for i in range(50):
            lg.record(who, "x", resource=str(i))

    ts = [threading.Thread(target=work, args=(lg, f"w{i}")) for i, lg in enumerate((log, other, log, other))]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    res = log.verify()
    assert res.ok and res.records == 200
    assert [r.seq for r in log.query()] == list(range(1, 201))
    assert json.dumps(res.problems) == "[]"
