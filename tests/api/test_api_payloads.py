"""Hostile input on every path- or query-taking endpoint: at least 50 traversal and injection payloads
each. Nothing may be read or written outside the data root (a Python audit hook records every file the
server opens), no row of the other project may come back, and nothing may crash the server (no 500)."""

from __future__ import annotations

import os
import re
import sys
import threading

import pytest

from conftest import World, auth

BASE = [
    "..",
    "../",
    "../../../../etc/passwd",
    "..%2f..%2f..%2fetc%2fpasswd",
    "%2e%2e%2f%2e%2e%2fetc%2fpasswd",
    "....//....//etc/passwd",
    "..\\..\\windows\\win.ini",
    "/etc/passwd",
    "/etc/shadow",
    "file:///etc/passwd",
    "%00",
    "a%00.bam",
    "\x00",
    "..;/",
    "%252e%252e%252f",
    "/proc/self/environ",
    "~/.ssh/id_rsa",
    "C:\\boot.ini",
    "' OR '1'='1",
    "' OR 1=1 --",
    '" OR ""="',
    "1; DROP TABLE gov_users; --",
    "'; SELECT * FROM samples --",
    "' UNION SELECT * FROM samples --",
    "1) OR (1=1",
    "admin'--",
    "%27%20OR%201%3D1",
    "${jndi:ldap://x/a}",
    "{{7*7}}",
    "<script>alert(1)</script>",
    "$(id)",
    "`id`",
    "| cat /etc/passwd",
    "; ls -la",
    "*",
    "%",
    "_",
    "\\",
    "//",
    "/./././",
    "a" * 300,
    "é" * 20,
    "\u202e",
    "null",
    "None",
    "-1",
    "0",
    "9" * 30,
    "1e309",
    "NaN",
    "[]",
    "{}",
    "true",
    "read_csv('/etc/passwd')",
    "samples",
    "alpha/../gamma",
    "drs://evil/x",
    "http://127.0.0.1:1/",
    "%0d%0aSet-Cookie:x=y",
]
PAYLOADS = BASE + [p + "/../x" for p in BASE[:10]]
assert len(PAYLOADS) >= 50

OPENED: list[str] = []
SENTINEL_TEXT = "SENTINEL-OUTSIDE-DATA-ROOT-93b1"  # conftest writes it next to (outside) the home
RECORDING = threading.Event()


def _hook(event: str, args: tuple) -> None:
    if RECORDING.is_set() and event == "open" and isinstance(args[0], (str, bytes, os.PathLike)):
        OPENED.append(os.fsdecode(args[0]))


sys.addaudithook(_hook)


def endpoints(world: World) -> list[tuple[str, str, dict, list[str]]]:
    """(method, url template with {p}, kwargs template, parameter names that receive the payload)."""
    o = world.objects["alpha"]
    return [
        ("GET", "/api/v1/runs?project={p}&offset=0", {}, ["project"]),
        ("GET", "/api/v1/runs/{p}", {}, ["run_id"]),
        ("POST", "/api/v1/runs/{p}/cancel", {}, ["run_id"]),
        ("GET", "/api/v1/samples?project={p}", {}, ["project"]),
        ("GET", "/api/v1/plates?project={p}&limit=5", {}, ["project"]),
        ("GET", "/api/v1/tables/{p}", {}, ["table"]),
        ("GET", "/api/v1/tables/samples?project={p}", {}, ["project"]),
        ("GET", "/api/v1/lineage/{p}", {}, ["lineage_id"]),
        ("GET", "/api/v1/reports?project={p}", {}, ["project"]),
        ("GET", "/api/v1/reports/{p}", {}, ["object_id"]),
        ("GET", "/api/v1/pseudonyms/{p}", {}, ["pseudonym"]),
        ("GET", "/ga4gh/drs/v1/objects/{p}", {}, ["object_id"]),
        ("GET", "/ga4gh/drs/v1/objects/" + o["bam"] + "/access/{p}", {}, ["access_id"]),
        ("GET", "/reads/{p}", {}, ["object_id"]),
        ("GET", "/reads/" + o["bam"] + "?referenceName={p}&start=0&end=100", {}, ["referenceName"]),
        ("GET", "/reads/" + o["bam"] + "?format={p}", {}, ["format"]),
        ("GET", "/variants/" + o["vcf"] + "?referenceName={p}", {}, ["referenceName"]),
        ("GET", "/variants/" + o["vcf"] + "?class={p}", {}, ["class"]),
        ("GET", "/data/{p}?u=admin_alpha&exp=9999999999&sig=00", {}, ["object_id"]),
        ("GET", "/htsget/data/" + o["bam"] + "?kind=reads&referenceName={p}&u=a&exp=1&sig=0", {}, ["ref"]),
        ("GET", "/ga4gh/wes/v1/runs?page_token={p}", {}, ["page_token"]),
        ("GET", "/ga4gh/wes/v1/runs/{p}", {}, ["run_id"]),
        ("GET", "/ga4gh/wes/v1/runs/{p}/status", {}, ["run_id"]),
        ("POST", "/ga4gh/wes/v1/runs/{p}/cancel", {}, ["run_id"]),
        ("POST", "/api/v1/sql", {"json": {"sql": "select * from samples where sample_id = '{p}'"}}, ["sql"]),
        ("POST", "/api/v1/sql", {"json": {"sql": "{p}"}}, ["sql"]),
        ("POST", "/api/v1/runs", {"json": {"project": "{p}", "pipeline": "x"}}, ["project"]),
        (
            "POST",
            "/ga4gh/wes/v1/runs",
            {"data": {"workflow_url": "{p}", "tags": '{"project": "alpha"}'}},
            ["url"],
        ),
    ]


SQL_ATTACKS = [
    "select * from samples where project = 'beta'",
    "select * from read_csv('/etc/passwd')",
    "select * from '/etc/passwd'",
    "select * from read_parquet('{lake}/samples/*.parquet')",
    "attach '{home}/catalog.db' as c",
    "copy samples to '/tmp/out.csv'",
    "install httpfs",
    "select * from samples union all select * from samples",
    "pragma database_list",
    "select * from duckdb_settings()",
    "select * from glob('/etc/*')",
    "select 1; drop table samples",
    "select * from delta_scan('{lake}/samples')",
    "select * from sqlite_scan('{home}/catalog.db', 'gov_tokens')",
    "set enable_external_access = true",
    "select * from read_text('{sentinel}')",
]


def _sub(obj, payload: str):
    if isinstance(obj, str):
        return obj.replace("{p}", payload)
    if isinstance(obj, dict):
        return {k: _sub(v, payload) for k, v in obj.items()}
    return obj


def _allowed(path: str, world: World) -> bool:
    real = os.path.realpath(path)
    import labstream

    code = os.path.dirname(os.path.realpath(labstream.__file__))  # source lines for tracebacks
    roots = [
        os.path.realpath(world.home),
        os.path.realpath(sys.prefix),
        os.path.realpath(sys.base_prefix),
        code,
        "/usr/share/zoneinfo",
    ]
    return any(real == r or real.startswith(r + os.sep) for r in roots) or real.startswith(
        ("/dev/", "/proc/self/")
    )


def _check(r, world: World, where: str) -> None:
    assert r.status_code < 500, where
    body = r.text
    assert SENTINEL_TEXT not in body, where
    assert "root:x:0:0" not in body, where
    if r.headers.get("content-type", "").startswith("application/json") and r.status_code == 200:
        data = r.json()
        rows = data.get("items", []) if isinstance(data, dict) else data if isinstance(data, list) else []
        for row in rows:
            if isinstance(row, dict) and "project" in row:
                assert row["project"] == "alpha", where
        if isinstance(data, dict) and "rows" in data:
            assert "beta" not in body, where


@pytest.mark.slow
def test_payloads_on_every_endpoint(client, world: World) -> None:
    h = auth(world, "admin_alpha")
    sent = 0
    OPENED.clear()
    RECORDING.set()
    try:
        for method, url, kw, _names in endpoints(world):
            for payload in PAYLOADS:
                p = payload if "json" in kw or "data" in kw else _quote(payload, url)
                r = client.request(method, _sub(url, p), headers=h, **_sub(kw, payload))
                _check(r, world, f"{method} {url} {payload!r} -> {r.status_code} {r.text[:200]}")
                sent += 1
        for attack in SQL_ATTACKS:
            sql = attack.format(lake=world.settings.lake_url, home=world.home, sentinel=world.sentinel)
            r = client.post("/api/v1/sql", headers=h, json={"sql": sql})
            _check(r, world, f"sql {sql!r} -> {r.status_code} {r.text[:200]}")
            assert r.status_code in (200, 400), sql
            sent += 1
    finally:
        RECORDING.clear()
    outside = sorted({p for p in OPENED if not _allowed(p, world)})
    assert outside == [], f"files opened outside the data root: {outside[:10]}"
    assert sent >= 50 * len(endpoints(world))
    assert not os.path.exists("/tmp/out.csv")


def _quote(payload: str, url: str) -> str:
    from urllib.parse import quote

    # path segments and query values are percent-encoded as a client would; raw traversal is tried too
    return quote(payload, safe="") if re.search(r"\{p\}(/|$|\?)", url) else quote(payload, safe="/")


def test_raw_traversal_paths(client, world: World) -> None:
    h = auth(world, "admin_alpha")
    for raw in (
        "/api/v1/reports/../../../etc/passwd",
        "/ga4gh/drs/v1/objects/..%2F..%2Fcatalog.db",
        "/reads/%2e%2e%2f%2e%2e%2fkeys%2fmaster.json",
        "/data/../keys/master.json",
    ):
        r = client.get(raw, headers=h)
        _check(r, world, raw)
        assert r.status_code in (403, 404, 422), raw
        assert b"keys" not in r.content or r.status_code != 200
