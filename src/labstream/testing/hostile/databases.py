"""Databases: the embedded stream and catalog files damaged between two runs of `labstream watch`.
The first run ingests good.txt (the control: one row in `files`); the file is damaged; the second run
finds new.txt. It must name the damaged file and refuse, or rebuild and carry on; either way good.txt
keeps exactly one row (nothing lost, nothing ingested twice).

Not in the corpus: a garbage entry in a Delta table's `_delta_log` makes `watch --idle-exit` retry the
batch forever (never idle, never exits), and an in-process case cannot be stopped."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from labstream.testing.hostile import _probe
from labstream.testing.hostile._case import Case, Expect, Observed

FAMILY = "databases"


def _build(damage):  # type: ignore[no-untyped-def]
    def build(tmp: Path) -> dict[str, Any]:
        home = tmp / "home"
        watched = tmp / "watched"
        watched.mkdir()
        (watched / "good.txt").write_text(f"control file {tmp.name}\n" * 5)
        first = Observed()
        _probe.watch(watched, home, first, "--pipeline", "filestats")
        if first.exit_code != 0:
            raise RuntimeError(f"the first, good run failed: {first.text[-500:]}")
        damage(home)
        (watched / "new.txt").write_text("landed after the damage\n")
        return {"tmp": tmp, "home": home, "watched": watched}

    return build


def _run(inputs: dict[str, Any]) -> Observed:
    o = Observed()
    home = inputs["home"]
    _probe.watch(inputs["watched"], home, o, "--pipeline", "filestats")
    try:
        rows = _probe.lake_rows(home, "files")
    except Exception as err:  # noqa: BLE001 - a lake the run broke is what we report
        o.add(f"lake unreadable after the run: {type(err).__name__}: {err}")
        rows = []
    o.control_rows = sum(r["name"] == "good.txt" for r in rows)
    o.offender_rows = sum(r["name"] == "new.txt" for r in rows)
    return o


def _garbage(name: str):  # type: ignore[no-untyped-def]
    def damage(home: Path) -> None:
        (home / name).write_bytes(b"this is not a database " * 200)
        for side in ("-wal", "-shm"):
            Path(f"{home / name}{side}").unlink(missing_ok=True)

    return damage


def _truncate(name: str):  # type: ignore[no-untyped-def]
    def damage(home: Path) -> None:
        p = home / name
        p.write_bytes(p.read_bytes()[: p.stat().st_size // 2])
        for side in ("-wal", "-shm"):
            Path(f"{p}{side}").unlink(missing_ok=True)

    return damage


def _empty(name: str):  # type: ignore[no-untyped-def]
    def damage(home: Path) -> None:
        (home / name).write_bytes(b"")
        for side in ("-wal", "-shm"):
            Path(f"{home / name}{side}").unlink(missing_ok=True)

    return damage


def _case(cid: str, description: str, damage, names: str, contain: str = "refused_or_once", **kw) -> Case:  # type: ignore[no-untyped-def]
    expect = Expect(contain, names=names)
    return Case(cid, FAMILY, description, _build(damage), _run, expect, **kw)


CASES = [
    _case("db-garbage-stream", "stream.db overwritten with text", _garbage("stream.db"), "stream.db"),
    _case("db-truncated-stream", "stream.db cut in half", _truncate("stream.db"), "stream.db"),
    _case("db-garbage-catalog", "catalog.db overwritten with text", _garbage("catalog.db"), "catalog.db"),
    _case("db-truncated-catalog", "catalog.db cut in half", _truncate("catalog.db"), "catalog.db"),
    _case(
        "db-emptied-catalog",
        "catalog.db emptied (0 bytes): the lake and stream have history it lacks",
        _empty("catalog.db"),
        "catalog.db",
    ),
    _case("db-emptied-stream", "stream.db emptied (0 bytes)", _empty("stream.db"), "stream.db"),
]
