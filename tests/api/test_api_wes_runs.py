"""Submitted runs really run: WES calls to a real uvicorn server with the RunExecutor in a background
thread (as `labstream serve` starts it). States move QUEUED -> RUNNING -> COMPLETE, outputs are listed,
the lineage route walks a run's output back to the instrument file, bad inputs end in EXECUTOR_ERROR,
and a canceled run is never executed."""

from __future__ import annotations

import json
import socket
import threading
import time
from pathlib import Path

import httpx
import pytest

from labstream.core.settings import Settings
from labstream.governance.auth import Principal
from labstream.governance.run_executor import RunExecutor
from labstream.governance.runs import Runs, inbox
from labstream.governance.service import Governance

CANARY = "CANARY-PATIENT-wes-0b7"
pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory):
    import uvicorn

    from labstream.api.app import create_app

    home = tmp_path_factory.mktemp("wes") / "home"
    gov = Governance.open(Settings(home=home))
    d = gov.directory
    d.add_project("lab")
    d.add_project("other")
    tokens = {}
    for user, project, role in (
        ("sci", "lab", "scientist"),
        ("view", "lab", "viewer"),
        ("out", "other", "admin"),
    ):
        d.add_user(user)
        d.grant(user, project, role)
        tokens[user] = {"Authorization": f"Bearer {d.create_token(user)[1]}"}
    box = inbox(gov.settings)
    box.mkdir(parents=True)
    for name, n in (("a.txt", 3), ("b.txt", 8)):
        (box / name).write_text("".join(f"{name} {i}\n" for i in range(n)))
    (box / "a.txt.meta.json").write_text(json.dumps({"patient_id": CANARY, "sample_id": "S-a"}))
    executor = RunExecutor(gov, executor_url="local?cpu=1", poll_timeout=0.1)
    executor.start()
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    srv = uvicorn.Server(
        uvicorn.Config(create_app(gov.settings, gov=gov), host="127.0.0.1", port=port, log_level="warning")
    )
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    deadline = time.time() + 20
    while not srv.started:
        assert time.time() < deadline and thread.is_alive(), "uvicorn did not start"
        time.sleep(0.05)
    with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30) as client:
        yield client, tokens, gov
    srv.should_exit = True
    thread.join(10)
    executor.stop()
    gov.close()


def _submit(
    client: httpx.Client, headers: dict[str, str], params: dict, project: str = "lab"
) -> httpx.Response:
    return client.post(
        "/ga4gh/wes/v1/runs",
        headers=headers,
        data={
            "workflow_url": "filestats",
            "workflow_params": json.dumps(params),
            "tags": json.dumps({"project": project}),
        },
    )


def _wait(client: httpx.Client, headers: dict[str, str], run_id: str, timeout: float = 30.0) -> list[str]:
    seen: list[str] = []
    deadline = time.time() + timeout
    while time.time() < deadline:
        state = client.get(f"/ga4gh/wes/v1/runs/{run_id}/status", headers=headers).json()["state"]
        if not seen or seen[-1] != state:
            seen.append(state)
        if state in ("COMPLETE", "EXECUTOR_ERROR", "SYSTEM_ERROR", "CANCELED"):
            return seen
        time.sleep(0.05)
    raise AssertionError(f"run {run_id} still {seen} after {timeout}s")


def test_wes_run_completes_with_outputs_and_lineage(service) -> None:
    client, tokens, gov = service
    sci = tokens["sci"]
    r = _submit(client, sci, {"inputs": ["a.txt", "b.txt"]})
    assert r.status_code == 200, r.text
    run_id = r.json()["run_id"]
    states = _wait(client, sci, run_id)
    assert states[-1] == "COMPLETE" and set(states) <= {"QUEUED", "RUNNING", "COMPLETE"}
    log = client.get(f"/ga4gh/wes/v1/runs/{run_id}", headers=tokens["view"]).json()
    out = log["outputs"]
    assert out["tables"] == {"files": 2, "file_keys": 2}
    assert [i["status"] for i in out["inputs"]] == ["published", "published"]
    assert len(out["lineage_ids"]) == 4 and out["problems"] == []
    assert {t["name"] for t in log["task_logs"]} == {"file_stats", "key_summary"}
    assert log["run_log"]["exit_code"] == 0 and log["run_log"]["end_time"]
    # the lineage route walks an output back to the instrument file
    rows = client.post("/api/v1/sql", headers=sci, json={"sql": "select lineage_id from file_keys"}).json()[
        "rows"
    ]
    assert len(rows) == 2
    walk = client.get(f"/api/v1/lineage/{rows[0][0]}", headers=tokens["view"]).json()
    assert [rec["stage"] for rec in walk["records"]] == ["key_summary", "file_stats", "ingest"]
    assert walk["records"][-1]["inputs"][0]["uri"].startswith("file://") and walk["hidden"] == 0
    assert client.get(f"/api/v1/lineage/{rows[0][0]}", headers=tokens["out"]).status_code == 404
    # the files table saw the plaintext (sizes), the stream and lake saw only the pseudonym
    sizes = client.post(
        "/api/v1/sql", headers=sci, json={"sql": "select size from files order by size"}
    ).json()
    box = inbox(gov.settings)
    assert [s[0] for s in sizes["rows"]] == sorted((box / n).stat().st_size for n in ("a.txt", "b.txt"))
    hits = [
        f
        for f in gov.settings.home.rglob("*")
        if f.is_file() and box not in f.parents and CANARY.encode() in f.read_bytes()
    ]
    assert hits == []


def test_bad_inputs_are_refused_or_fail_the_run(service) -> None:
    client, tokens, _ = service
    sci = tokens["sci"]
    for bad in (["../../etc/passwd"], ["/etc/passwd"], "a.txt", [1]):
        r = _submit(client, sci, {"inputs": bad})
        assert r.status_code == 400, (bad, r.text)
    assert _submit(client, tokens["view"], {"inputs": ["a.txt"]}).status_code == 403
    r = _submit(client, sci, {"inputs": ["missing.txt"]})
    run_id = r.json()["run_id"]
    assert _wait(client, sci, run_id)[-1] == "EXECUTOR_ERROR"
    log = client.get(f"/api/v1/runs/{run_id}", headers=sci).json()
    assert "missing.txt" in log["error"] and "no such input" in log["error"]


def test_canceled_runs_are_not_executed(service) -> None:
    _, _, gov = service
    who = Principal("sci", roles={"lab": frozenset({"operator"})})
    announced = []
    runs = Runs(gov, announced.append)  # recorded and announced, but not on the stream the executor reads
    row = runs.submit(who, "lab", "filestats", {"inputs": ["b.txt"]})
    runs.cancel(who, row.id)
    executor = RunExecutor(gov, executor_url="local?cpu=1")
    try:
        assert executor.handle(announced[0]) == "CANCELED"
    finally:
        executor.stop()
    after = runs.get(row.id)
    assert after.state == "CANCELED" and after.started_at is None and after.outputs is None


def test_cancel_while_running_stops_the_run(service, tmp_path: Path) -> None:
    _, _, gov = service
    who = Principal("sci", roles={"lab": frozenset({"operator"})})
    announced = []
    runs = Runs(gov, announced.append)
    row = runs.submit(who, "lab", "filestats", {"inputs": ["a.txt", "b.txt"]})
    executor = RunExecutor(gov, executor_url="local?cpu=1")
    original = executor.state

    def state_then_cancel(run_id: str) -> str:  # the cancel arrives while the pipeline runs
        if original(run_id) == "RUNNING":
            runs.cancel(who, run_id)
        return original(run_id)

    executor.state = state_then_cancel  # type: ignore[method-assign]
    try:
        assert executor.handle(announced[0]) == "CANCELED"
    finally:
        executor.stop()
    after = runs.get(row.id)
    assert after.state == "CANCELED" and after.started_at is not None and after.outputs is None
