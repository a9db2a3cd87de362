"""The API's trust boundary (issue 11): request bodies, parameters and headers are bounded, and a run
never names a server path: inputs are data objects of the run's own project, named by id."""

from __future__ import annotations

import json
import socket

import pytest

from conftest import World, auth


def submit(client, world: World, params: dict, user: str = "scientist_alpha", project: str = "alpha"):
    body = {"project": project, "pipeline": "phenomics", "params": params}
    return client.post("/api/v1/runs", json=body, headers=auth(world, user))


def test_a_10_mb_parameter_object_is_refused_with_413(client, world: World) -> None:
    resp = submit(client, world, {"blob": "x" * (10 * 1024 * 1024)})
    assert resp.status_code == 413
    assert "over the limit" in resp.json()["detail"]


def test_parameters_over_their_own_limit_are_refused_with_413(client, world: World) -> None:
    resp = submit(client, world, {"notes": ["y" * 1000] * 100})  # ~100 KB: under the body limit
    assert resp.status_code == 413
    assert "parameters are" in resp.json()["detail"] and "over the limit" in resp.json()["detail"]


def test_chunked_bodies_are_counted_too(client, world: World) -> None:
    def chunks():
        yield b'{"project": "alpha", "pipeline": "filestats", "params": {"x": "'
        for _ in range(40):
            yield b"z" * 65536
        yield b'"}}'

    headers = {**auth(world, "scientist_alpha"), "content-type": "application/json"}
    resp = client.post("/api/v1/runs", content=chunks(), headers=headers)
    assert resp.status_code == 413


def test_oversized_headers_are_refused(client, world: World) -> None:
    headers = {**auth(world, "scientist_alpha"), "x-junk": "h" * 20_000}
    resp = client.get("/api/v1/runs?project=alpha", headers=headers)
    assert resp.status_code == 431 and "headers" in resp.json()["detail"]


def test_served_uvicorn_refuses_huge_headers(app) -> None:
    """`labstream serve`'s uvicorn options (cli/serve.py) bound the request head at the server."""
    import threading
    import time

    import uvicorn

    from labstream.cli.serve import uvicorn_limits

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    srv = uvicorn.Server(
        uvicorn.Config(
            app, host="127.0.0.1", port=port, log_level="critical", lifespan="off", **uvicorn_limits()
        )
    )
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    try:
        deadline = time.time() + 20
        while not srv.started:
            assert time.time() < deadline and thread.is_alive(), "uvicorn did not start"
            time.sleep(0.05)
        with socket.create_connection(("127.0.0.1", port), timeout=10) as conn:
            head = b"GET /api/v1/me HTTP/1.1\r\nHost: x\r\nX-Junk: " + b"h" * 200_000 + b"\r\n\r\n"
            try:
                conn.sendall(head)
            except OSError:
                pass  # the server may close before we finish sending: refused either way
            reply = conn.recv(4096)
        assert reply == b"" or reply.split(b" ")[1] in (b"400", b"413", b"431")
    finally:
        srv.should_exit = True
        thread.join(10)


@pytest.mark.parametrize(
    "value",
    [
        "/etc/passwd",
        "../beta/platemap.csv",
        "platemap.csv",
        "file:///srv/labstream/beta/platemap.csv",
        "s3://bucket/beta/platemap.csv",
        "~/platemap.csv",
        "C:\\data\\platemap.csv",
    ],
)
def test_pipeline_params_never_name_server_paths(client, world: World, value: str) -> None:
    resp = submit(client, world, {"pipeline_params": {"platemap": value}})
    assert resp.status_code == 422, resp.text
    detail = resp.json()["detail"]
    assert "pipeline_params.platemap" in detail and "looks like a server path or URI" in detail
    assert value not in detail  # the value is not echoed back
    assert "register the file as a data object" in detail


def test_pipeline_params_name_objects_of_the_own_project_by_id(client, world: World) -> None:
    other = world.objects["beta"]["report"]
    resp = submit(client, world, {"pipeline_params": {"platemap": other}})
    assert resp.status_code == 403 and "not in project 'alpha'" in resp.json()["detail"]
    own = world.objects["alpha"]["report"]
    resp = submit(client, world, {"pipeline_params": {"platemap": own}})
    assert resp.status_code == 201, resp.text
    resp = submit(client, world, {"pipeline_params": {"input_topic": "labstream.runs.someone-else"}})
    assert resp.status_code == 422


def test_wes_submissions_are_checked_the_same_way(client, world: World) -> None:
    form = {
        "workflow_url": "phenomics",
        "workflow_params": json.dumps({"pipeline_params": {"platemap": "/etc/passwd"}}),
        "tags": json.dumps({"project": "alpha"}),
    }
    resp = client.post("/ga4gh/wes/v1/runs", data=form, headers=auth(world, "scientist_alpha"))
    assert resp.status_code == 422 and "server path" in resp.json()["detail"]
