"""CLI: user mistakes (typos, missing or invalid files, bad URLs). Each must exit non-zero with one
line naming what is wrong and no traceback; the corrected command then runs (the control)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from labstream.testing.hostile import _assets, _genomics, _probe
from labstream.testing.hostile._case import Case, Expect, Observed

FAMILY = "cli"


def _folder(tmp: Path) -> Path:
    watched = tmp / "watched"
    watched.mkdir()
    (watched / "good.txt").write_text(f"control file {tmp.name}\n" * 5)
    return watched


def _watch_build(args, env: dict[str, str] | None = None):  # type: ignore[no-untyped-def]
    """`labstream watch DIR ARGS` (ARGS may use {dir} and {tmp}), then the control: plain filestats."""

    def build(tmp: Path) -> dict[str, Any]:
        watched = _folder(tmp)
        (tmp / "bad.toml").write_text('reference = ["unclosed"\n')
        fmt = [a.format(dir=watched, tmp=tmp) for a in args]
        return {"tmp": tmp, "watched": watched, "args": fmt, "env": env or {}}

    return build


def _watch_run(inputs: dict[str, Any]) -> Observed:
    o = Observed()
    home = inputs["tmp"] / "home"
    _probe.cli(["watch", *inputs["args"], "--idle-exit", "1", "--settle", "0.1"], home, o, env=inputs["env"])
    o.offender_rows = len(_probe.lake_rows(home, "files"))
    control = Observed()
    _probe.watch(inputs["watched"], home, control, "--pipeline", "filestats")
    o.control_rows = sum(r["name"] == "good.txt" for r in _probe.lake_rows(home, "files"))
    return o


def _call_build(*extra: str, reads: int = 2):  # type: ignore[no-untyped-def]
    def build(tmp: Path) -> dict[str, Any]:
        run = _assets.run()
        return {
            "tmp": tmp,
            "reference": Path(run.reference),
            "reads": [run.r1, run.r2, run.r1][:reads],
            "extra": extra,
        }

    return build


def _sql_run(inputs: dict[str, Any]) -> Observed:
    o = Observed()
    home = inputs["tmp"] / "home"
    _probe.cli(["sql", inputs["sql"]], home, o)
    control = Observed()
    _probe.cli(["sql", "SELECT 40 + 2 AS answer"], home, control)
    o.control_rows = int(control.exit_code == 0 and "42" in control.text)
    return o


def _mistake(names: str) -> Expect:
    return Expect("refused", names=names, exit_nonzero=True)


def _watch(cid: str, description: str, args: list[str], names: str, env=None, **kw) -> Case:  # type: ignore[no-untyped-def]
    return Case(cid, FAMILY, description, _watch_build(args, env), _watch_run, _mistake(names), **kw)


def _gx_watch(cid: str, description: str, names: str, *flags: str) -> Case:
    """`labstream watch DIR --pipeline genomics FLAGS`: a mistake in the genomics settings."""
    return _watch(cid, description, ["{dir}", "--pipeline", "genomics", *flags], names)


def _env_watch(cid: str, variable: str, value: str, names: str) -> Case:
    """`labstream watch DIR` with `variable=value` in its environment: a bad backend URL."""
    return _watch(cid, f"{variable}={value}", ["{dir}"], names, env={variable: value})


def _call(cid: str, description: str, names: str, *extra: str, reads: int = 2, **kw) -> Case:  # type: ignore[no-untyped-def]
    build = _call_build(*extra, reads=reads)
    return Case(cid, FAMILY, description, build, _genomics.run_call, _mistake(names), **kw)


CASES = [
    _watch("cli-pipeline-typo", "watch --pipeline phenomic", ["{dir}", "--pipeline", "phenomic"], "phenomic"),
    _gx_watch(
        "cli-unknown-setting", "watch --pipeline genomics --set nonsense=1", "nonsense", "--set", "nonsense=1"
    ),
    _gx_watch("cli-set-without-equals", "watch --set threads", "threads", "--set", "threads"),
    _gx_watch(
        "cli-config-missing",
        "watch --config of a file that does not exist",
        "nope.toml",
        "--config",
        "{tmp}/nope.toml",
    ),
    _gx_watch(
        "cli-config-invalid-toml", "watch --config of invalid TOML", "bad.toml", "--config", "{tmp}/bad.toml"
    ),
    _watch("cli-watch-missing-folder", "watch a folder that does not exist", ["{tmp}/nowhere"], "nowhere"),
    _env_watch("cli-executor-unknown-scheme", "LABSTREAM_EXECUTOR_URL", "nosuch://x", "nosuch"),
    _env_watch("cli-stream-url-unknown-scheme", "LABSTREAM_STREAM_URL", "foo://broker", "foo://"),
    _call("cli-aligner-typo", "genomics call --aligner bowtie", "bowtie", "--aligner", "bowtie"),
    _call("cli-caller-typo", "genomics call --caller gatk", "gatk", "--caller", "gatk"),
    _call("cli-threads-zero", "genomics call --threads 0", "--threads", "--threads", "0"),
    _call("cli-reads-three-times", "genomics call with --reads given three times", "--reads", reads=3),
    Case(
        "cli-sql-typo",
        FAMILY,
        "labstream sql 'SELEC 1'",
        lambda tmp: {"tmp": tmp, "sql": "SELEC 1"},
        _sql_run,
        _mistake("SELEC"),
    ),
]
