"""`labstream status`: what is on the stream, in the lake and in quarantine, from persisted state."""

from __future__ import annotations

from rich.console import Console
from rich.table import Table

from labstream.core.settings import Settings


def render_status(settings: Settings, console: Console) -> None:
    from labstream.catalog import open_catalog
    from labstream.lake import open_lake
    from labstream.stream import open_stream

    console.print(
        f"home {settings.home}  stream {settings.stream_url}  executor (configured) {settings.executor_url}"
    )
    stream = open_stream(settings.stream_url)
    topics = Table(title="stream topics")
    for col in ("topic", "partitions", "records (end offsets)"):
        topics.add_column(col)
    for name in sorted(stream.topics()):
        ends = stream.end_offsets(name)
        topics.add_row(name, str(len(ends)), str(sum(ends.values())))
    stream.close()
    console.print(topics)

    lake = open_lake(settings.lake_url)
    present = set(lake.tables())
    owners = _table_owners()
    tables = Table(title="lake tables")
    for col in ("table", "pipeline", "version", "rows"):
        tables.add_column(col)
    for name in sorted(present):
        tables.add_row(
            name, owners.get(name, "-"), str(lake.version(name)), str(lake.dataset(name).count_rows())
        )
    console.print(tables)
    _summaries(lake, present, console)

    cat = open_catalog(settings.catalog_url)
    cat.upgrade()
    ingested = cat.list_ingested()
    quarantined = cat.list_quarantine()
    console.print(
        f"ingested files: {len(ingested)} "
        f"(duplicates seen: {sum(f.duplicate_count for f in ingested)}), quarantined: {len(quarantined)}"
    )
    for q in quarantined[-10:]:
        console.print(f"  [yellow]quarantine[/yellow] {q.stage}: {q.problem} [dim]{q.source}[/dim]")
    # what the tasks recorded, not this process's setting: a home a Dask run wrote says dask://...
    for executor, tasks, hosts in cat.executors_used():
        console.print(f"tasks ran on: {executor} ({tasks} tasks on {hosts} host{'s' if hosts != 1 else ''})")
    _dead_letters(settings, console)


def _dead_letters(settings: Settings, console: Console) -> None:
    """Dead letters with their reasons; `labstream replay` re-runs them after a fix."""
    from labstream.runtime.replay import dead_letters
    from labstream.stream import open_stream

    stream = open_stream(settings.stream_url)
    try:
        dead = dead_letters(stream)
    finally:
        stream.close()
    waiting = [d for d in dead if not d.replayed]
    console.print(f"dead letters: {len(dead)} ({len(waiting)} waiting for `labstream replay`)")
    for d in waiting[-10:]:
        reason = d.error if d.error.startswith(d.error_type) else f"{d.error_type}: {d.error}"
        console.print(f"  [red]dead[/red] {d.stage}: {reason[:200]} [dim]{d.source}[/dim]")


def _table_owners() -> dict[str, str]:
    """Which registered pipeline writes each table (from the contracts)."""
    from labstream.pipelines import contracts

    return {t.name: c.name for c in contracts() for t in c.tables}


def _summaries(lake, present: set[str], console: Console) -> None:  # type: ignore[no-untyped-def]
    """Each pipeline's declared summaries, for pipelines whose tables hold rows here."""
    from labstream.lake import LakeSQL
    from labstream.pipelines import contracts

    sql = None
    for c in contracts():
        for summary in c.faces.summaries:
            if not set(c.table_names) & present:
                continue
            sql = sql or LakeSQL(lake)
            try:
                result = sql.query(summary.sql)
            except Exception as err:  # noqa: BLE001 - a summary over a table not written yet
                console.print(f"[dim]{c.name}: {summary.title}: not available ({type(err).__name__})[/dim]")
                continue
            t = Table(title=f"{c.name}: {summary.title}")
            for col in result.column_names:
                t.add_column(col)
            for row in result.to_pylist()[:20]:
                t.add_row(*(str(v) for v in row.values()))
            console.print(t)
