"""Lifecycle rules on hand-made objects: filters, ages, minimum durations and early-deletion fees,
holds, the restore header, storage billed per tier, and a one-year replay against a hand calculation."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from labstream.core.errors import ConfigError
from labstream.objects.tiers import StoredObject, parse_restore
from labstream.ops.lifecycle import DAY, load_policy, plan, replay
from labstream.ops.pricebook import load_price_book
from labstream.ops.storage import MONTH_S, storage_costs, tier_seconds

BOOK = load_price_book("labstream-2026-12")  # GB-month: hot 0.023, cool 0.0125, archive 0.00099
HOT, COOL, ARCHIVE = 0.023, 0.0125, 0.00099
GB = 2**30
ROOT = "s3://lab/objects"
POLICY = load_policy(
    {
        "rule": [
            {"name": "held-out", "prefix": "raw/tiny/", "max_size": 1024},  # no transitions: stays
            {
                "name": "fastq",
                "prefix": "raw/",
                "tags": {"kind": "fastq"},
                "transitions": [{"days": 30, "tier": "cool"}, {"days": 90, "tier": "archive"}],
                "expire_days": 400,
            },
            {
                "name": "big derived",
                "prefix": "derived/",
                "min_size": GB,
                "transitions": [{"days": 10, "tier": "cool"}],
            },
        ],
        "holds": {"S9": "legal hold"},
    }
)


def obj(
    rel: str, size: int, *, age: float, tier: str = "hot", in_tier: float | None = None, **tags: str
) -> StoredObject:
    now = 1000 * DAY
    return StoredObject(
        uri=f"{ROOT}/{rel}",
        size=size,
        tier=tier,
        tier_since=now - (age if in_tier is None else in_tier) * DAY,
        created=now - age * DAY,
        tags=tags,
    )


def moves_of(objects: list[StoredObject], holds: dict[str, str] | None = None) -> dict[str, object]:
    got = plan(objects, POLICY, BOOK, region="local", root=ROOT, now=1000 * DAY, holds=holds)
    return {m.uri.rsplit("/", 1)[-1]: m for m in got}


def test_filters_age_and_the_first_matching_rule_decide() -> None:
    got = moves_of(
        [
            obj("raw/a", GB, age=45, kind="fastq"),  # -> cool
            obj("raw/b", GB, age=120, kind="fastq"),  # -> archive (skips cool)
            obj("raw/c", GB, age=120, kind="bam"),  # tag does not match: no rule
            obj("raw/d", GB, age=10, kind="fastq"),  # too young
            obj("raw/tiny/e", 10, age=500, kind="fastq"),  # first rule matches and moves nothing
            obj("raw/f", GB, age=401, tier="archive", in_tier=311, kind="fastq"),  # expires
            obj("derived/g", GB, age=11),  # big enough -> cool
            obj("derived/h", GB - 1, age=11),  # too small
            obj("raw/i", GB, age=45, tier="archive", in_tier=1, kind="fastq"),  # never warmed
        ]
    )
    assert {k: (m.action, m.to_tier) for k, m in got.items()} == {  # type: ignore[attr-defined]
        "a": ("transition", "cool"),
        "b": ("transition", "archive"),
        "f": ("expire", "expired"),
        "g": ("transition", "cool"),
    }
    a, b = got["a"], got["b"]
    assert a.monthly_saving_usd == pytest.approx(HOT - COOL) and a.early_fee_usd == 0.0  # type: ignore[attr-defined]
    assert b.monthly_saving_usd == pytest.approx(HOT - ARCHIVE)  # type: ignore[attr-defined]
    assert got["f"].monthly_saving_usd == pytest.approx(ARCHIVE)  # type: ignore[attr-defined]


def test_leaving_a_tier_before_its_minimum_duration_pays_the_rest() -> None:
    # 2 GiB in cool for 12 of its 30 days, moving to archive: 18 days of cool are charged
    got = moves_of([obj("raw/a", 2 * GB, age=95, tier="cool", in_tier=12, kind="fastq")])
    assert got["a"].early_fee_usd == pytest.approx(2 * COOL * 18 / 30)  # type: ignore[attr-defined]
    # archive's minimum is 90 days: expiring after 60 in archive charges 30 more days
    got = moves_of([obj("raw/b", GB, age=405, tier="archive", in_tier=60, kind="fastq")])
    assert got["b"].early_fee_usd == pytest.approx(ARCHIVE * 30 / 30)  # type: ignore[attr-defined]


def test_held_objects_are_planned_as_held_with_their_reason() -> None:
    a = obj("raw/a", GB, age=120, kind="fastq")
    got = moves_of([a], holds={a.uri: "S2: open case"})
    assert got["a"].action == "held" and got["a"].reason == "S2: open case"  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    "bad",
    [
        {"rule": []},
        {"rule": [{"transitions": [{"days": 5, "tier": "tape"}]}]},
        {"rule": [{"transitions": [{"days": 5, "tier": "archive"}, {"days": 50, "tier": "cool"}]}]},
        {"rule": [{"transitions": [{"tier": "cool"}]}]},
    ],
)
def test_bad_policies_are_config_errors(bad: dict[str, object]) -> None:
    with pytest.raises(ConfigError, match="policy"):
        load_policy(bad)


def test_policy_file_errors_name_the_file(tmp_path: Path) -> None:
    bad = tmp_path / "p.toml"
    bad.write_text("[[rule]\n")
    with pytest.raises(ConfigError, match="p.toml"):
        load_policy(bad)
    with pytest.raises(ConfigError, match="no lifecycle policy"):
        load_policy(tmp_path / "missing.toml")


def test_restore_header() -> None:
    assert not parse_restore(None).ongoing and parse_restore(None).readable_until is None
    assert parse_restore('ongoing-request="true"').ongoing
    done = parse_restore('ongoing-request="false", expiry-date="Fri, 23 Dec 2026 00:00:00 GMT"')
    dec23 = datetime(2026, 12, 23, tzinfo=UTC).timestamp()
    assert done.readable and done.readable_until == dec23


def test_storage_is_billed_in_the_tier_the_object_was_in() -> None:
    from labstream.catalog.records import IngestedFile

    files = [
        IngestedFile("a" * 64, "/x/1", 3 * GB, object_uri="s3://b/a", project="p", status="published"),
        IngestedFile("b" * 64, "/x/2", GB, object_uri="s3://b/b", project="p", status="published"),
    ]
    history = {
        "s3://b/a": [(30 * 86400.0, "cool", 0.0), (90 * 86400.0, "archive", 0.5)],
        "s3://b/b": [(45 * 86400.0, "expired", 0.0)],
    }
    outputs = [("s3://b/derived/bam", "p", "S1", 2 * GB, 60 * 86400.0)]
    keys = {"s3://b/a": "S1", "s3://b/b": "S2"}
    got = storage_costs(
        files, keys, BOOK, region="local", now=120 * 86400.0, history=history, outputs=outputs
    )
    s1, s2 = got[("p", "S1")], got[("p", "S2")]
    # S1: 3 GiB hot 1 month, cool 2 months, archive 1 month; its 2 GiB BAM hot 2 months
    assert s1["storage_hot_usd"] == pytest.approx(3 * HOT + 2 * 2 * HOT)
    assert s1["storage_cool_usd"] == pytest.approx(3 * 2 * COOL)
    assert s1["storage_archive_usd"] == pytest.approx(3 * ARCHIVE)
    assert s1["storage_usd"] == pytest.approx(3 * HOT + 4 * HOT + 6 * COOL + 3 * ARCHIVE)
    assert s1["fees_usd"] == 0.5 and s1["bytes"] == 5 * GB and s1["objects"] == 2
    assert s2["storage_usd"] == pytest.approx(1.5 * HOT)  # expired after 45 days
    assert tier_seconds(0.0, MONTH_S, []) == {"hot": MONTH_S}


def test_one_year_replay_against_a_hand_calculation() -> None:
    """100 genomes (100 GiB) and 20 plates (50 GiB) a week for a year under raw/: hot 30 days, cool
    to day 90, then archive. The hand calculation: each week's cohort of 11,000 GiB, written on day
    7w, is billed hot for min(30, age) days, cool for the part of its age between 30 and 90, archive
    after 90; a GB-month is 30 days."""
    policy = load_policy(
        {
            "rule": [
                {
                    "prefix": "raw/",
                    "transitions": [{"days": 30, "tier": "cool"}, {"days": 90, "tier": "archive"}],
                }
            ]
        }
    )
    arrivals = [
        (float(d), size * GB, f"raw/{kind}")
        for d in range(0, 365, 7)
        for kind, n, size in (("genome", 100, 100), ("plate", 20, 50))
        for _ in range(n)
    ]
    bill = replay(arrivals, policy, BOOK, region="local", days=365)
    cohort = 100 * 100 + 20 * 50  # GiB a week
    policy_usd = all_hot = 0.0
    for w in range(53):  # days 0, 7, ..., 364
        age = 365 - 7 * w
        hot_d, cool_d, arch_d = min(age, 30), min(max(age - 30, 0), 60), max(age - 90, 0)
        policy_usd += cohort * (hot_d * HOT + cool_d * COOL + arch_d * ARCHIVE) / 30
        all_hot += cohort * age * HOT / 30
    assert bill["all_hot_usd"] == pytest.approx(all_hot, rel=1e-12)
    assert bill["policy_usd"] == pytest.approx(policy_usd, rel=1e-12)
    assert bill["early_fee_usd"] == 0.0  # 60 days in cool: its 30-day minimum is met
    assert bill["saved_usd"] > 0.6 * all_hot  # most of a year's bytes spend most of it cold
