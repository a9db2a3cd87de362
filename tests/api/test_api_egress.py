"""Egress: the bytes a download served are in its audit record, and ops prices them per project."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from conftest import World, auth
from labstream.ops.egress import egress_costs
from labstream.ops.pricebook import load_price_book


def test_served_bytes_are_audited_and_priced(client, world: World) -> None:  # type: ignore[no-untyped-def]
    before = world.gov.audit.last_seq()
    obj = world.objects["alpha"]["bam"]
    url = client.get(f"/ga4gh/drs/v1/objects/{obj}/access/https", headers=auth(world, "viewer_alpha")).json()[
        "url"
    ]
    whole = client.get(url)
    part = client.get(url, headers={"Range": "bytes=0-99"})
    assert whole.status_code == 200 and part.status_code == 206
    served = [r for r in world.gov.audit.query(since_seq=before, action="data.get")]
    assert [r.detail["bytes"] for r in served] == [len(whole.content), 100]
    book = load_price_book("labstream-2026-12")
    got = egress_costs(served, book, region="eu-west-1")
    assert got["alpha"]["bytes"] == len(whole.content) + 100
    assert got["alpha"]["egress_usd"] == pytest.approx((len(whole.content) + 100) / 2**30 * 0.09)
    # a list route noted for two projects splits its bytes; denied responses cost nothing
    fake = [
        SimpleNamespace(detail={"bytes": 200}, outcome="allowed", project="a,b", ts=1.0),
        SimpleNamespace(detail={"bytes": 999}, outcome="denied", project="a", ts=1.0),
    ]
    assert {p: v["bytes"] for p, v in egress_costs(fake, book, region="local").items()} == {
        "a": 100.0,
        "b": 100.0,
    }
