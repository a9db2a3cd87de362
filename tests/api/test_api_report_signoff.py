"""Sign-off of clinical reports: only a reviewer signs, a signed report never changes, a correction is a
new version with its reason, every step audited and in the lineage; the API and the CLI agree."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from conftest import World, auth
from labstream.catalog import open_catalog
from labstream.genomics.report import read_model
from labstream.governance.objects import get_object


def _html(world: World, object_id: str) -> str:
    obj = get_object(world.gov, object_id)
    assert obj is not None
    return world.gov.store(obj.project).get_bytes(obj.uri).decode()


def test_sign_amend_resign_keeps_every_version(client, world: World) -> None:
    h = auth(world, "reviewer_alpha")
    draft = world.objects["alpha"]["report_draft"]
    # only the reviewer role signs; other projects' reports do not exist for the caller
    assert client.post(f"/api/v1/reports/{draft}/sign", headers=auth(world, "admin_alpha")).status_code == 403
    beta = world.objects["beta"]["report_draft"]
    assert client.post(f"/api/v1/reports/{beta}/sign", headers=h).status_code == 404
    r = client.post(f"/api/v1/reports/{draft}/sign", headers=h)
    assert r.status_code == 200, r.text
    v1 = r.json()
    assert (v1["state"], v1["version"], v1["signed_by"], v1["parent_id"]) == (
        "signed",
        1,
        "reviewer_alpha",
        draft,
    )
    signed_html = _html(world, v1["object_id"])
    model = read_model(signed_html)
    assert model["signoff"]["by"] == "reviewer_alpha" and "FINAL — signed by reviewer_alpha" in signed_html
    assert "cost" not in model  # priced at signing, but no task of alpha-S0 ran on this platform
    assert model["signoff"]["content_sha256"] == get_object(world.gov, draft).sha256  # type: ignore[union-attr]
    # immutable: neither the draft nor the signed version can be signed again
    again = client.post(f"/api/v1/reports/{draft}/sign", headers=h)
    assert again.status_code == 409 and v1["object_id"] in again.json()["detail"]
    assert client.post(f"/api/v1/reports/{v1['object_id']}/sign", headers=h).status_code == 409
    # a draft is not amended; a reason is required
    assert (
        client.post(f"/api/v1/reports/{draft}/amend", headers=h, json={"reason": "typo fix"}).status_code
        == 409
    )
    assert (
        client.post(f"/api/v1/reports/{v1['object_id']}/amend", headers=h, json={"reason": ""}).status_code
        == 422
    )
    r = client.post(
        f"/api/v1/reports/{v1['object_id']}/amend",
        headers=h,
        json={"reason": "orf2 c.85G>C reclassified after family studies", "summary": "Corrected summary."},
    )
    assert r.status_code == 200, r.text
    v2 = r.json()
    assert (v2["state"], v2["version"], v2["parent_id"]) == ("draft", 2, v1["object_id"])
    amended = read_model(_html(world, v2["object_id"]))
    assert amended["amendment"] == {
        "supersedes": v1["object_id"],
        "reason": "orf2 c.85G>C reclassified after family studies",
    }
    assert amended["summary"] == "Corrected summary." and amended["signoff"] is None
    v2s = client.post(f"/api/v1/reports/{v2['object_id']}/sign", headers=h).json()
    assert (v2s["state"], v2s["version"]) == ("signed", 2)
    assert _html(world, v1["object_id"]) == signed_html  # the first signed version is untouched
    chain = client.get(f"/api/v1/reports/{draft}/versions", headers=auth(world, "viewer_alpha")).json()
    assert [(c["version"], c["state"]) for c in chain] == [
        (1, "draft"),
        (1, "signed"),
        (2, "draft"),
        (2, "signed"),
    ]
    assert [c["superseded_by"] for c in chain] == [v1["object_id"], v2["object_id"], v2s["object_id"], ""]
    # audited, with the reason
    acts = [
        (a.action, a.outcome)
        for a in world.gov.audit.query(actor="reviewer_alpha")
        if a.action.startswith("report.")
    ]
    assert acts.count(("report.sign", "allowed")) == 2 and ("report.amend", "allowed") in acts
    reasons = [a.detail.get("reason") for a in world.gov.audit.query(action="report.amend")]
    assert "orf2 c.85G>C reclassified after family studies" in reasons
    # lineage: the last signed version walks back through the amendment and the first signature
    cat = open_catalog(world.settings.catalog_url)
    try:
        last = get_object(world.gov, v2s["object_id"])
        producer = cat.lineage_for_object(last.sha256, direction="out")[0]  # type: ignore[union-attr]
        stages = [r.stage for r in cat.walk_lineage(producer.id)]
    finally:
        cat.close()
    assert stages[:3] == ["report.sign", "report.amend", "report.sign"]


def test_cli_sign_needs_a_reviewer_token(world: World, monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:  # type: ignore[no-untyped-def]
    from labstream.cli.main import app

    monkeypatch.setenv("LABSTREAM_HOME", str(world.home))
    monkeypatch.delenv("LABSTREAM_TOKEN", raising=False)
    draft = world.objects["beta"]["report_draft"]
    runner = CliRunner()
    res = runner.invoke(app, ["genomics", "sign", draft])
    assert res.exit_code == 2 and "LABSTREAM_TOKEN" in res.output
    monkeypatch.setenv("LABSTREAM_TOKEN", world.tokens["scientist_beta"])
    res = runner.invoke(app, ["genomics", "sign", draft])
    assert res.exit_code == 2 and "reviewer role" in res.output
    token = tmp_path / "token"
    token.write_text(world.tokens["reviewer_beta"])
    res = runner.invoke(app, ["genomics", "sign", draft, "--token-file", str(token)])
    assert res.exit_code == 0, res.output
    signed = res.output.split("signed: ")[1].split()[0]
    assert read_model(_html(world, signed))["signoff"]["by"] == "reviewer_beta"
    res = runner.invoke(app, ["genomics", "sign", draft, "--token-file", str(token)])
    assert res.exit_code == 2 and "already signed" in res.output
    res = runner.invoke(
        app, ["genomics", "amend", signed, "--reason", "wrong specimen id", "--token-file", str(token)]
    )
    assert res.exit_code == 0 and "amended draft" in res.output
    res = runner.invoke(app, ["genomics", "versions", draft, "--token-file", str(token)])
    assert res.exit_code == 0 and res.output.count("\n") == 3
