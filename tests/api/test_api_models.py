"""Promotion over the API: its own role, the gate's refusal as 409 with the numbers, rollback, audit."""

from __future__ import annotations

from conftest import World, auth


def test_promotion_needs_the_steward_role_and_is_audited(client, with_models: World) -> None:
    world = with_models
    steward, admin = auth(world, "steward_alpha"), auth(world, "admin_alpha")
    url = "/api/v1/models/variant-caller"
    listed = client.get("/api/v1/models", headers=auth(world, "viewer_alpha")).json()
    assert [(m["version"], m["aliases"]) for m in listed] == [(1, ["champion"]), (2, [])]
    assert client.post(f"{url}/promote?project=alpha", json={"version": 2}, headers=admin).status_code == 403
    assert client.post(f"{url}/promote?project=beta", json={"version": 2}, headers=steward).status_code == 403
    assert (
        client.post(f"{url}/promote?project=alpha", json={"version": 9}, headers=steward).status_code == 404
    )
    ok = client.post(f"{url}/promote?project=alpha", json={"version": 2, "reason": "better"}, headers=steward)
    assert ok.status_code == 200, ok.text
    assert sorted(ok.json()["comparison"]["better"]) == ["heldout.indel_f1", "heldout.snp_f1"]
    again = client.post(f"{url}/promote?project=alpha", json={"version": 1}, headers=steward)
    assert again.status_code == 409 and "worse on" in again.json()["detail"]  # v1 is worse than v2
    back = client.post(f"{url}/rollback?project=alpha", json={"reason": "clinic"}, headers=steward)
    assert back.status_code == 200 and back.json()["challenger"] == 1
    assert [m["aliases"] for m in client.get("/api/v1/models", headers=steward).json()] == [["champion"], []]
    records = {
        a: world.gov.audit.query(action=a)
        for a in ("models.promoted", "models.refused", "models.rolled-back")
    }
    assert [r.actor for r in records["models.promoted"]][-1] == "steward_alpha"
    assert records["models.refused"][-1].detail["comparison"]["worse"]
    assert records["models.rolled-back"][-1].project == "alpha"
