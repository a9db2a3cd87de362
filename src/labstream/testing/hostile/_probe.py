"""How a case drives an entry point and looks at what it left: CLI runs, lake rows, quarantine, dead
letters, and the security scan (no planted secret's bytes anywhere in the platform's stores)."""

from __future__ import annotations

import hashlib
import os
import secrets
import traceback
from pathlib import Path
from typing import Any

from labstream.testing.hostile._case import Observed

SECRET_PREFIX = "HOSTILE-SECRET-"  # noqa: S105 - a marker planted and looked for, not a credential


def cli(args: list[str], home: Path, o: Observed, env: dict[str, str] | None = None) -> int:
    """`labstream ARGS` in process (typer's CliRunner) with LABSTREAM_HOME=home; output and any escaped
    exception (as the traceback a user would see) go into `o.text`."""
    from typer.testing import CliRunner

    from labstream.cli.main import app

    full_env = {
        "LABSTREAM_HOME": str(home),
        "LABSTREAM_EXECUTOR_URL": "local?cpu=1",
        "COLUMNS": "200",
        **(env or {}),
    }
    saved = {k: v for k, v in os.environ.items() if k.startswith("LABSTREAM_")}
    for k in saved:
        os.environ.pop(k)
    try:
        res = CliRunner().invoke(app, [str(a) for a in args], env=full_env)
    finally:
        os.environ.update(saved)
    o.add(res.output)
    if res.exception is not None and not isinstance(res.exception, SystemExit):
        o.add("".join(traceback.format_exception(*res.exc_info)))  # type: ignore[misc]
    o.exit_code = res.exit_code
    return res.exit_code


def watch(folder: Path, home: Path, o: Observed, *args: str, idle: float = 1.0) -> int:
    return cli(["watch", folder, "--idle-exit", str(idle), "--settle", "0.1", *args], home, o)


def settings(home: Path) -> Any:
    from labstream.core.settings import Settings

    return Settings(home=home)


def lake_rows(home: Path, table: str, lake: Path | None = None) -> list[dict[str, Any]]:
    from labstream.lake import open_lake

    where = lake if lake is not None else home / "lake"
    if not where.exists():
        return []
    lk = open_lake(str(where))
    return lk.read(table).to_pylist() if lk.exists(table) else []


def quarantined(home: Path, o: Observed) -> list[str]:
    """Quarantine entries of the home's catalog (`source: problem`), added to `o`."""
    from labstream.catalog import open_catalog

    if not (home / "catalog.db").exists():
        return []
    cat = open_catalog(settings(home).catalog_url)
    try:
        found = [f"{q.source}: {q.problem}" for q in cat.list_quarantine()]
    finally:
        cat.close()
    o.quarantined += found
    o.add(*found)
    return found


def dead_letters(home: Path, topic: str, o: Observed) -> list[str]:
    """Dead letters on `<topic>.dlq` (`source: error`), added to `o`."""
    from labstream.stream import open_stream

    stream = open_stream(settings(home).stream_url)
    found: list[str] = []
    try:
        if f"{topic}.dlq" in stream.topics():
            consumer = stream.consumer("hostile-reader", [f"{topic}.dlq"])
            while batch := consumer.poll(max_records=500, timeout=0.3):
                found += [
                    f"{r.headers.get('event_id') or r.headers.get('source')}: {r.headers.get('error')}"
                    for r in batch
                ]
            consumer.close()
    finally:
        stream.close()
    o.dead_letters += found
    o.add(*found)
    return found


def plant_secret(folder: Path, name: str = "secret.txt") -> tuple[Path, bytes]:
    """A file outside every allowed root, holding a unique token the scan looks for."""
    folder.mkdir(parents=True, exist_ok=True)
    token = (SECRET_PREFIX + secrets.token_hex(12)).encode()
    path = folder / name
    path.write_bytes(token + b"\n")
    return path, token


def scan_leaks(roots: list[Path], o: Observed, tokens: list[bytes] = (), digests: list[str] = ()) -> None:
    """Security: no file under `roots` holds a planted token, or is a copy of a file whose sha256 is in
    `digests` (e.g. /etc/hostname, too short to look for as bytes). Lake/catalog files are scanned too."""
    for root in roots:
        if not root.exists():
            continue
        for p in root.rglob("*"):
            if not p.is_file() or p.is_symlink():
                continue
            data = p.read_bytes()
            for t in tokens:
                if t in data:
                    o.leaks.append(f"{p} holds the planted secret")
            if digests and hashlib.sha256(data).hexdigest() in digests:
                o.leaks.append(f"{p} is a copy of a file outside the allowed roots")


def sha256_of(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def paths_under(root: Path) -> set[str]:
    return {str(p) for p in root.rglob("*")} if root.exists() else set()
