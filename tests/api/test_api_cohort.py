"""Cohort routes and the Beacon v2 g_variants endpoint: answers cover the caller's projects only, with
AC/AN/AF equal to the simulation's truth over exactly those samples."""

from __future__ import annotations

import numpy as np
import pytest

from conftest import World, auth


def truth(c, columns: list[int]) -> dict[int, tuple[int, int]]:  # type: ignore[no-untyped-def]
    """0-based position -> (AC, AN) over the given samples."""
    called = np.stack([c.covered(j) for j in columns], axis=1) & ~c.nocall[:, columns]
    ac = (c.genotypes[:, columns] * called).sum(axis=1)
    an = 2 * called.sum(axis=1)
    return {int(p): (int(a), int(n)) for p, a, n in zip(c.positions, ac, an, strict=True)}


@pytest.fixture(scope="module")
def cohort(with_cohort):  # type: ignore[no-untyped-def]
    return with_cohort


def all_items(client, url: str, headers: dict) -> list[dict]:  # type: ignore[no-untyped-def]
    items, offset = [], 0
    while offset is not None:
        r = client.get(f"{url}&offset={offset}&limit=1000", headers=headers)
        assert r.status_code == 200, r.text
        items += r.json()["items"]
        offset = r.json()["next_offset"]
    return items


def test_stats_cover_the_callers_project_only(client, world: World, cohort) -> None:  # type: ignore[no-untyped-def]
    alpha = auth(world, "viewer_alpha")
    got = {
        r["start"]: (r["ac"], r["an"]) for r in all_items(client, "/api/v1/cohort/stats?project=alpha", alpha)
    }
    want = truth(cohort, [0, 1, 2, 3])
    assert got and all(want[p] == v for p, v in got.items())
    # every site where an alpha sample carries the allele is there; beta-only sites are not
    assert {p for p, (ac, _) in want.items() if ac > 0} <= set(got)
    beta_only = {p for p, (ac, _) in truth(cohort, [4, 5, 6, 7]).items() if ac > 0} - set(got)
    assert beta_only, "the simulation should have sites only beta carries"
    # without ?project= the caller's projects are used: the same answer for an alpha-only user
    same = {
        r["start"]: (r["ac"], r["an"]) for r in all_items(client, "/api/v1/cohort/stats?region=chr1", alpha)
    }
    assert same == got
    assert client.get("/api/v1/cohort/stats?project=beta", headers=alpha).status_code == 403
    # a beta sample named in a sub-cohort is 'not in the cohort' for an alpha caller
    r = client.get(f"/api/v1/cohort/stats?project=alpha&samples={cohort.names[5]}", headers=alpha)
    assert r.status_code == 400 and "not in the cohort" in r.text
    one = all_items(client, f"/api/v1/cohort/stats?project=alpha&samples={cohort.names[1]}", alpha)
    assert {r["start"]: (r["ac"], r["an"]) for r in one} == {
        p: v for p, v in truth(cohort, [1]).items() if p in {r["start"] for r in one}
    }


def test_carriers_are_the_projects_samples(client, world: World, cohort) -> None:  # type: ignore[no-untyped-def]
    both = [
        i
        for i in range(len(cohort.positions))
        if cohort.genotypes[i, :4].any() and cohort.genotypes[i, 4:].any()
    ]
    assert both
    i = both[0]
    pos = int(cohort.positions[i]) + 1
    r = client.get(f"/api/v1/cohort/carriers?contig=chr1&pos={pos}", headers=auth(world, "viewer_alpha"))
    assert r.status_code == 200
    names = {c["sample"] for c in r.json()}
    cov = [cohort.covered(j)[i] and not cohort.nocall[i, j] for j in range(8)]
    assert names == {cohort.names[j] for j in range(4) if cohort.genotypes[i, j] > 0 and cov[j]}
    assert not names & set(cohort.names[4:])


def test_beacon_g_variants_get_and_post(client, world: World, cohort) -> None:  # type: ignore[no-untyped-def]
    alpha = auth(world, "viewer_alpha")
    want = truth(cohort, [0, 1, 2, 3])
    site = next(i for i in range(len(cohort.positions)) if want[int(cohort.positions[i])][0] > 0)
    p0, ref, alt = int(cohort.positions[site]), str(cohort.ref[site]), str(cohort.alt[site])
    q = f"referenceName=chr1&start={p0}&referenceBases={ref}&alternateBases={alt}"
    r = client.get(f"/beacon/v2/g_variants?{q}", headers=alpha)
    assert r.status_code == 200, r.text
    body = r.json()
    for key in ("meta", "responseSummary", "response"):
        assert key in body
    for key in ("beaconId", "apiVersion", "returnedSchemas", "returnedGranularity", "receivedRequestSummary"):
        assert key in body["meta"]
    assert body["responseSummary"] == {"exists": True, "numTotalResults": 1}
    rs = body["response"]["resultSets"][0]
    assert rs["setType"] == "dataset" and rs["exists"] and rs["resultsCount"] == 1
    v = rs["results"][0]
    assert v["variation"]["referenceBases"] == ref and v["variation"]["alternateBases"] == alt
    assert v["variation"]["location"]["interval"]["start"]["value"] == p0
    f = v["frequencyInPopulations"][0]["frequencies"][0]
    ac, an = want[p0]
    assert (f["alleleCount"], f["alleleNumber"]) == (ac, an) and f["alleleFrequency"] == pytest.approx(
        ac / an
    )
    post = client.post(
        "/beacon/v2/g_variants",
        json={
            "meta": {"apiVersion": "2.0"},
            "query": {
                "requestParameters": {"referenceName": "chr1", "start": [0], "end": [60_000]},
                "requestedGranularity": "count",
            },
        },
        headers=alpha,
    )
    assert post.status_code == 200, post.text
    n_alpha = sum(1 for ac, _ in want.values() if ac > 0)
    assert post.json()["responseSummary"]["numTotalResults"] == n_alpha
    assert post.json()["response"]["resultSets"][0]["results"] == []
    # a variant only beta carries does not exist for an alpha caller
    beta = truth(cohort, [4, 5, 6, 7])
    only = next(p for p, (ac, _) in beta.items() if ac > 0 and want[p][0] == 0)
    r = client.get(
        f"/beacon/v2/g_variants?referenceName=chr1&start={only}&requestedGranularity=boolean", headers=alpha
    )
    assert r.status_code == 200 and r.json()["responseSummary"]["exists"] is False
    r = client.get(
        f"/beacon/v2/g_variants?referenceName=chr1&start={only}", headers=auth(world, "viewer_beta")
    )
    assert r.json()["responseSummary"]["exists"] is True
    assert client.get(f"/beacon/v2/g_variants?referenceName=chr1&start={only}").status_code == 401
    assert client.get("/beacon/v2/info").json()["response"]["apiVersion"].startswith("v2")
