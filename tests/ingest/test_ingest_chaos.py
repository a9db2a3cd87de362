"""kill -9 chaos on the ingest side: `labstream watch` SIGKILLed at random moments while an instrument
writes files in place (open, write part, pause longer than the settle time, write the rest, close), and
the catalog file lost (emptied) once mid-run. Each time watch is restarted. At the end every file has
exactly one row, holding its final bytes: 0 lost, 0 duplicated, 0 partial versions."""

from __future__ import annotations

import hashlib
import os
import random
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from labstream.core.settings import Settings
from labstream.lake import LakeSQL, open_lake

pytestmark = [pytest.mark.chaos, pytest.mark.slow]

N_FILES = 24
MIN_KILLS = 6


def _instrument(folder: Path, rng: random.Random, done: threading.Event) -> None:
    """Every third file is written in place with a pause; the rest in one go."""
    for i in range(N_FILES):
        path = folder / f"run1_file{i:03d}.dat"
        body = f"file {i} ".encode() * rng.randint(50, 400)
        if i % 3 == 0:
            with open(path, "wb") as fh:
                fh.write(body[: len(body) // 2])
                fh.flush()
                time.sleep(rng.uniform(0.4, 0.9))  # longer than the settle time below
                fh.write(body[len(body) // 2 :])
        else:
            path.write_bytes(body)
        time.sleep(rng.uniform(0.02, 0.15))
    done.set()


def _watch(folder: Path, env: dict[str, str], idle_exit: float) -> subprocess.Popen[bytes]:
    args = [sys.executable, "-m", "labstream.cli.main", "watch", str(folder), "--pipeline", "filestats"]
    args += ["--settle", "0.2", "--idle-exit", str(idle_exit)]
    return subprocess.Popen(args, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def _kill_rounds(folder: Path, env: dict[str, str], rng: random.Random, until) -> int:  # noqa: ANN001
    """Start watch, SIGKILL it after 3-6 s (start-up takes ~2 s on a loaded machine), again, until
    `until(kills)`; returns the kills."""
    kills, deadline = 0, time.monotonic() + 240
    while not until(kills) and time.monotonic() < deadline:
        proc = _watch(folder, env, idle_exit=30)
        try:
            proc.wait(timeout=rng.uniform(3.0, 6.0))
        except subprocess.TimeoutExpired:
            proc.send_signal(signal.SIGKILL)
            proc.wait()
            kills += 1
            continue
        pytest.fail(f"watch exited early ({proc.returncode}): {proc.stderr.read().decode()[-3000:]}")
    return kills


def _drain(folder: Path, env: dict[str, str]) -> None:
    final = _watch(folder, env, idle_exit=3)
    _, err = final.communicate(timeout=180)
    assert final.returncode == 0, err.decode()[-3000:]


def _empty_catalog(home: Path) -> None:
    """What a lost catalog looks like: `: > catalog.db`, no WAL beside it."""
    db = home / "catalog.db"
    db.write_bytes(b"")
    for side in ("-wal", "-shm"):
        Path(str(db) + side).unlink(missing_ok=True)


def test_watch_killed_while_writing_in_place_and_catalog_lost(tmp_path: Path) -> None:
    rng = random.Random(20261206)
    home, folder = tmp_path / "home", tmp_path / "in"
    folder.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith("LABSTREAM_")}
    env.update(LABSTREAM_HOME=str(home), COLUMNS="120")

    written = threading.Event()
    writer = threading.Thread(target=_instrument, args=(folder, rng, written), daemon=True)
    writer.start()
    # 1: watch killed at random while the instrument writes (in place, with pauses)
    kills = _kill_rounds(folder, env, rng, until=lambda k: k >= MIN_KILLS // 2 and written.is_set())
    writer.join(30)
    _drain(folder, env)
    # 2: the catalog is lost after everything is in; watch is killed again while it rebuilds
    _empty_catalog(home)
    kills += _kill_rounds(folder, env, rng, until=lambda k: k >= MIN_KILLS // 2)
    _drain(folder, env)
    assert kills >= MIN_KILLS, kills

    sql = LakeSQL(open_lake(Settings(home=home).lake_url))
    rows = sql.query("SELECT name, sha256, size FROM files").to_pylist()
    names = [r["name"] for r in rows]
    final_bytes = {p.name: p.read_bytes() for p in folder.iterdir()}
    lost = sorted(set(final_bytes) - set(names))
    duplicated = sorted({n for n in names if names.count(n) > 1})
    partial = sorted(
        r["name"] for r in rows if r["sha256"] != hashlib.sha256(final_bytes[r["name"]]).hexdigest()
    )
    print(f"files={len(final_bytes)} rows={len(rows)} kills={kills} lost={lost} dup={duplicated[:5]}")
    assert (lost, duplicated, partial) == ([], [], [])
    assert len(rows) == N_FILES
