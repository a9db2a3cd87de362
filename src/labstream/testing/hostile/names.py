"""Names and paths: hostile or unusual files in a folder watched by `labstream watch --pipeline
filestats`, beside a good control file (`good.txt`, whose one row in `files` must appear once); and
sample names that try to leave `genomics call --out`. Security: no byte of a file outside the watched
folder (a planted secret, /etc/hostname) may reach the object store, the lake, the catalog or the
quarantine; nothing may be created outside --out."""

from __future__ import annotations

import os
import shutil
import threading
import time
from pathlib import Path
from typing import Any

from labstream.testing.hostile import _assets, _genomics, _probe
from labstream.testing.hostile._case import Case, Expect, Observed

FAMILY = "names"
HOSTNAME = Path("/etc/hostname")


def _folder(plant) -> Any:  # type: ignore[no-untyped-def]
    """A build step: tmp/watched with good.txt, then `plant(watched, tmp)` adds the hostile entries and
    returns the names whose rows are the offender's."""

    def build(tmp: Path) -> dict[str, Any]:
        watched = tmp / "watched"
        watched.mkdir()
        (watched / "good.txt").write_text(f"control file {tmp.name}\n" * 20)
        secret, token = _probe.plant_secret(tmp / "outside")
        inputs = {"tmp": tmp, "watched": watched, "secret": secret, "token": token, "idle": 1.0}
        inputs["offenders"] = plant(watched, inputs)
        return inputs

    return build


def _watch(inputs: dict[str, Any]) -> Observed:
    o = Observed()
    home = inputs["tmp"] / "home"
    writer = inputs.get("writer")
    if writer is not None:
        writer.start()
    _probe.watch(inputs["watched"], home, o, "--pipeline", "filestats", idle=inputs["idle"])
    if writer is not None:
        writer.join()
    _probe.quarantined(home, o)
    rows = _probe.lake_rows(home, "files")
    names = [r["name"] for r in rows]
    o.control_rows = names.count("good.txt")
    o.offender_rows = sum(names.count(n) for n in inputs["offenders"])
    if "final_sha" in inputs:  # a row of a partial version counts as one more, wrong, row
        o.offender_rows += sum(
            1 for r in rows if r["name"] in inputs["offenders"] and r["sha256"] != inputs["final_sha"]
        )
    digests = [_probe.sha256_of(HOSTNAME)] if HOSTNAME.exists() else []
    _probe.scan_leaks([home], o, tokens=[inputs["token"]], digests=digests)
    return o


def _link_secret(watched: Path, inputs: dict[str, Any]) -> list[str]:
    (watched / "x.txt").symlink_to(inputs["secret"])
    return ["x.txt"]


def _link_dir(watched: Path, inputs: dict[str, Any]) -> list[str]:
    (watched / "sub").symlink_to(inputs["secret"].parent, target_is_directory=True)
    return [inputs["secret"].name]


def _link_hostname(watched: Path, inputs: dict[str, Any]) -> list[str]:
    (watched / "h.txt").symlink_to(HOSTNAME)
    return ["h.txt"]


def _named(name: str):  # type: ignore[no-untyped-def]
    def plant(watched: Path, inputs: dict[str, Any]) -> list[str]:
        (watched / name).write_text("an unusual name\n")
        return [name]

    return plant


def _temporary(watched: Path, inputs: dict[str, Any]) -> list[str]:
    names = [".hidden.txt", "run.tmp", "upload.part", "~lock.txt"]
    for n in names:
        (watched / n).write_text(f"still being written: {n}\n")
    return names


def _site_copies(names: list[str]):  # type: ignore[no-untyped-def]
    """Identical bytes under several names (two blank channels of two sites; or one file copied)."""

    def plant(watched: Path, inputs: dict[str, Any]) -> list[str]:
        src = _assets.plate().images / "P01_A01_s1_w1.tif"
        for n in names:
            (watched / n).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy(src, watched / n)
        return sorted({Path(n).name for n in names})

    return plant


def _fifo(watched: Path, inputs: dict[str, Any]) -> list[str]:
    os.mkfifo(watched / "pipe.fastq")
    return ["pipe.fastq"]


def _slow_writer(watched: Path, inputs: dict[str, Any]) -> list[str]:
    """An instrument writing in place, pausing 0.8 s (8x the settle time) between three parts."""
    target = watched / "P01_B02_s1_w1.tif"
    data = (_assets.plate().images / "P01_B02_s1_w1.tif").read_bytes()
    inputs["final_sha"] = __import__("hashlib").sha256(data).hexdigest()
    inputs["idle"] = 3.0

    def write() -> None:
        third = len(data) // 3
        with open(target, "wb") as fh:
            for i in range(3):
                fh.write(data[i * third : (i + 1) * third if i < 2 else len(data)])
                fh.flush()
                time.sleep(0.8)

    inputs["writer"] = threading.Thread(target=write, daemon=True)
    return [target.name]


def _sample(name: str):  # type: ignore[no-untyped-def]
    def build(tmp: Path) -> dict[str, Any]:
        run = _assets.run()
        work = tmp / "lab" / "user"  # --out is work/out: two levels of tmp above it to catch an escape
        work.mkdir(parents=True)
        return {
            "tmp": work,
            "root": tmp,
            "sample": name,
            "reference": Path(run.reference),
            "reads": [run.r1, run.r2],
        }

    return build


def _call_sample(inputs: dict[str, Any]) -> Observed:
    """`genomics call --sample NAME --out work/out`: nothing may appear outside out/, home/, lake/."""
    tmp: Path = inputs["tmp"]
    before = _probe.paths_under(inputs["root"])
    o = _genomics.run_call(inputs)
    allowed = [str(tmp / d) for d in ("out", "home", "lake")]
    for new in sorted(_probe.paths_under(inputs["root"]) - before):
        if not any(new == a or new.startswith(a + os.sep) for a in allowed):
            o.leaks.append(f"created {new} outside --out")
    return o


def _case(cid: str, description: str, plant, expect: Expect, **kw) -> Case:  # type: ignore[no-untyped-def]
    return Case(cid, FAMILY, description, _folder(plant), _watch, expect, **kw)


def _sample_case(cid: str, name: str, description: str, **kw) -> Case:  # type: ignore[no-untyped-def]
    expect = Expect("refused", names="--sample", exit_nonzero=True)
    return Case(cid, FAMILY, description, _sample(name), _call_sample, expect, **kw)


CASES = [
    _case(
        "nm-symlink-secret",
        "x.txt -> a secret file outside the watched folder",
        _link_secret,
        Expect("quarantine", names="x.txt"),
    ),
    _case(
        "nm-symlinked-dir",
        "sub/ -> a folder outside the watched folder",
        _link_dir,
        Expect("quarantine", names="sub"),
    ),
    _case(
        "nm-symlink-etc-hostname",
        "h.txt -> /etc/hostname",
        _link_hostname,
        Expect("quarantine", names="h.txt"),
    ),
    _case("nm-newline-name", "a file name holding a newline", _named("bad\nname.txt"), Expect("handled")),
    _case("nm-long-name", "a 250-character file name", _named("n" * 246 + ".txt"), Expect("handled")),
    _case("nm-unicode-name", "a non-ASCII file name", _named("plâte_ü_β.txt"), Expect("handled")),
    _case("nm-temporary-files", "hidden, .tmp, .part and ~ files", _temporary, Expect("ignored")),
    _case(
        "nm-identical-bytes-two-sites",
        "two sites' channels with identical bytes (two blank fields)",
        _site_copies(["P01_A01_s1_w1.tif", "P01_A02_s1_w1.tif"]),
        Expect("once", offender_rows=2),
    ),
    _case(
        "nm-same-file-twice",
        "one site file copied into two subfolders",
        _site_copies(["a/P01_A03_s1_w1.tif", "b/P01_A03_s1_w1.tif"]),
        Expect("once", offender_rows=1),
    ),
    _case("nm-fifo", "a named pipe called pipe.fastq", _fifo, Expect("quarantine", names="pipe.fastq")),
    _case(
        "nm-in-place-writer",
        "a file written in place with pauses of 8x the settle time",
        _slow_writer,
        Expect("once", offender_rows=1),
    ),
    _sample_case("nm-sample-dotdot", "../../escape", "--sample ../../escape"),
    _sample_case("nm-sample-slash", "a/b", "--sample a/b"),
    _sample_case("nm-sample-newline", "LAM\n1", "--sample with a newline"),
]
