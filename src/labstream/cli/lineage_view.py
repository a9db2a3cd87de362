"""`labstream lineage`: resolve an identifier to tasks and print the walk back to the instrument file."""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import asdict
from typing import Any

from rich.console import Console
from rich.tree import Tree

from labstream.core.errors import InputError
from labstream.core.settings import Settings


def lineage_chain(settings: Settings, ident: str) -> list[Any]:
    """Tasks from the one that made `ident` back to the ingest of the instrument file (first = newest)."""
    from labstream.catalog import open_catalog

    cat = open_catalog(settings.catalog_url)
    cat.upgrade()
    if cat.get_lineage(ident) is not None:
        return cat.walk_lineage(ident)
    producers = cat.lineage_for_object(ident, direction="out")
    if not producers:  # a served (DRS) object's id or checksum, as an API client sees it
        from labstream.catalog.engine import make_engine
        from labstream.governance.objects import served_uris

        engine = make_engine(settings.catalog_url)  # governance's tables share the catalog's database
        try:
            uris = served_uris(engine, ident)
        finally:
            engine.dispose()
        for uri in uris:
            producers += cat.lineage_for_object(uri, direction="out")
    if producers:
        return cat.walk_lineage(producers[0].id)
    raise InputError(
        ident,
        "no lineage record, object URI, sha256 or DRS object id with that identifier",
        hint="pass a row's lineage_id column, an object URI, a content sha256 or a DRS object id",
    )


def _when(ts: float) -> str:
    return dt.datetime.fromtimestamp(ts, dt.UTC).strftime("%Y-%m-%d %H:%M:%S") if ts else "-"


def render_chain(chain: list[Any], *, as_json: bool, console: Console) -> None:
    if as_json:
        console.print_json(json.dumps([asdict(r) for r in chain], default=str))
        return
    tree = Tree("[bold]lineage[/bold]")
    node = tree
    for rec in chain:
        label = (
            f"[cyan]{rec.stage}[/cyan] v{rec.stage_version} [dim]{rec.id}[/dim] {rec.status} "
            f"{_when(rec.started_at)} wall {rec.wall_seconds:.3f}s cpu {rec.cpu_seconds:.3f}s "
            f"rss {rec.peak_rss_bytes / 1e6:.0f}MB host {rec.host} executor {rec.executor}"
        )
        node = node.add(label)
        for i in rec.inputs:
            node.add(f"in  {i.uri} [dim]{i.sha256[:12]}[/dim]")
        for o in rec.outputs:
            node.add(f"out {o.uri} [dim]{o.sha256[:12]}[/dim]")
        if rec.params:
            node.add(f"params {json.dumps(rec.params, default=str)[:200]}")
    console.print(tree)
