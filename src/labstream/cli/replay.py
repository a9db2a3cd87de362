"""`labstream replay`: list dead letters with their reasons, and re-run them after a fix.

The items stay in the log: nothing is re-ingested, and a second replay publishes nothing
(runtime/replay.py says why exactly-once holds). The watcher or pipeline that consumes the input topic
then runs them again.
"""

from __future__ import annotations

import json

import typer


def replay(
    topic: str | None = typer.Argument(None, help="a dead-letter topic (NAME.dlq); default: every one"),
    list_only: bool = typer.Option(False, "--list", help="only list the dead letters and their reasons"),
    as_json: bool = typer.Option(False, "--json", help="with --list: one JSON object per line"),
) -> None:
    """Re-publish dead-lettered items to their stage's input topic after a fix (or --list them)."""
    from labstream.core.errors import InputError
    from labstream.core.settings import Settings
    from labstream.runtime.replay import dead_letters, dlq_topics
    from labstream.runtime.replay import replay as do_replay
    from labstream.stream import open_stream

    stream = open_stream(Settings().stream_url)
    try:
        known = dlq_topics(stream)
        if topic is not None and topic not in known:
            raise InputError(
                topic, "no such dead-letter topic", hint=f"use one of: {', '.join(known) or '(none yet)'}"
            )
        topics = [topic] if topic else known
        if list_only:
            letters = list(dead_letters(stream, topics))
            if not letters and not as_json:
                typer.echo("no dead letters: no item has failed all its retries")
            for d in letters:
                if as_json:
                    typer.echo(json.dumps(d.to_dict()))
                else:
                    state = "replayed" if d.replayed else "waiting"
                    where = f"{d.dlq_topic}/{d.partition}@{d.offset}"
                    typer.echo(
                        f"{where} [{state}] {d.stage}: {_reason(d.error_type, d.error)} "
                        f"(event {d.event_id or '-'}, project {d.project or '-'})"
                    )
            return
        if not topics:
            typer.echo("no dead letters to replay")
        for t in topics:
            typer.echo(f"{t}: {do_replay(stream, t)} replayed to {t.removesuffix('.dlq')}")
    finally:
        stream.close()


def _reason(error_type: str, error: str) -> str:
    return error if error.startswith(error_type) else f"{error_type}: {error}"


def register(app: typer.Typer) -> None:
    app.command()(replay)
