"""Dead letters over the API and on the dashboard: each with its reason, only those of the caller's
projects."""

from __future__ import annotations

from conftest import World, auth
from labstream.core.events import Event
from labstream.stream import open_stream


def test_dead_letters_with_reasons_scoped_to_projects(client, world: World) -> None:
    stream = open_stream(world.settings.stream_url)
    stream.create_topic("gx.chunks.dlq")
    for project in ("alpha", "beta"):
        ev = Event(type="gx.chunk", key="S1", data={"sample": f"{project}-S1"}, project=project)
        headers = {
            "error": f"InputError: reads of {project} truncated",
            "error_type": "InputError",
            "stage": "gx_align",
            "source": "gx.chunks/0@7",
            "event_id": ev.id,
            "attempts": "1",
        }
        stream.publish("gx.chunks.dlq", ev.to_json(), key=ev.key, headers=headers)
    stream.flush()
    stream.close()
    got = client.get("/api/v1/dead-letters", headers=auth(world, "viewer_alpha"))
    assert got.status_code == 200, got.text
    items = [d for d in got.json() if d["dlq_topic"] == "gx.chunks.dlq"]
    assert [(d["project"], d["stage"], d["error"], d["replayed"]) for d in items] == [
        ("alpha", "gx_align", "InputError: reads of alpha truncated", False)
    ]
    assert (
        client.get("/api/v1/dead-letters?project=beta", headers=auth(world, "viewer_alpha")).status_code
        == 403
    )
    board = client.get("/api/v1/dashboard/status", headers=auth(world, "viewer_alpha")).json()["dead_letters"]
    mine = [d for d in board if d["source"] == "gx.chunks/0@7"]
    assert [(d["project"], d["error"], d["state"]) for d in mine] == [
        ("alpha", "InputError: reads of alpha truncated", "waiting")
    ]
