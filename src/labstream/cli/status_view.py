"""`labstream status`: what is on the stream, in the lake and in quarantine, from persisted state."""

from __future__ import annotations

from rich.console import Console
from rich.table import Table

from labstream.core.settings import Settings


def render_status(settings: Settings, console: Console) -> None:
    from labstream.catalog import Catalog
    from labstream.lake import open_lake
    from labstream.stream import open_stream

    console.print(f"home {settings.home}  stream {settings.stream_url}  executor {settings.executor_url}")
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
    tables = Table(title="lake tables")
    for col in ("table", "version", "rows"):
        tables.add_column(col)
    for name in lake.tables():
        tables.add_row(name, str(lake.version(name)), str(lake.dataset(name).count_rows()))
    console.print(tables)

    cat = Catalog(settings.catalog_url)
    cat.upgrade()
    ingested = cat.list_ingested()
    quarantined = cat.list_quarantine()
    console.print(
        f"ingested files: {len(ingested)} "
        f"(duplicates seen: {sum(f.duplicate_count for f in ingested)}), quarantined: {len(quarantined)}"
    )
    for q in quarantined[-10:]:
        console.print(f"  [yellow]quarantine[/yellow] {q.stage}: {q.problem} [dim]{q.source}[/dim]")
