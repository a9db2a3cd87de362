"""What an idle watcher costs: CPU of a Watcher over a folder of 20,000 files that nothing writes.

The issue measured 93% of a core: the old watcher rescanned the folder every 0.1 s. With OS
notifications (`mode="notify"`, the default where watchdog's inotify observer runs) an idle watcher
sleeps until the kernel reports a change. The baseline is the same Watcher in `mode="poll"` (the
fallback for network mounts, and what the old watcher always did), measured in the same run.

Each mode runs in its own child process, so CPU time (user + sys from `resource.getrusage`) is that
watcher's alone: the child creates nothing, starts the Watcher on the prepared folder, waits until
every file has gone through it, then measures CPU over `--idle` seconds of wall time in which
nothing is written. The ingest is a stub that only counts: what is measured is the watcher's own
idle cost, not hashing and copying 20,000 files at start (the ingest's cost is bench/stream.py's and
ingest.latency's business).

    python bench/watcher_idle.py [--files 20000] [--idle 10]   # prints one JSON object
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from labstream.ingest.files import IngestResult
from labstream.ingest.watcher import Watcher


class CountingIngest:
    """Stands in for Ingestor: records what the watcher hands over, does nothing else."""

    def __init__(self) -> None:
        self.n = 0

    def ingest_file(self, path: Path, **_: object) -> IngestResult:
        self.n += 1
        return IngestResult(str(path), "published")

    def ingest_zarr_field(self, field: object, **_: object) -> IngestResult:
        self.n += 1
        return IngestResult(str(field), "published")

    def quarantine_source(self, err: Exception) -> IngestResult:
        return IngestResult(str(err), "quarantined")


def make_folder(root: Path, files: int, per_folder: int = 1000) -> None:
    for i in range(files):
        d = root / f"plate{i // per_folder:03d}"
        if i % per_folder == 0:
            d.mkdir(parents=True, exist_ok=True)
        (d / f"P{i // per_folder}_A01_s{i % per_folder}_w1.tif").write_bytes(b"x" * 64)


def _cpu() -> float:
    ru = resource.getrusage(resource.RUSAGE_SELF)
    return ru.ru_utime + ru.ru_stime


def measure(folder: Path, mode: str, files: int, idle: float) -> dict[str, float | int | str]:
    """In this process: start a watcher, let it take every file, then time `idle` seconds of nothing."""
    ingest = CountingIngest()
    w = Watcher(folder, ingest, mode=mode)  # type: ignore[arg-type]
    stop = threading.Event()
    t = threading.Thread(target=w.run, args=(stop,), daemon=True)
    started = time.monotonic()
    t.start()
    while ingest.n < files:
        if time.monotonic() - started > 600:
            raise SystemExit(f"{mode}: only {ingest.n}/{files} files seen in 600 s")
        time.sleep(0.2)
    settled_s = time.monotonic() - started
    time.sleep(1.0)  # let the last settle ticks pass
    cpu0, wall0 = _cpu(), time.monotonic()
    time.sleep(idle)
    cpu, wall = _cpu() - cpu0, time.monotonic() - wall0
    actual = "notify" if w.notifier is not None else "poll"  # what ran (auto may fall back)
    stop.set()
    t.join(timeout=10)
    return {
        "mode": actual,
        "files_seen": ingest.n,
        "start_to_all_seen_s": round(settled_s, 2),
        "idle_wall_s": round(wall, 2),
        "idle_cpu_s": round(cpu, 4),
        "cpu_fraction_of_a_core": round(cpu / wall, 5),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--files", type=int, default=20_000)
    ap.add_argument("--idle", type=float, default=10.0)
    ap.add_argument("--child", choices=["notify", "poll"], help=argparse.SUPPRESS)
    ap.add_argument("--folder", type=Path, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        print(json.dumps(measure(args.folder, args.child, args.files, args.idle)))
        return
    out: dict[str, object] = {"files": args.files, "idle_s": args.idle}
    with tempfile.TemporaryDirectory(prefix="watcher-idle-") as tmp:
        folder = Path(tmp) / "in"
        make_folder(folder, args.files)
        for mode in ("notify", "poll"):
            cmd = [sys.executable, __file__, "--child", mode, "--folder", str(folder)]
            cmd += ["--files", str(args.files), "--idle", str(args.idle)]
            done = subprocess.run(cmd, capture_output=True, text=True, check=True)
            out[mode] = json.loads(done.stdout.strip().splitlines()[-1])
    notify, poll = out["notify"], out["poll"]
    n_cpu = notify["cpu_fraction_of_a_core"]  # type: ignore[index]
    p_cpu = poll["cpu_fraction_of_a_core"]  # type: ignore[index]
    out["poll_over_notify"] = round(p_cpu / n_cpu, 1) if n_cpu else None
    out["target_met"] = n_cpu < 0.02
    print(json.dumps(out))


if __name__ == "__main__":
    main()
