"""Crash test: 10,000 events through a worker process SIGKILLed at random moments, >= 20 times.

Some kills come from outside at random times; others from the worker itself right after the lake
commit and before the offset commit (LABSTREAM_FAULT). Each time the worker is restarted. At the end
every event has exactly one row in each stage's table: 0 lost, 0 duplicated (the second stage also sees
the first stage's re-publications after its crashes).
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from labstream.core.events import Event
from labstream.core.settings import Settings
from labstream.lake import LakeSQL, open_lake
from labstream.stream import open_stream

pytestmark = [pytest.mark.chaos, pytest.mark.slow]

N_EVENTS = 10_000
MIN_KILLS = 20
HERE = Path(__file__).parent


def worker(env: dict[str, str], *, until_idle: bool) -> subprocess.Popen[bytes]:
    args = [
        sys.executable,
        "-m",
        "labstream.runtime.worker_main",
        "--pipeline",
        "runtime_chaos_stages:pipeline",
        "--executor",
        "local?cpu=2&start=fork",
        "--batch-size",
        "100",
    ]
    if until_idle:
        args.append("--until-idle")
    return subprocess.Popen(args, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def test_sigkill_chaos_exactly_once(tmp_path: Path) -> None:
    rng = random.Random(20240607)
    home = tmp_path / "home"
    stream_url = f"sqlite:///{home / 'stream.db'}?session_timeout_ms=1000"
    settings = Settings(home=home, stream_url=stream_url)
    settings.ensure_home()
    stream = open_stream(stream_url)
    stream.create_topic("chaos.in", partitions=4)
    for i in range(N_EVENTS):
        stream.publish(
            "chaos.in", Event(type="tick", key=f"k{i % 97}", data={"seq": i}).to_json(), key=f"k{i % 97}"
        )
    stream.flush()

    env = {k: v for k, v in os.environ.items() if not k.startswith("LABSTREAM_")}
    env.update(
        LABSTREAM_HOME=str(home),
        LABSTREAM_STREAM_URL=stream_url,
        PYTHONPATH=os.pathsep.join([str(HERE), *sys.path]),
    )
    chaos_env = {**env, "LABSTREAM_FAULT": "after_lake_commit:0.08,after_publish:0.02"}

    outside_kills = self_kills = 0
    deadline = time.monotonic() + 150
    while time.monotonic() < deadline and (
        outside_kills + self_kills < MIN_KILLS or not (outside_kills and self_kills)
    ):
        proc = worker(chaos_env, until_idle=True)
        # on a loaded machine a worker can spend the whole random window importing: once outside kills
        # are plenty and none came from inside yet, let it run until a fault point kills it
        window = 60.0 if outside_kills >= MIN_KILLS and not self_kills else rng.uniform(1.0, 3.0)
        try:
            proc.wait(timeout=window)
        except subprocess.TimeoutExpired:
            proc.send_signal(signal.SIGKILL)
            proc.wait()
            outside_kills += 1
            continue
        if proc.returncode == -signal.SIGKILL:
            self_kills += 1
        elif proc.returncode == 0:
            break  # drained before enough kills: the assertion on kills below reports it
        else:
            pytest.fail(f"worker failed with {proc.returncode}: {proc.stderr.read().decode()[-3000:]}")
    # a clean run drains whatever is left
    final = worker(env, until_idle=True)
    _, err = final.communicate(timeout=120)
    assert final.returncode == 0, err.decode()[-3000:]

    assert outside_kills + self_kills >= MIN_KILLS, (outside_kills, self_kills)
    assert self_kills >= 1 and outside_kills >= 1, (outside_kills, self_kills)
    sql = LakeSQL(open_lake(settings.lake_url))
    for table in ("chaos_first", "chaos_second"):
        got = sql.query(
            f"SELECT count(*) AS n, count(DISTINCT seq) AS d, min(seq) AS lo, max(seq) AS hi FROM {table}"
        ).to_pylist()[0]
        lost = N_EVENTS - got["d"]
        duplicated = got["n"] - got["d"]
        print(
            f"{table}: rows={got['n']} lost={lost} duplicated={duplicated} "
            f"kills outside={outside_kills} self={self_kills}"
        )
        assert (lost, duplicated) == (0, 0)
        assert (got["lo"], got["hi"]) == (0, N_EVENTS - 1)
