"""`labstream watch DIR`: ingest files as they land and run a pipeline on them, with live status."""

from __future__ import annotations

import signal
import threading
import time
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

import typer
from rich.console import Console
from rich.live import Live
from rich.table import Table

from labstream.core.settings import Settings

if TYPE_CHECKING:
    from labstream.ingest.watch_stats import LayoutSeen

console = Console()


def _status_table(watcher, stages: dict[str, dict]) -> Table:  # type: ignore[no-untyped-def] - Watcher
    t = Table(title="labstream watch")
    for col in ("stage", "processed", "failed", "dlq", "lag", "in flight"):
        t.add_column(col)
    t.add_row("ingest", str(watcher.stats.published), str(watcher.stats.quarantined), "-", "-", "-")
    for name, s in stages.items():
        t.add_row(
            name,
            str(s.get("processed", 0)),
            str(s.get("failed", 0)),
            str(s.get("dlq", 0)),
            str(s.get("lag", "-")),
            str(s.get("in_flight", 0)),
        )
    return t


def watch(
    folder: Path = typer.Argument(..., exists=True, file_okay=False, help="folder the instrument writes to"),
    pipeline: str = typer.Option(
        "filestats",
        help="pipeline run on landed files (`labstream pipelines list`), or 'none' to only ingest",
    ),
    config: Path | None = typer.Option(
        None, exists=True, dir_okay=False, help='TOML file of the pipeline\'s settings (reference = "ref.fa")'
    ),
    setting: list[str] = typer.Option(
        [], "--set", help="one setting as KEY=VALUE (over --config), e.g. --set threads=4; repeatable"
    ),
    settle: float = typer.Option(0.3, help="seconds a file's size must stay unchanged"),
    poll: bool = typer.Option(
        False, "--poll", help="rescan the folder instead of OS notifications (network mounts: NFS, SMB)"
    ),
    idle_exit: float | None = typer.Option(
        None, help="exit after this many idle seconds (default: run until Ctrl-C)"
    ),
    governed: bool | None = typer.Option(
        None,
        "--governed/--ungoverned",
        help="encrypt raw objects per project, pseudonymize identifiers, enforce residency "
        "(default: LABSTREAM_GOVERNED)",
    ),
    project: str | None = typer.Option(
        None, help="project of the folder's files (default: LABSTREAM_PROJECT)"
    ),
) -> None:
    """Publish each instrument file once it is complete; run the pipeline; show live status.

    The pipeline and its settings are checked before anything starts (`labstream pipelines show NAME`)."""
    from labstream.ingest import Ingestor, Watcher

    built = None
    if pipeline != "none":
        from labstream.pipelines import build_pipeline

        values, source = pipeline_settings(config, setting)
        built = build_pipeline(pipeline, values, source=source)
    settings = Settings()
    governed = settings.governed if governed is None else governed
    project = project or settings.project
    gov = None
    runner_kw: dict[str, object] = {}
    if governed:
        from labstream.governance.governed import GovernedIngest, runner_options
        from labstream.governance.service import Governance

        gov = Governance.open(settings)
        ingestor = GovernedIngest(gov, project=project)
        runner_kw = runner_options(gov)
    else:
        ingestor = Ingestor(settings)
    watcher = Watcher(folder, ingestor, settle_seconds=settle, mode="poll" if poll else "auto")  # type: ignore[arg-type]
    runner = None
    if built is not None:
        from labstream.runtime.runner import PipelineRunner

        runner = PipelineRunner(settings, built, **runner_kw)  # type: ignore[arg-type]
    stop = threading.Event()
    threads = [threading.Thread(target=watcher.run, args=(stop,), daemon=True)]
    if runner is not None:
        from labstream.ops.ledger import refresh_forever

        threads.append(threading.Thread(target=runner.run_forever, args=(stop,), daemon=True))
        # costs and turnaround clocks follow the run (labstream cost / tat read them)
        threads.append(threading.Thread(target=refresh_forever, args=(settings, stop), daemon=True))
    for t in threads:
        t.start()
    # SIGTERM (systemd, Kubernetes, `kill`) stops like Ctrl-C: stages close, offsets commit, the pool ends
    previous = signal.signal(signal.SIGTERM, lambda _signum, _frame: stop.set())
    last_change, last_seen = time.monotonic(), -1
    stalled: str | None = None
    try:
        with Live(_status_table(watcher, {}), console=console, refresh_per_second=4) as live:
            while not stop.is_set():
                time.sleep(0.25)
                stages = runner.status() if runner is not None else {}  # one snapshot per tick
                live.update(_status_table(watcher, stages))
                seen = watcher.stats.published + watcher.stats.duplicate + watcher.stats.quarantined
                seen += _progress(stages)
                if seen != last_seen:
                    last_change, last_seen = time.monotonic(), seen
                if idle_exit is not None and time.monotonic() - last_change > idle_exit:
                    if runner is None or runner.is_idle():
                        break
                    if runner.errors:  # no progress for idle_exit s and batches keep failing: stalled
                        stalled = runner.errors[-1]
                        break
    except KeyboardInterrupt:
        pass
    finally:
        signal.signal(signal.SIGTERM, previous)
        stop.set()
        for t in threads:
            t.join(timeout=10)
        if runner is not None:
            runner.close()
        ingestor.close()
        if gov is not None:
            gov.close()
    mode = f"governed, project {project}" if governed else "ungoverned"
    console.print(
        f"({mode}) ingested {watcher.stats.published}, duplicates {watcher.stats.duplicate}, "
        f"quarantined {watcher.stats.quarantined}"
    )
    if built is not None and (other := not_this_pipelines_input(pipeline, watcher.stats.layouts)):
        console.print(other, style="yellow")
    if stalled is not None:
        from labstream.core.errors import StorageError

        raise StorageError(
            f"stalled: no progress for {idle_exit} s while a stage keeps failing ({stalled}); fix the "
            "cause and run watch again: the failed batches are re-read from their committed offsets"
        )


def not_this_pipelines_input(pipeline: str, layouts: Mapping[str, LayoutSeen]) -> str | None:
    """A note when files of a layout the pipeline does not consume were ingested (a sequencer's FASTQ in a
    folder watched by phenomics): they are kept, but nothing processes them, and silence would hide it.
    `layouts`: the watch's per-layout tally (`WatchStats.layouts`: counts and the first few names)."""
    from labstream.pipelines import contracts, get_contract

    wanted = get_contract(pipeline).layouts
    if not wanted:  # a pipeline of every file (filestats)
        return None
    others = {k: v for k, v in layouts.items() if k != "unknown" and k not in wanted and v.count}
    if not others:
        return None
    parts = []
    for layout, seen in sorted(others.items()):
        users = [c.name for c in contracts() if layout in c.layouts]
        where = (
            f"run `labstream watch DIR --pipeline {users[0]}` for them"
            if users
            else "no pipeline streams this layout (`labstream pipelines list` names the layouts each reads)"
        )
        shown = ", ".join(seen.names[:3]) + (f" and {seen.count - 3} more" if seen.count > 3 else "")
        parts.append(f"{seen.count} file(s) of layout {layout} ({shown}): {where}")
    return f"not {pipeline} input, ingested but not processed: " + "; ".join(parts)


def _progress(stages: dict[str, dict]) -> int:
    """Work the stages have finished, in any outcome: a change means the pipeline is not stalled."""
    return sum(s["processed"] + s["failed"] + s["quarantined"] + s["dlq"] for s in stages.values())


def pipeline_settings(config: Path | None, pairs: list[str]) -> tuple[dict[str, object], str]:
    """Settings from `--config FILE` then `--set KEY=VALUE` (values parsed as TOML, else kept as text),
    and where they came from, for error messages."""
    import tomllib

    from labstream.core.errors import ConfigError
    from labstream.runtime.contract import read_config

    values: dict[str, object] = read_config(config) if config is not None else {}
    for pair in pairs:
        key, eq, text = pair.partition("=")
        if not eq or not key.strip():
            raise ConfigError(f"--set {pair!r} is not KEY=VALUE; write e.g. --set threads=4")
        try:
            values[key.strip()] = tomllib.loads(f"v = {text}")["v"]
        except tomllib.TOMLDecodeError:
            values[key.strip()] = text
    where = [f"--config {config}"] if config is not None else []
    where += ["--set"] if pairs else []
    return values, " and ".join(where) or "no --config"
